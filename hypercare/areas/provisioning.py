"""Provisioning: can the customer start, or is internal setup wrong or late?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.areas.handoff import not_filled_by
from hypercare.findings import AreaResult, distribution_metrics, escalation, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context, required_fields

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value"]


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


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar
    as_of_end = cal.as_of_end(as_of).astimezone(dt.UTC)
    ctx = onboarding_context(snapshot, ruleset)
    closed = ctx.filter(~pl.col("open")).select("onboarding_id")
    ready = launch_ready(snapshot, ruleset, ctx, as_of)
    items = (
        snapshot["provisioning_items"]
        .join(closed, on="onboarding_id", how="anti")
        .join(ctx.select(*_CONTEXT, "kickoff_completed_at"), on="onboarding_id", how="left")
        .join(ready, on="onboarding_id", how="left")
        .with_columns(
            pl.col("strategic").fill_null(False),
            pl.col("high_value").fill_null(False),
            pl.col("launch_ready").fill_null(False),
            (pl.col("status") != "done").alias("not_done"),
        )
    )
    kind = pl.col("item_type")
    evidence = ["item_type", "target_system", "status", "attempts", "due_at", "completed_at"]
    findings = []

    rule = ruleset.rule("provisioning.entitlement_mismatch")
    findings.append(
        findings_from(
            rule,
            items.filter(
                (kind == "entitlement")
                & pl.col("expected_value").is_not_null()
                & pl.col("configured_value").is_not_null()
                & (pl.col("expected_value") != pl.col("configured_value"))
            ),
            subject="item_id",
            evidence=["target_system", "expected_value", "configured_value"],
        )
    )

    rule = ruleset.rule("provisioning.workspace_late")
    findings.append(
        findings_from(
            rule,
            items.filter(
                (kind == "workspace")
                & pl.col("kickoff_completed_at").is_not_null()
                & (pl.col("not_done") | (pl.col("completed_at") > pl.col("kickoff_completed_at")))
            ),
            subject="item_id",
            since="kickoff_completed_at",
            evidence=[*evidence, "kickoff_completed_at"],
        )
    )

    rule = ruleset.rule("provisioning.identity_late")
    limit = rule.param("business_days")
    identity = items.filter((kind == "identity") & pl.col("kickoff_completed_at").is_not_null()).with_columns(
        cal.business_days_elapsed(pl.col("kickoff_completed_at"), as_of).alias("business_days_since_kickoff"),
        (
            (cal.business_seconds(pl.col("completed_at")) - cal.business_seconds(pl.col("kickoff_completed_at")))
            / 86_400
        ).alias("business_days_to_done"),
    )
    findings.append(
        findings_from(
            rule,
            identity.filter(
                (pl.col("not_done") & (pl.col("business_days_since_kickoff") >= limit))
                | (~pl.col("not_done") & (pl.col("business_days_to_done") >= limit))
            ),
            subject="item_id",
            since="kickoff_completed_at",
            evidence=[*evidence, "kickoff_completed_at", "business_days_since_kickoff"],
        )
    )

    rule = ruleset.rule("provisioning.integration_unowned")
    findings.append(
        findings_from(
            rule,
            items.filter(
                (kind == "integration")
                & pl.col("not_done")
                & (pl.col("internal_owner").is_null() | pl.col("customer_owner").is_null())
            ),
            subject="item_id",
            evidence=["target_system", "internal_owner", "customer_owner"],
        )
    )

    rule = ruleset.rule("provisioning.failed")
    failed = items.filter(
        (pl.col("status") == "failed") | (pl.col("not_done") & (pl.col("attempts") >= rule.param("max_attempts")))
    )
    findings.append(
        findings_from(
            rule,
            failed,
            subject="item_id",
            evidence=[*evidence, "last_error", "launch_ready"],
            **escalation(rule, "launch_ready", "launch_ready"),
        )
    )

    rule = ruleset.rule("provisioning.override_unapproved")
    findings.append(
        findings_from(
            rule,
            items.filter(pl.col("manual_override").fill_null(False) & pl.col("override_approved_by").is_null()),
            subject="item_id",
            evidence=["item_type", "target_system", "manual_override", "configured_value"],
        )
    )

    rule = ruleset.rule("provisioning.overdue")
    overdue = items.filter(pl.col("not_done") & (pl.col("due_at") < as_of_end))
    findings.append(findings_from(rule, overdue, subject="item_id", since="due_at", evidence=evidence))

    rule = ruleset.rule("provisioning.support_handoff_missing")
    launched = snapshot["milestones"].filter((pl.col("milestone") == "launch") & pl.col("completed_at").is_not_null())
    handed_over = (
        snapshot["provisioning_items"]
        .filter((kind == "support_handoff") & (pl.col("status") == "done"))
        .select("onboarding_id")
        .unique()
    )
    missing_support = (
        ctx.select(_CONTEXT)
        .join(launched.select("onboarding_id", pl.col("completed_at").alias("launched_at")), on="onboarding_id")
        .join(handed_over, on="onboarding_id", how="anti")
    )
    findings.append(
        findings_from(rule, missing_support, subject="onboarding_id", since="launched_at", evidence=["launched_at"])
    )

    blockers = items.filter(pl.col("not_done") & ((pl.col("status") == "failed") | (pl.col("due_at") < as_of_end)))
    metrics = pl.concat(
        [
            metrics_by(failed, "provisioning_failures", "item_type", pl.len()),
            metrics_by(failed.with_columns(pl.lit("all").alias("all")), "provisioning_failures", "all", pl.len()),
            distribution_metrics(
                blockers.with_columns(
                    cal.business_days_elapsed(pl.coalesce("due_at", "created_at"), as_of).alias("age_bd")
                ),
                "queue.provisioning_blockers",
                "age_bd",
                item="item_id",
            ),
            metrics_by(items.filter(pl.col("not_done")), "open_items", "item_type", pl.len()),
        ]
    )
    trace = pl.concat(
        [
            trace_from(
                items,
                event_type="provisioning_task_created",
                event_at="created_at",
                ref_id="item_id",
                attributes=["item_type", "target_system", "expected_value", "internal_owner", "status", "due_at"],
            ),
            trace_from(
                items,
                event_type="provisioning_task_completed",
                event_at="completed_at",
                ref_id="item_id",
                attributes=["item_type", "target_system", "configured_value", "manual_override"],
            ),
        ]
    )
    return AreaResult(findings=pl.concat(findings), metrics=metrics, trace=trace)
