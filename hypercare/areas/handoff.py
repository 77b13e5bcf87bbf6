"""Handoff quality: is the handoff packet good enough to act on before kickoff?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, distribution_metrics, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context, required_fields


def _filled_by(moment: str) -> pl.Expr:
    return pl.col("filled_at").is_not_null() & pl.col(moment).is_not_null() & (pl.col("filled_at") <= pl.col(moment))


def not_filled_by(instant: dt.datetime) -> pl.Expr:
    """A field is filled at T when its filled_at is set and not after T."""
    return pl.col("filled_at").is_null() | (pl.col("filled_at") > instant)


def _missing_per_onboarding(rows: pl.DataFrame, name: str) -> pl.DataFrame:
    return rows.group_by("onboarding_id").agg(pl.col("field").sort().alias(name))


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar
    ctx = onboarding_context(snapshot, ruleset)
    required = required_fields(ruleset)
    fields = snapshot["handoff_fields"]
    grid = (
        ctx.select("onboarding_id", "sla_segment", "handoff_submitted_at", "kickoff_completed_at")
        .join(required, on="sla_segment")
        .join(fields.select("onboarding_id", "field", "filled_at"), on=["onboarding_id", "field"], how="left")
    )
    missing_at_submission = _missing_per_onboarding(
        grid.filter(pl.col("handoff_submitted_at").is_not_null() & ~_filled_by("handoff_submitted_at")),
        "missing_at_submission",
    )
    missing_at_kickoff = _missing_per_onboarding(
        grid.filter(pl.col("kickoff_completed_at").is_not_null() & ~_filled_by("kickoff_completed_at")),
        "missing_at_kickoff",
    )
    as_of_end = cal.as_of_end(as_of).astimezone(dt.UTC)
    missing_now = _missing_per_onboarding(grid.filter(not_filled_by(as_of_end)), "missing_now")
    ctx = (
        ctx.join(missing_at_submission, on="onboarding_id", how="left")
        .join(missing_at_kickoff, on="onboarding_id", how="left")
        .join(missing_now, on="onboarding_id", how="left")
        .with_columns(
            (
                (cal.business_seconds(pl.col("kickoff_scheduled_for")) - cal.business_seconds_at_day_end(as_of))
                / 86_400
            ).alias("business_days_to_kickoff"),
        )
    )

    findings = []
    rule = ruleset.rule("handoff.incomplete_at_submission")
    findings.append(
        findings_from(
            rule,
            ctx.filter(pl.col("missing_at_submission").is_not_null()),
            subject="onboarding_id",
            since="handoff_submitted_at",
            evidence=["handoff_submitted_at", "missing_at_submission"],
        )
    )

    rule = ruleset.rule("handoff.incomplete_before_kickoff")
    upcoming = (
        pl.col("kickoff_completed_at").is_null()
        & (pl.col("business_days_to_kickoff") <= rule.param("business_days"))
        & pl.col("missing_now").is_not_null()
    )
    findings.append(
        findings_from(
            rule,
            ctx.filter(pl.col("missing_at_kickoff").is_not_null() | upcoming),
            subject="onboarding_id",
            since="kickoff_scheduled_for",
            evidence=["kickoff_scheduled_for", "kickoff_completed_at", "missing_at_kickoff", "missing_now"],
        )
    )

    rule = ruleset.rule("handoff.no_success_criteria")
    criteria = fields.filter(pl.col("field") == "success_criteria").select(
        "onboarding_id", pl.col("filled_at").alias("criteria_filled_at")
    )
    no_criteria = ctx.join(criteria, on="onboarding_id", how="left").filter(
        pl.col("kickoff_completed_at").is_not_null()
        & (pl.col("criteria_filled_at").is_null() | (pl.col("criteria_filled_at") > pl.col("kickoff_completed_at")))
    )
    findings.append(
        findings_from(
            rule,
            no_criteria,
            subject="onboarding_id",
            since="kickoff_completed_at",
            evidence=["kickoff_completed_at", "criteria_filled_at"],
        )
    )

    rule = ruleset.rule("handoff.acceptance_wait")
    waiting = ctx.filter(
        pl.col("open")
        & pl.col("handoff_submitted_at").is_not_null()
        & pl.col("handoff_accepted_at").is_null()
        & pl.col("handoff_rejected_at").is_null()
    ).with_columns(cal.business_days_elapsed(pl.col("handoff_submitted_at"), as_of).alias("waiting_business_days"))
    findings.append(
        findings_from(
            rule,
            waiting.filter(pl.col("waiting_business_days") >= rule.param("business_days")),
            subject="onboarding_id",
            since="handoff_submitted_at",
            evidence=["handoff_submitted_at", "waiting_business_days"],
        )
    )

    rule = ruleset.rule("handoff.late_correction")
    late = (
        fields.join(ctx.select("onboarding_id", "kickoff_completed_at"), on="onboarding_id")
        .filter(pl.col("corrected_at") > pl.col("kickoff_completed_at"))
        .group_by("onboarding_id")
        .agg(pl.col("field").sort().alias("corrected_after_kickoff"), pl.col("corrected_at").min())
    )
    findings.append(
        findings_from(
            rule,
            ctx.join(late, on="onboarding_id"),
            subject="onboarding_id",
            since="corrected_at",
            evidence=["kickoff_completed_at", "corrected_after_kickoff"],
        )
    )

    cleanup = ctx.filter(
        pl.col("open") & pl.col("kickoff_completed_at").is_null() & pl.col("missing_now").is_not_null()
    ).with_columns(cal.business_days_elapsed(pl.coalesce("handoff_submitted_at", "created_at"), as_of).alias("age_bd"))
    metrics = pl.concat(
        [
            _completeness(ctx, grid, as_of_end),
            distribution_metrics(
                waiting.rename({"waiting_business_days": "age_bd"}), "queue.handoff_acceptance", "age_bd"
            ),
            distribution_metrics(cleanup, "queue.pre_kickoff_cleanup", "age_bd"),
        ]
    )
    trace = pl.concat(
        [
            trace_from(
                ctx,
                event_type="handoff_submitted",
                event_at="handoff_submitted_at",
                ref_id="onboarding_id",
                attributes=["missing_at_submission"],
            ),
            trace_from(
                ctx,
                event_type="handoff_validated",
                event_at="handoff_accepted_at",
                ref_id="onboarding_id",
                attributes=["missing_now"],
            ),
            trace_from(
                ctx,
                event_type="handoff_rejected",
                event_at="handoff_rejected_at",
                ref_id="onboarding_id",
                attributes=["missing_now"],
            ),
        ]
    )
    return AreaResult(findings=pl.concat(findings), metrics=metrics, trace=trace)


def _completeness(ctx: pl.DataFrame, grid: pl.DataFrame, as_of_end: dt.datetime) -> pl.DataFrame:
    """Complete-at-handoff and complete-before-kickoff rates, and missing counts per field."""
    submitted = ctx.filter(pl.col("handoff_submitted_at").is_not_null())
    kicked_off = ctx.filter(pl.col("kickoff_completed_at").is_not_null())
    parts = []
    for frame, name, column in (
        (submitted, "complete_at_handoff_rate", "missing_at_submission"),
        (kicked_off, "complete_before_kickoff_rate", "missing_at_kickoff"),
    ):
        rate = pl.col(column).is_null().mean()
        parts.append(metrics_by(frame.with_columns(pl.lit("all").alias("all")), name, "all", rate))
        parts.append(metrics_by(frame, name, "segment", rate))
        parts.append(metrics_by(frame, name, "sales_team", rate))
    open_grid = grid.join(ctx.filter(pl.col("open")).select("onboarding_id"), on="onboarding_id")
    parts.append(metrics_by(open_grid.filter(not_filled_by(as_of_end)), "missing_now", "field", pl.len()))
    at_submission = grid.filter(pl.col("handoff_submitted_at").is_not_null() & ~_filled_by("handoff_submitted_at"))
    parts.append(metrics_by(at_submission, "missing_at_submission", "field", pl.len()))
    return pl.concat(parts)
