"""Customer tasks and milestones: is the customer actually moving?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import (
    AreaResult,
    distribution_metrics,
    escalation,
    findings_from,
    metrics_by,
    trace_from,
)
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "sla_segment", "strategic", "high_value"]


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar
    as_of_end = cal.as_of_end(as_of).astimezone(dt.UTC)
    ctx = onboarding_context(snapshot, ruleset)
    closed = ctx.filter(~pl.col("open")).select("onboarding_id")

    def with_context(frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of onboardings whose project is open or absent, with deal context."""
        return (
            frame.join(closed, on="onboarding_id", how="anti")
            .join(ctx.select(_CONTEXT), on="onboarding_id", how="left")
            .with_columns(
                pl.col("sla_segment").fill_null(pl.lit(ruleset.unknown_segment)),
                pl.col("strategic").fill_null(False),
                pl.col("high_value").fill_null(False),
            )
        )

    tasks = snapshot["customer_tasks"]
    open_tasks = with_context(tasks.filter(pl.col("completed_at").is_null())).with_columns(
        (pl.col("due_at").is_not_null() & (pl.col("due_at") < as_of_end)).alias("overdue"),
        cal.business_days_elapsed(pl.coalesce("last_customer_response_at", "created_at"), as_of).alias(
            "response_age_bd"
        ),
    )
    overdue = open_tasks.filter(pl.col("overdue"))
    task_evidence = ["task_id", "task_type", "due_at", "reminders_sent", "last_customer_response_at", "reason_code"]
    findings = []

    def own_reason(rule) -> pl.Expr:
        return pl.coalesce(pl.col("reason_code"), pl.lit(rule.reason_code))

    rule = ruleset.rule("customer.task_overdue")
    findings.append(
        findings_from(
            rule, overdue, subject="task_id", since="due_at", evidence=task_evidence, reason_code=own_reason(rule)
        )
    )

    rule = ruleset.rule("customer.task_blocks_first_value")
    findings.append(
        findings_from(
            rule,
            overdue.filter(pl.col("blocks_first_value")),
            subject="task_id",
            since="due_at",
            evidence=[*task_evidence, "blocks_first_value"],
            reason_code=own_reason(rule),
        )
    )

    rule = ruleset.rule("customer.no_response")
    findings.append(
        findings_from(
            rule,
            open_tasks.filter(pl.col("response_age_bd") >= rule.param("business_days")),
            subject="task_id",
            since="last_customer_response_at",
            evidence=[*task_evidence, "response_age_bd"],
        )
    )

    rule_id = "customer.milestone_aged"
    rule = ruleset.rule(rule_id)
    milestones = snapshot["milestones"].with_columns(
        pl.concat_str("onboarding_id", pl.lit(":"), "milestone").alias("milestone_key")
    )
    aged = (
        with_context(milestones.filter(pl.col("completed_at").is_null() & pl.col("target_at").is_not_null()))
        .with_columns(
            cal.business_days_elapsed(pl.col("target_at"), as_of).alias("days_past_target"),
            ruleset.by_segment(rule_id, "grace_business_days_by_segment").alias("grace_business_days"),
        )
        .filter(pl.col("days_past_target") >= pl.col("grace_business_days"))
    )
    findings.append(
        findings_from(
            rule,
            aged,
            subject="milestone_key",
            since="target_at",
            evidence=["milestone", "target_at", "days_past_target", "grace_business_days", "owner", "reason_code"],
            reason_code=own_reason(rule),
            **escalation(rule, "high_value", "high_value"),
        )
    )

    rule = ruleset.rule("customer.stalled_without_reason")
    findings.append(
        findings_from(
            rule,
            overdue.filter(pl.col("reason_code").is_null()),
            subject="task_id",
            since="due_at",
            evidence=["task_id", "task_type", "due_at"],
        )
    )
    findings.append(
        findings_from(
            rule,
            aged.filter(pl.col("reason_code").is_null()),
            subject="milestone_key",
            since="target_at",
            evidence=["milestone", "target_at", "days_past_target"],
        )
    )

    rule = ruleset.rule("customer.first_value_without_evidence")
    first_value = milestones.filter(pl.col("milestone") == "first_value").join(
        ctx.select(_CONTEXT), on="onboarding_id", how="left"
    )
    findings.append(
        findings_from(
            rule,
            first_value.filter(pl.col("completed_at").is_not_null() & pl.col("evidence").is_null()),
            subject="onboarding_id",
            since="completed_at",
            evidence=["milestone", "completed_at", "owner"],
        )
    )

    return AreaResult(
        findings=pl.concat(findings),
        metrics=_metrics(ctx, tasks, open_tasks, overdue, aged, first_value, cal),
        trace=_trace(tasks, milestones),
    )


def _metrics(ctx, tasks, open_tasks, overdue, aged, first_value, cal) -> pl.DataFrame:
    stalled = pl.concat([overdue.select("reason_code", "segment"), aged.select("reason_code", "segment")]).with_columns(
        pl.col("reason_code").fill_null("unclassified")
    )
    reached = first_value.filter(pl.col("completed_at").is_not_null()).join(
        ctx.filter(pl.col("eligible")).select("onboarding_id", "eligible_since"), on="onboarding_id"
    )
    activated = tasks.filter((pl.col("task_type") == "first_use_case") & pl.col("completed_at").is_not_null())
    return pl.concat(
        [
            distribution_metrics(overdue, "overdue_tasks", "response_age_bd", item="task_id").filter(
                pl.col("metric") == "overdue_tasks.count"
            ),
            distribution_metrics(
                open_tasks.with_columns(pl.col("reminders_sent").fill_null(0).cast(pl.Float64)),
                "reminders_per_open_task",
                "reminders_sent",
                item="task_id",
                with_count=False,
            ),
            distribution_metrics(open_tasks, "queue.customer_response", "response_age_bd", item="task_id"),
            metrics_by(stalled, "stalled", "reason_code", pl.len()),
            distribution_metrics(
                reached.with_columns(
                    (
                        (cal.business_seconds(pl.col("completed_at")) - cal.business_seconds(pl.col("eligible_since")))
                        / 86_400
                    ).alias("business_days")
                ),
                "time_to_first_value",
                "business_days",
                with_count=False,
            ),
            metrics_by(
                activated.with_columns(pl.lit("all").alias("all")),
                "activated_onboardings",
                "all",
                pl.col("onboarding_id").n_unique(),
            ),
            metrics_by(
                first_value.filter(pl.col("completed_at").is_not_null()).with_columns(pl.lit("all").alias("all")),
                "first_value_reached",
                "all",
                pl.len(),
            ),
        ]
    )


def _trace(tasks: pl.DataFrame, milestones: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(
        [
            trace_from(
                tasks,
                event_type="customer_task_opened",
                event_at="created_at",
                ref_id="task_id",
                attributes=["task_id", "task_type", "customer_owner", "internal_owner", "due_at", "reminders_sent"],
            ),
            trace_from(
                tasks,
                event_type="customer_task_completed",
                event_at="completed_at",
                ref_id="task_id",
                attributes=["task_id", "task_type"],
            ),
            trace_from(
                milestones,
                event_type="milestone_completed",
                event_at="completed_at",
                ref_id="milestone_key",
                attributes=["milestone", "owner", "evidence"],
            ),
            trace_from(
                milestones.filter(pl.col("milestone") == "first_value"),
                event_type="first_value_reached",
                event_at="completed_at",
                ref_id="milestone_key",
                attributes=["owner", "evidence"],
            ),
        ]
    )
