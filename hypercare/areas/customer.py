"""Customer tasks and milestones: is the customer actually moving?"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import distribution_metrics, escalation, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "sla_segment", "strategic", "high_value"]
_TASK_EVIDENCE = ["task_id", "task_type", "due_at", "reminders_sent", "last_customer_response_at", "reason_code"]


def _own_reason(rule: RuleConfig) -> pl.Expr:
    """A task's or milestone's own reason code, else the rule's."""
    return pl.coalesce(pl.col("reason_code"), pl.lit(rule.reason_code))


def _with_context(frame: pl.DataFrame, ctx: pl.DataFrame, unknown_segment: str) -> pl.DataFrame:
    """Rows of onboardings whose project is open or absent, with deal context."""
    closed = ctx.filter(~pl.col("open")).select("onboarding_id")
    return (
        frame.join(closed, on="onboarding_id", how="anti")
        .join(ctx.select(_CONTEXT), on="onboarding_id", how="left")
        .with_columns(
            pl.col("sla_segment").fill_null(pl.lit(unknown_segment)),
            pl.col("strategic").fill_null(False),
            pl.col("high_value").fill_null(False),
        )
    )


class CustomerRun(AreaRun):
    @cached_property
    def ctx(self) -> pl.DataFrame:
        return onboarding_context(self.snapshot, self.ruleset)

    @cached_property
    def tasks(self) -> pl.DataFrame:
        return self.snapshot["customer_tasks"]

    @cached_property
    def open_tasks(self) -> pl.DataFrame:
        as_of_end = self.cal.as_of_end(self.as_of).astimezone(dt.UTC)
        ctx = self.ctx  # onboardings first, then tasks: a no-verdict reason names the first input unavailable
        tasks = self.tasks.filter(pl.col("completed_at").is_null())
        return _with_context(tasks, ctx, self.ruleset.unknown_segment).with_columns(
            (pl.col("due_at").is_not_null() & (pl.col("due_at") < as_of_end)).alias("overdue"),
            self.cal.business_days_elapsed(pl.coalesce("last_customer_response_at", "created_at"), self.as_of).alias(
                "response_age_bd"
            ),
        )

    @cached_property
    def overdue(self) -> pl.DataFrame:
        return self.open_tasks.filter(pl.col("overdue"))

    @cached_property
    def milestones(self) -> pl.DataFrame:
        return self.snapshot["milestones"].with_columns(
            pl.concat_str("onboarding_id", pl.lit(":"), "milestone").alias("milestone_key")
        )

    @cached_property
    def aged(self) -> pl.DataFrame:
        """Open milestones past their target by their segment's grace (customer.milestone_aged)."""
        rule_id = "customer.milestone_aged"
        return (
            _with_context(
                self.milestones.filter(pl.col("completed_at").is_null() & pl.col("target_at").is_not_null()),
                self.ctx,
                self.ruleset.unknown_segment,
            )
            .with_columns(
                self.cal.business_days_elapsed(pl.col("target_at"), self.as_of).alias("days_past_target"),
                self.ruleset.by_segment(rule_id, "grace_business_days_by_segment").alias("grace_business_days"),
            )
            .filter(pl.col("days_past_target") >= pl.col("grace_business_days"))
        )

    @cached_property
    def first_value(self) -> pl.DataFrame:
        return self.milestones.filter(pl.col("milestone") == "first_value").join(
            self.ctx.select(_CONTEXT), on="onboarding_id", how="left"
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        cal, ctx, overdue, aged, first_value = self.cal, self.ctx, self.overdue, self.aged, self.first_value
        stalled = pl.concat(
            [overdue.select("reason_code", "segment"), aged.select("reason_code", "segment")]
        ).with_columns(pl.col("reason_code").fill_null("unclassified"))
        reached = first_value.filter(pl.col("completed_at").is_not_null()).join(
            ctx.filter(pl.col("eligible")).select("onboarding_id", "eligible_since"), on="onboarding_id"
        )
        activated = self.tasks.filter((pl.col("task_type") == "first_use_case") & pl.col("completed_at").is_not_null())
        return pl.concat(
            [
                distribution_metrics(overdue, "overdue_tasks", "response_age_bd", item="task_id").filter(
                    pl.col("metric") == "overdue_tasks.count"
                ),
                distribution_metrics(
                    self.open_tasks.with_columns(pl.col("reminders_sent").fill_null(0).cast(pl.Float64)),
                    "reminders_per_open_task",
                    "reminders_sent",
                    item="task_id",
                    with_count=False,
                ),
                distribution_metrics(self.open_tasks, "queue.customer_response", "response_age_bd", item="task_id"),
                metrics_by(stalled, "stalled", "reason_code", pl.len()),
                distribution_metrics(
                    reached.with_columns(
                        (
                            (
                                cal.business_seconds(pl.col("completed_at"))
                                - cal.business_seconds(pl.col("eligible_since"))
                            )
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

    def trace(self) -> pl.DataFrame:
        tasks, milestones = self.tasks, self.milestones
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


area = Area("customer", CustomerRun)


@area.rule("customer.task_overdue")
def task_overdue(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule, run.overdue, subject="task_id", since="due_at", evidence=_TASK_EVIDENCE, reason_code=_own_reason(rule)
    )


@area.rule("customer.task_blocks_first_value")
def task_blocks_first_value(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.overdue.filter(pl.col("blocks_first_value")),
        subject="task_id",
        since="due_at",
        evidence=[*_TASK_EVIDENCE, "blocks_first_value"],
        reason_code=_own_reason(rule),
    )


@area.rule("customer.no_response", params=("business_days",))
def no_response(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.open_tasks.filter(pl.col("response_age_bd") >= rule.param("business_days")),
        subject="task_id",
        since="last_customer_response_at",
        evidence=[*_TASK_EVIDENCE, "response_age_bd"],
    )


@area.rule("customer.milestone_aged", params=("grace_business_days_by_segment",), escalations=("high_value",))
def milestone_aged(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.aged,
        subject="milestone_key",
        since="target_at",
        evidence=["milestone", "target_at", "days_past_target", "grace_business_days", "owner", "reason_code"],
        reason_code=_own_reason(rule),
        **escalation(rule, "high_value", "high_value"),
    )


@area.rule("customer.stalled_without_reason")
def stalled_without_reason(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return pl.concat(
        [
            findings_from(
                rule,
                run.overdue.filter(pl.col("reason_code").is_null()),
                subject="task_id",
                since="due_at",
                evidence=["task_id", "task_type", "due_at"],
            ),
            findings_from(
                rule,
                run.aged.filter(pl.col("reason_code").is_null()),
                subject="milestone_key",
                since="target_at",
                evidence=["milestone", "target_at", "days_past_target"],
            ),
        ]
    )


@area.rule("customer.first_value_without_evidence")
def first_value_without_evidence(run: CustomerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.first_value.filter(pl.col("completed_at").is_not_null() & pl.col("evidence").is_null()),
        subject="onboarding_id",
        since="completed_at",
        evidence=["milestone", "completed_at", "owner"],
    )


evaluate = area.evaluate
