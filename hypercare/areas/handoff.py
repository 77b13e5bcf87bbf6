"""Handoff quality: is the handoff packet good enough to act on before kickoff?"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import distribution_metrics, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context, required_fields


def _filled_by(moment: str) -> pl.Expr:
    return pl.col("filled_at").is_not_null() & pl.col(moment).is_not_null() & (pl.col("filled_at") <= pl.col(moment))


def not_filled_by(instant: dt.datetime) -> pl.Expr:
    """A field is filled at T when its filled_at is set and not after T."""
    return pl.col("filled_at").is_null() | (pl.col("filled_at") > instant)


def _missing_per_onboarding(rows: pl.DataFrame, name: str) -> pl.DataFrame:
    return rows.group_by("onboarding_id").agg(pl.col("field").sort().alias(name))


class HandoffRun(AreaRun):
    @cached_property
    def as_of_end(self) -> dt.datetime:
        return self.cal.as_of_end(self.as_of).astimezone(dt.UTC)

    @cached_property
    def onboardings(self) -> pl.DataFrame:
        return onboarding_context(self.snapshot, self.ruleset)

    @cached_property
    def fields(self) -> pl.DataFrame:
        return self.snapshot["handoff_fields"]

    @cached_property
    def grid(self) -> pl.DataFrame:
        """One row per onboarding and required field of its segment, with when it was filled."""
        return (
            self.onboardings.select("onboarding_id", "sla_segment", "handoff_submitted_at", "kickoff_completed_at")
            .join(required_fields(self.ruleset), on="sla_segment")
            .join(self.fields.select("onboarding_id", "field", "filled_at"), on=["onboarding_id", "field"], how="left")
        )

    @cached_property
    def ctx(self) -> pl.DataFrame:
        """Onboardings with their missing fields at submission, at kickoff and now."""
        grid, cal = self.grid, self.cal
        missing_at_submission = _missing_per_onboarding(
            grid.filter(pl.col("handoff_submitted_at").is_not_null() & ~_filled_by("handoff_submitted_at")),
            "missing_at_submission",
        )
        missing_at_kickoff = _missing_per_onboarding(
            grid.filter(pl.col("kickoff_completed_at").is_not_null() & ~_filled_by("kickoff_completed_at")),
            "missing_at_kickoff",
        )
        missing_now = _missing_per_onboarding(grid.filter(not_filled_by(self.as_of_end)), "missing_now")
        return (
            self.onboardings.join(missing_at_submission, on="onboarding_id", how="left")
            .join(missing_at_kickoff, on="onboarding_id", how="left")
            .join(missing_now, on="onboarding_id", how="left")
            .with_columns(
                (
                    (
                        cal.business_seconds(pl.col("kickoff_scheduled_for"))
                        - cal.business_seconds_at_day_end(self.as_of)
                    )
                    / 86_400
                ).alias("business_days_to_kickoff"),
            )
        )

    @cached_property
    def waiting(self) -> pl.DataFrame:
        """Open onboardings whose submitted handoff is neither accepted nor rejected."""
        return self.ctx.filter(
            pl.col("open")
            & pl.col("handoff_submitted_at").is_not_null()
            & pl.col("handoff_accepted_at").is_null()
            & pl.col("handoff_rejected_at").is_null()
        ).with_columns(
            self.cal.business_days_elapsed(pl.col("handoff_submitted_at"), self.as_of).alias("waiting_business_days")
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        ctx = self.ctx
        cleanup = ctx.filter(
            pl.col("open") & pl.col("kickoff_completed_at").is_null() & pl.col("missing_now").is_not_null()
        ).with_columns(
            self.cal.business_days_elapsed(pl.coalesce("handoff_submitted_at", "created_at"), self.as_of).alias(
                "age_bd"
            )
        )
        return pl.concat(
            [
                _completeness(ctx, self.grid, self.as_of_end),
                distribution_metrics(
                    self.waiting.rename({"waiting_business_days": "age_bd"}), "queue.handoff_acceptance", "age_bd"
                ),
                distribution_metrics(cleanup, "queue.pre_kickoff_cleanup", "age_bd"),
            ]
        )

    def trace(self) -> pl.DataFrame:
        return pl.concat(
            [
                trace_from(
                    self.ctx,
                    event_type="handoff_submitted",
                    event_at="handoff_submitted_at",
                    ref_id="onboarding_id",
                    attributes=["missing_at_submission"],
                ),
                trace_from(
                    self.ctx,
                    event_type="handoff_validated",
                    event_at="handoff_accepted_at",
                    ref_id="onboarding_id",
                    attributes=["missing_now"],
                ),
                trace_from(
                    self.ctx,
                    event_type="handoff_rejected",
                    event_at="handoff_rejected_at",
                    ref_id="onboarding_id",
                    attributes=["missing_now"],
                ),
            ]
        )


area = Area("handoff", HandoffRun)


@area.rule("handoff.incomplete_at_submission")
def incomplete_at_submission(run: HandoffRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.ctx.filter(pl.col("missing_at_submission").is_not_null()),
        subject="onboarding_id",
        since="handoff_submitted_at",
        evidence=["handoff_submitted_at", "missing_at_submission"],
    )


@area.rule("handoff.incomplete_before_kickoff", params=("business_days",))
def incomplete_before_kickoff(run: HandoffRun, rule: RuleConfig) -> pl.DataFrame:
    upcoming = (
        pl.col("kickoff_completed_at").is_null()
        & (pl.col("business_days_to_kickoff") <= rule.param("business_days"))
        & pl.col("missing_now").is_not_null()
    )
    return findings_from(
        rule,
        run.ctx.filter(pl.col("missing_at_kickoff").is_not_null() | upcoming),
        subject="onboarding_id",
        since="kickoff_scheduled_for",
        evidence=["kickoff_scheduled_for", "kickoff_completed_at", "missing_at_kickoff", "missing_now"],
    )


@area.rule("handoff.no_success_criteria")
def no_success_criteria(run: HandoffRun, rule: RuleConfig) -> pl.DataFrame:
    criteria = run.fields.filter(pl.col("field") == "success_criteria").select(
        "onboarding_id", pl.col("filled_at").alias("criteria_filled_at")
    )
    no_criteria = run.ctx.join(criteria, on="onboarding_id", how="left").filter(
        pl.col("kickoff_completed_at").is_not_null()
        & (pl.col("criteria_filled_at").is_null() | (pl.col("criteria_filled_at") > pl.col("kickoff_completed_at")))
    )
    return findings_from(
        rule,
        no_criteria,
        subject="onboarding_id",
        since="kickoff_completed_at",
        evidence=["kickoff_completed_at", "criteria_filled_at"],
    )


@area.rule("handoff.acceptance_wait", params=("business_days",))
def acceptance_wait(run: HandoffRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.waiting.filter(pl.col("waiting_business_days") >= rule.param("business_days")),
        subject="onboarding_id",
        since="handoff_submitted_at",
        evidence=["handoff_submitted_at", "waiting_business_days"],
    )


@area.rule("handoff.late_correction")
def late_correction(run: HandoffRun, rule: RuleConfig) -> pl.DataFrame:
    late = (
        run.fields.join(run.ctx.select("onboarding_id", "kickoff_completed_at"), on="onboarding_id")
        .filter(pl.col("corrected_at") > pl.col("kickoff_completed_at"))
        .group_by("onboarding_id")
        .agg(pl.col("field").sort().alias("corrected_after_kickoff"), pl.col("corrected_at").min())
    )
    return findings_from(
        rule,
        run.ctx.join(late, on="onboarding_id"),
        subject="onboarding_id",
        since="corrected_at",
        evidence=["kickoff_completed_at", "corrected_after_kickoff"],
    )


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


evaluate = area.evaluate
