"""AI behaviour: a recommendation layer, monitored separately from the workflow."""

from __future__ import annotations

from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import METRIC_SCHEMA, distribution_metrics, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value"]
_EVIDENCE = ["kind", "field", "confidence", "routing", "review_decision", "model", "prompt_version"]
CONFIDENCE_BUCKETS = [0.5, 0.6, 0.7, 0.8, 0.9]


def _comparable(value: pl.Expr) -> pl.Expr:
    """Values as compared for conflicts: numbers numerically, text trimmed and lower-cased
    (a list column as its ";"-joined text, as the contract writes it)."""
    text = value.cast(pl.String).str.strip_chars().str.to_lowercase()
    number = text.cast(pl.Float64, strict=False)
    return pl.when(number.is_not_null()).then(number.cast(pl.String)).otherwise(text)


class AiRun(AreaRun):
    @cached_property
    def suggestions(self) -> pl.DataFrame:
        """Suggestions with their onboarding's context and the confidence threshold of their kind."""
        rule = self.rule("ai.low_confidence_routed")
        ctx = onboarding_context(self.snapshot, self.ruleset)
        return (
            self.snapshot["ai_suggestions"]
            .join(ctx.select(_CONTEXT), on="onboarding_id", how="left")
            .with_columns(pl.col("strategic").fill_null(False), pl.col("high_value").fill_null(False))
            .with_columns(
                pl.col("kind")
                .replace_strict(
                    rule.param("threshold_by_kind"), default=rule.param("default_threshold"), return_dtype=pl.Float64
                )
                .alias("confidence_threshold")
            )
            .with_columns((pl.col("confidence") < pl.col("confidence_threshold")).alias("below_threshold"))
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        suggestions = self.suggestions
        reviewed = suggestions.filter(pl.col("review_decision") != "pending").with_columns(
            pl.concat_str("model", pl.lit("@"), "prompt_version").alias("model_prompt"),
            pl.col("confidence").cut(CONFIDENCE_BUCKETS, left_closed=True).cast(pl.String).alias("confidence_bucket"),
        )
        parts = []
        for decision in ("accepted", "corrected", "rejected"):
            rate = (pl.col("review_decision") == decision).mean()
            parts += [
                metrics_by(reviewed.with_columns(pl.lit("all").alias("all")), f"{decision}_rate", "all", rate),
                metrics_by(reviewed, f"{decision}_rate", "kind", rate),
                metrics_by(reviewed, f"{decision}_rate", "model_prompt", rate),
            ]
        bucketed = suggestions.with_columns(
            pl.col("confidence").cut(CONFIDENCE_BUCKETS, left_closed=True).cast(pl.String).alias("confidence_bucket")
        )
        below = suggestions.filter(pl.col("below_threshold"))
        pending = suggestions.filter((pl.col("routing") == "human_review") & (pl.col("review_decision") == "pending"))
        parts += [
            metrics_by(bucketed, "confidence_distribution", "confidence_bucket", pl.len()),
            metrics_by(
                reviewed,
                "calibration_corrected_or_rejected",
                "confidence_bucket",
                pl.col("review_decision").is_in(["corrected", "rejected"]).mean(),
            ),
            metrics_by(
                below.with_columns(pl.lit("all").alias("all")),
                "low_confidence_escalation_rate",
                "all",
                pl.col("routing").is_in(["human_review", "blocked"]).mean(),
            ),
            distribution_metrics(
                pending.with_columns(self.cal.business_days_elapsed(pl.col("created_at"), self.as_of).alias("age_bd")),
                "queue.ai_review",
                "age_bd",
                item="suggestion_id",
            ),
        ]
        return pl.concat([p.cast(METRIC_SCHEMA) for p in parts])

    def trace(self) -> pl.DataFrame:
        return pl.concat(
            [
                trace_from(
                    self.suggestions,
                    event_type="ai_suggested",
                    event_at="created_at",
                    ref_id="suggestion_id",
                    attributes=["kind", "field", "model", "prompt_version", "confidence", "evidence_count", "routing"],
                ),
                trace_from(
                    self.suggestions,
                    event_type="human_decided",
                    event_at="reviewed_at",
                    ref_id="suggestion_id",
                    attributes=["reviewer", "review_decision", "rejection_reason", "approved_by"],
                ),
            ]
        )


area = Area("ai", AiRun)


@area.rule("ai.low_confidence_routed", params=("default_threshold", "threshold_by_kind"), clock=False)
def low_confidence_routed(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.suggestions.filter(pl.col("below_threshold") & (pl.col("routing") == "auto_applied")),
        subject="suggestion_id",
        since="created_at",
        evidence=[*_EVIDENCE, "confidence_threshold"],
    )


@area.rule("ai.conflicts_with_source", params=("kinds", "default_field_by_kind"), clock=False)
def conflicts_with_source(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    deals = run.snapshot["deals"]
    as_text = [
        (pl.col(c).list.join(";") if isinstance(t, pl.List) else pl.col(c).cast(pl.String)).alias(c)
        for c, t in deals.schema.items()
        if c != "opportunity_id"
    ]
    deal_values = deals.select("opportunity_id", *as_text).unpivot(
        index="opportunity_id", variable_name="target_field", value_name="deal_value"
    )
    conflicts = (
        run.suggestions.filter(
            pl.col("kind").is_in(list(rule.param("kinds"))) & (pl.col("review_decision") != "rejected")
        )
        .with_columns(
            pl.coalesce(
                "field", pl.col("kind").replace_strict(rule.param("default_field_by_kind"), default=None)
            ).alias("target_field")
        )
        .join(deal_values, on=["opportunity_id", "target_field"])
        .filter(
            pl.col("suggested_value").is_not_null()
            & pl.col("deal_value").is_not_null()
            & (_comparable(pl.col("suggested_value")) != _comparable(pl.col("deal_value")))
        )
    )
    return findings_from(
        rule,
        conflicts,
        subject="suggestion_id",
        since="created_at",
        evidence=["kind", "target_field", "suggested_value", "deal_value", "routing", "review_decision"],
    )


@area.rule("ai.missing_evidence", clock=False)
def missing_evidence(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.suggestions.filter(
            pl.col("material_commitment")
            & (pl.col("evidence_count") == 0)
            & ~pl.col("review_decision").is_in(["accepted", "corrected"])
        ),
        subject="suggestion_id",
        since="created_at",
        evidence=[*_EVIDENCE, "evidence_count"],
    )


@area.rule("ai.customer_email_unreviewed", clock=False)
def customer_email_unreviewed(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.suggestions.filter(
            pl.col("customer_facing") & pl.col("sent_at").is_not_null() & pl.col("reviewer").is_null()
        ),
        subject="suggestion_id",
        since="sent_at",
        evidence=[*_EVIDENCE, "sent_at"],
    )


@area.rule("ai.sensitive_change_unapproved", params=("kinds",), clock=False)
def sensitive_change_unapproved(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    applied = (pl.col("routing") == "auto_applied") | pl.col("review_decision").is_in(["accepted", "corrected"])
    return findings_from(
        rule,
        run.suggestions.filter(
            pl.col("kind").is_in(list(rule.param("kinds"))) & applied & pl.col("approved_by").is_null()
        ),
        subject="suggestion_id",
        since="created_at",
        evidence=[*_EVIDENCE, "reviewer"],
    )


@area.rule("ai.sensitive_access_unlogged", clock=False)
def sensitive_access_unlogged(run: AiRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.suggestions.filter(pl.col("sensitive_data") & pl.col("access_scope").is_null()),
        subject="suggestion_id",
        since="created_at",
        evidence=["kind", "model", "prompt_version", "sensitive_data"],
    )


evaluate = area.evaluate
