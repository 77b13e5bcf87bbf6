"""Provisioning: can the customer start, or is internal setup wrong or late?"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.handoff import not_filled_by
from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import distribution_metrics, escalation, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig, RuleSet
from hypercare.snapshot import Snapshot, onboarding_context, required_fields

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value"]
_EVIDENCE = ["item_type", "target_system", "status", "attempts", "due_at", "completed_at"]
_KIND = pl.col("item_type")


def launch_ready(snapshot: Snapshot, ruleset: RuleSet, ctx: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Onboardings whose kickoff is completed and whose required handoff fields are all filled."""
    required = required_fields(ruleset)
    missing = (
        ctx.select("onboarding_id", "sla_segment")
        .join(required, on="sla_segment")
        .join(
            snapshot["handoff_fields"].select("onboarding_id", "field", "filled_at"),
            on=["onboarding_id", "field"],
            how="left",
        )
        .filter(not_filled_by(ruleset.calendar.as_of_end(as_of).astimezone(dt.UTC)))
        .select("onboarding_id")
        .unique()
    )
    return (
        ctx.filter(pl.col("kickoff_completed_at").is_not_null())
        .join(missing, on="onboarding_id", how="anti")
        .select("onboarding_id", pl.lit(True).alias("launch_ready"))
    )


class ProvisioningRun(AreaRun):
    @cached_property
    def as_of_end(self) -> dt.datetime:
        return self.cal.as_of_end(self.as_of).astimezone(dt.UTC)

    @cached_property
    def ctx(self) -> pl.DataFrame:
        return onboarding_context(self.snapshot, self.ruleset)

    @cached_property
    def items(self) -> pl.DataFrame:
        """Items of onboardings whose project is open or absent, with deal context and launch readiness."""
        closed = self.ctx.filter(~pl.col("open")).select("onboarding_id")
        ready = launch_ready(self.snapshot, self.ruleset, self.ctx, self.as_of)
        return (
            self.snapshot["provisioning_items"]
            .join(closed, on="onboarding_id", how="anti")
            .join(self.ctx.select(*_CONTEXT, "kickoff_completed_at"), on="onboarding_id", how="left")
            .join(ready, on="onboarding_id", how="left")
            .with_columns(
                pl.col("strategic").fill_null(False),
                pl.col("high_value").fill_null(False),
                pl.col("launch_ready").fill_null(False),
                (pl.col("status") != "done").alias("not_done"),
            )
        )

    @cached_property
    def failed(self) -> pl.DataFrame:
        """Failed items, or items not done after `max_attempts` (provisioning.failed)."""
        max_attempts = self.rule("provisioning.failed").param("max_attempts")
        return self.items.filter(
            (pl.col("status") == "failed") | (pl.col("not_done") & (pl.col("attempts") >= max_attempts))
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        items, failed, as_of_end = self.items, self.failed, self.as_of_end
        blockers = items.filter(pl.col("not_done") & ((pl.col("status") == "failed") | (pl.col("due_at") < as_of_end)))
        return pl.concat(
            [
                metrics_by(failed, "provisioning_failures", "item_type", pl.len()),
                metrics_by(failed.with_columns(pl.lit("all").alias("all")), "provisioning_failures", "all", pl.len()),
                distribution_metrics(
                    blockers.with_columns(
                        self.cal.business_days_elapsed(pl.coalesce("due_at", "created_at"), self.as_of).alias("age_bd")
                    ),
                    "queue.provisioning_blockers",
                    "age_bd",
                    item="item_id",
                ),
                metrics_by(items.filter(pl.col("not_done")), "open_items", "item_type", pl.len()),
            ]
        )

    def trace(self) -> pl.DataFrame:
        return pl.concat(
            [
                trace_from(
                    self.items,
                    event_type="provisioning_task_created",
                    event_at="created_at",
                    ref_id="item_id",
                    attributes=["item_type", "target_system", "expected_value", "internal_owner", "status", "due_at"],
                ),
                trace_from(
                    self.items,
                    event_type="provisioning_task_completed",
                    event_at="completed_at",
                    ref_id="item_id",
                    attributes=["item_type", "target_system", "configured_value", "manual_override"],
                ),
            ]
        )


area = Area("provisioning", ProvisioningRun)


@area.rule("provisioning.entitlement_mismatch")
def entitlement_mismatch(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.items.filter(
            (_KIND == "entitlement")
            & pl.col("expected_value").is_not_null()
            & pl.col("configured_value").is_not_null()
            & (pl.col("expected_value") != pl.col("configured_value"))
        ),
        subject="item_id",
        evidence=["target_system", "expected_value", "configured_value"],
    )


@area.rule("provisioning.workspace_late")
def workspace_late(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.items.filter(
            (_KIND == "workspace")
            & pl.col("kickoff_completed_at").is_not_null()
            & (pl.col("not_done") | (pl.col("completed_at") > pl.col("kickoff_completed_at")))
        ),
        subject="item_id",
        since="kickoff_completed_at",
        evidence=[*_EVIDENCE, "kickoff_completed_at"],
    )


@area.rule("provisioning.identity_late", params=("business_days",))
def identity_late(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    cal, limit = run.cal, rule.param("business_days")
    identity = run.items.filter((_KIND == "identity") & pl.col("kickoff_completed_at").is_not_null()).with_columns(
        cal.business_days_elapsed(pl.col("kickoff_completed_at"), run.as_of).alias("business_days_since_kickoff"),
        (
            (cal.business_seconds(pl.col("completed_at")) - cal.business_seconds(pl.col("kickoff_completed_at")))
            / 86_400
        ).alias("business_days_to_done"),
    )
    return findings_from(
        rule,
        identity.filter(
            (pl.col("not_done") & (pl.col("business_days_since_kickoff") >= limit))
            | (~pl.col("not_done") & (pl.col("business_days_to_done") >= limit))
        ),
        subject="item_id",
        since="kickoff_completed_at",
        evidence=[*_EVIDENCE, "kickoff_completed_at", "business_days_since_kickoff"],
    )


@area.rule("provisioning.integration_unowned")
def integration_unowned(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.items.filter(
            (_KIND == "integration")
            & pl.col("not_done")
            & (pl.col("internal_owner").is_null() | pl.col("customer_owner").is_null())
        ),
        subject="item_id",
        evidence=["target_system", "internal_owner", "customer_owner"],
    )


@area.rule("provisioning.failed", params=("max_attempts",), escalations=("launch_ready",))
def failed(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.failed,
        subject="item_id",
        evidence=[*_EVIDENCE, "last_error", "launch_ready"],
        **escalation(rule, "launch_ready", "launch_ready"),
    )


@area.rule("provisioning.override_unapproved")
def override_unapproved(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.items.filter(pl.col("manual_override").fill_null(False) & pl.col("override_approved_by").is_null()),
        subject="item_id",
        evidence=["item_type", "target_system", "manual_override", "configured_value"],
    )


@area.rule("provisioning.overdue")
def overdue(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    late = run.items.filter(pl.col("not_done") & (pl.col("due_at") < run.as_of_end))
    return findings_from(rule, late, subject="item_id", since="due_at", evidence=_EVIDENCE)


@area.rule("provisioning.support_handoff_missing")
def support_handoff_missing(run: ProvisioningRun, rule: RuleConfig) -> pl.DataFrame:
    launched = run.snapshot["milestones"].filter(
        (pl.col("milestone") == "launch") & pl.col("completed_at").is_not_null()
    )
    handed_over = (
        run.snapshot["provisioning_items"]
        .filter((_KIND == "support_handoff") & (pl.col("status") == "done"))
        .select("onboarding_id")
        .unique()
    )
    missing_support = (
        run.ctx.select(_CONTEXT)
        .join(launched.select("onboarding_id", pl.col("completed_at").alias("launched_at")), on="onboarding_id")
        .join(handed_over, on="onboarding_id", how="anti")
    )
    return findings_from(rule, missing_support, subject="onboarding_id", since="launched_at", evidence=["launched_at"])


evaluate = area.evaluate
