"""Ground truth for the handoff, ownership and customer areas, from the rule definitions.

Every function reads the snapshot as the monitor sees it and the thresholds of the rule
set, and implements the rule text of `include/rules.yaml` directly: one considered
project per onboarding (non-cancelled, earliest created, then smallest project id), the
deal's segment or the configured unknown segment, "N business days after T" as the
business clock from T reaching N by the end of the day. Nothing here is shared with the
monitor beyond the business calendar and the rule set.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from hypercare.calendar import DAY_SECONDS
from hypercare.ruleset import RuleConfig, RuleSet

if TYPE_CHECKING:
    from hypercare.synth.truth import Oracle, SnapshotView

OPEN = ("active", "paused")
SIGNED = ("signed", "countersigned")
SUBJECT, SEVERITY = "subject_key", "severity"


def _emit(frame: pl.DataFrame, subject: pl.Expr | str, severity: pl.Expr | str) -> pl.DataFrame:
    subject_expr = pl.col(subject) if isinstance(subject, str) else subject
    severity_expr = pl.lit(severity) if isinstance(severity, str) else severity
    return frame.select(subject_expr.alias(SUBJECT), severity_expr.alias(SEVERITY))


def _elapsed(view: SnapshotView, ruleset: RuleSet, since: pl.Expr | str) -> pl.Expr:
    since_expr = pl.col(since) if isinstance(since, str) else since
    return ruleset.calendar.business_days_elapsed(since_expr, view.day)


def _as_of_end(view: SnapshotView, ruleset: RuleSet) -> pl.Expr:
    return pl.lit(ruleset.calendar.as_of_end(view.day).astimezone(dt.UTC))


def _high_value_severity(rule: RuleConfig) -> pl.Expr:
    high = rule.extra.get("severity_when_high_value", rule.severity)
    return pl.when(pl.col("high_value")).then(pl.lit(high)).otherwise(pl.lit(rule.severity))


def _deal_terms(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """Per present deal: segment, high value, and the eligibility of the shared definitions."""
    prepayment = pl.col("payment_condition") == "prepayment"
    eligible = (
        (pl.col("stage") == "closed_won")
        & pl.col("excluded_reason").is_null()
        & pl.col("contract_state").is_in(SIGNED)
        & (~prepayment | pl.col("payment_received_at").is_not_null())
    )
    since = pl.max_horizontal(
        "closed_won_at", "contract_signed_at", pl.when(prepayment).then(pl.col("payment_received_at"))
    )
    return view["deals"].select(
        "opportunity_id",
        pl.col("segment").alias("deal_segment"),
        (pl.col("strategic") | (pl.col("arr") >= ruleset.high_value_arr)).alias("deal_high_value"),
        eligible.alias("eligible"),
        since.alias("eligible_since"),
    )


# The last snapshot's considered projects: every oracle of a snapshot starts from them, and
# building them once per snapshot keeps a 100k-customer day fast. Keyed by the identity of
# the (immutable) frames and rule set it was built from, which the entry keeps alive.
_LAST: list[tuple[pl.DataFrame, pl.DataFrame, RuleSet, pl.DataFrame]] = []


def onboardings(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """The considered project of every onboarding with its SLA segment, high-value flag,
    eligible-clock start (eligible_since when the deal is eligible, else created_at) and
    whether it is open."""
    projects, deals = view["onboarding_projects"], view["deals"]
    for seen_projects, seen_deals, seen_rules, built in _LAST:
        if seen_projects is projects and seen_deals is deals and seen_rules is ruleset:
            return built
    built = _considered(view, ruleset)
    _LAST[:] = [(projects, deals, ruleset, built)]
    return built


def _considered(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    projects = (
        view["onboarding_projects"]
        .filter(pl.col("status") != "cancelled")
        .sort("onboarding_id", "created_at", "project_id")
        .unique("onboarding_id", keep="first", maintain_order=True)
    )
    return projects.join(_deal_terms(view, ruleset), on="opportunity_id", how="left").with_columns(
        pl.col("deal_segment").fill_null(ruleset.unknown_segment).alias("sla_segment"),
        pl.col("deal_high_value").fill_null(False).alias("high_value"),
        pl.when(pl.col("eligible").fill_null(False))
        .then(pl.col("eligible_since"))
        .otherwise(pl.col("created_at"))
        .alias("eligible_clock"),
        pl.col("status").is_in(OPEN).alias("is_open"),
    )


# -- handoff quality -------------------------------------------------------------------
def _incomplete_at(view: SnapshotView, ruleset: RuleSet, onboarding: pl.DataFrame, at: pl.Expr) -> pl.DataFrame:
    """The rows of `onboarding` with a required field of their segment not filled at `at`
    (an expression over the onboarding's columns). Required fields are bits of a mask per
    segment; a field with no row never sets its bit, so it counts as never filled."""
    fields = sorted({field for required in ruleset.handoff_required_fields.values() for field in required})
    bit = {field: 1 << position for position, field in enumerate(fields)}
    masks = {segment: sum(bit[f] for f in required) for segment, required in ruleset.handoff_required_fields.items()}
    moments = onboarding.with_columns(
        at.alias("at"), pl.col("sla_segment").replace_strict(masks, default=0, return_dtype=pl.Int64).alias("required")
    )
    filled = (
        view["handoff_fields"]
        .select("onboarding_id", "field", "filled_at")
        .join(moments.select("onboarding_id", "at"), on="onboarding_id")
        .filter(pl.col("filled_at") <= pl.col("at"))
        .group_by("onboarding_id")
        .agg(pl.col("field").replace_strict(bit, default=0, return_dtype=pl.Int64).bitwise_or().alias("filled"))
    )
    return moments.join(filled, on="onboarding_id", how="left").filter(
        (pl.col("required") & ~pl.col("filled").fill_null(0)) != 0
    )


def incomplete_at_submission(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("handoff.incomplete_at_submission")
    submitted = onboardings(view, ruleset).filter(pl.col("handoff_submitted_at").is_not_null())
    return _emit(
        _incomplete_at(view, ruleset, submitted, pl.col("handoff_submitted_at")), "onboarding_id", rule.severity
    )


def incomplete_before_kickoff(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """Missing at the completed kickoff, or missing now with the planned kickoff at most
    `business_days` business days ahead (business seconds at the plan minus at the as-of
    instant; a plan in the past is negative and counts)."""
    rule = ruleset.rule("handoff.incomplete_before_kickoff")
    calendar = ruleset.calendar
    days_to_kickoff = (
        calendar.business_seconds(pl.col("kickoff_scheduled_for")) - calendar.business_seconds_at_day_end(view.day)
    ) / DAY_SECONDS
    held = pl.col("kickoff_completed_at").is_not_null()
    coming = ~held & (days_to_kickoff <= rule.param("business_days")).fill_null(False)
    judged = onboardings(view, ruleset).filter(held | coming)
    at = pl.when(held).then(pl.col("kickoff_completed_at")).otherwise(_as_of_end(view, ruleset))
    return _emit(_incomplete_at(view, ruleset, judged, at), "onboarding_id", rule.severity)


def no_success_criteria(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("handoff.no_success_criteria")
    criteria = view["handoff_fields"].filter(pl.col("field") == "success_criteria").select("onboarding_id", "filled_at")
    held = onboardings(view, ruleset).filter(pl.col("kickoff_completed_at").is_not_null())
    missing = held.join(criteria, on="onboarding_id", how="left").filter(
        pl.col("filled_at").is_null() | (pl.col("filled_at") > pl.col("kickoff_completed_at"))
    )
    return _emit(missing.unique("onboarding_id"), "onboarding_id", rule.severity)


def acceptance_wait(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("handoff.acceptance_wait")
    waiting = onboardings(view, ruleset).filter(
        pl.col("is_open")
        & pl.col("handoff_submitted_at").is_not_null()
        & pl.col("handoff_accepted_at").is_null()
        & pl.col("handoff_rejected_at").is_null()
        & (_elapsed(view, ruleset, "handoff_submitted_at") >= rule.param("business_days"))
    )
    return _emit(waiting, "onboarding_id", rule.severity)


def late_correction(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("handoff.late_correction")
    held = onboardings(view, ruleset).filter(pl.col("kickoff_completed_at").is_not_null())
    corrections = (
        view["handoff_fields"].filter(pl.col("corrected_at").is_not_null()).select("onboarding_id", "corrected_at")
    )
    late = held.join(corrections, on="onboarding_id").filter(pl.col("corrected_at") > pl.col("kickoff_completed_at"))
    return _emit(late.unique("onboarding_id"), "onboarding_id", rule.severity)


# -- owners and kickoff ------------------------------------------------------------------
def _open(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    return onboardings(view, ruleset).filter(pl.col("is_open"))


def no_owner(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ownership.no_owner")
    start = pl.min_horizontal("created_at", "eligible_clock")
    late = _open(view, ruleset).filter(
        pl.col("onboarding_owner").is_null() & (_elapsed(view, ruleset, start) >= rule.param("business_days"))
    )
    return _emit(late, "onboarding_id", rule.severity)


def missing_role(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ownership.missing_role")
    integration = view["provisioning_items"].filter(pl.col("item_type") == "integration")["onboarding_id"]
    billing = view["billing_accounts"].filter(pl.col("po_required") | pl.col("tax_id_required"))["account_id"]
    needs_technical = pl.col("sla_segment").is_in(list(rule.param("technical_owner_segments"))) | pl.col(
        "onboarding_id"
    ).is_in(integration.implode())
    needs_finance = pl.col("account_id").is_in(billing.implode())
    missing = (
        pl.col("csm_owner").is_null()
        | (needs_technical & pl.col("technical_owner").is_null())
        | (needs_finance & pl.col("finance_owner").is_null())
    )
    late = _open(view, ruleset).filter(missing & (_elapsed(view, ruleset, "created_at") >= rule.param("business_days")))
    return _emit(late, "onboarding_id", rule.severity)


def no_kickoff_task(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ownership.no_kickoff_task")
    late = _open(view, ruleset).filter(
        pl.col("kickoff_task_created_at").is_null()
        & (_elapsed(view, ruleset, "created_at") >= rule.param("business_days"))
    )
    return _emit(late, "onboarding_id", rule.severity)


def _kickoff_sla(view: SnapshotView, ruleset: RuleSet, rule_id: str, column: str) -> pl.DataFrame:
    rule = ruleset.rule(rule_id)
    late = _open(view, ruleset).filter(
        pl.col(column).is_null()
        & (_elapsed(view, ruleset, "eligible_clock") >= ruleset.by_segment(rule_id, "business_days_by_segment"))
    )
    return _emit(late, "onboarding_id", _high_value_severity(rule))


def kickoff_not_scheduled(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    return _kickoff_sla(view, ruleset, "ownership.kickoff_not_scheduled", "kickoff_scheduled_at")


def kickoff_not_completed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    return _kickoff_sla(view, ruleset, "ownership.kickoff_not_completed", "kickoff_completed_at")


def kickoff_churn(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ownership.kickoff_churn")
    events = pl.col("kickoff_no_shows").fill_null(0) + pl.col("kickoff_reschedules").fill_null(0)
    churned = _open(view, ruleset).filter(events >= rule.param("min_events"))
    return _emit(churned, "onboarding_id", rule.severity)


# -- customer tasks and milestones -----------------------------------------------------
def _in_scope(frame: pl.DataFrame, view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """Rows of onboardings whose considered project is open or absent, with the segment and
    high-value flag they are judged by (the unknown segment, not high value, if absent)."""
    projects = onboardings(view, ruleset).select("onboarding_id", "status", "sla_segment", "high_value")
    return (
        frame.join(projects, on="onboarding_id", how="left")
        .filter(pl.col("status").is_null() | pl.col("status").is_in(OPEN))
        .with_columns(
            pl.col("sla_segment").fill_null(ruleset.unknown_segment),
            pl.col("high_value").fill_null(False),
        )
    )


def _overdue_tasks(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    tasks = _in_scope(view["customer_tasks"], view, ruleset)
    return tasks.filter(pl.col("completed_at").is_null() & (pl.col("due_at") < _as_of_end(view, ruleset)))


def _aged_milestones(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule_id = "customer.milestone_aged"
    milestones = _in_scope(view["milestones"], view, ruleset)
    return milestones.filter(
        pl.col("completed_at").is_null()
        & pl.col("target_at").is_not_null()
        & (_elapsed(view, ruleset, "target_at") >= ruleset.by_segment(rule_id, "grace_business_days_by_segment"))
    )


def _milestone_key() -> pl.Expr:
    return pl.concat_str(pl.col("onboarding_id"), pl.lit(":"), pl.col("milestone"))


def task_overdue(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    return _emit(_overdue_tasks(view, ruleset), "task_id", ruleset.rule("customer.task_overdue").severity)


def task_blocks_first_value(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("customer.task_blocks_first_value")
    blocking = _overdue_tasks(view, ruleset).filter(pl.col("blocks_first_value"))
    return _emit(blocking, "task_id", rule.severity)


def no_response(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("customer.no_response")
    since = pl.coalesce("last_customer_response_at", "created_at")
    silent = _in_scope(view["customer_tasks"], view, ruleset).filter(
        pl.col("completed_at").is_null() & (_elapsed(view, ruleset, since) >= rule.param("business_days"))
    )
    return _emit(silent, "task_id", rule.severity)


def milestone_aged(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("customer.milestone_aged")
    return _emit(_aged_milestones(view, ruleset), _milestone_key(), _high_value_severity(rule))


def stalled_without_reason(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("customer.stalled_without_reason")
    unexplained = pl.col("reason_code").is_null()
    tasks = _emit(_overdue_tasks(view, ruleset).filter(unexplained), "task_id", rule.severity)
    milestones = _emit(_aged_milestones(view, ruleset).filter(unexplained), _milestone_key(), rule.severity)
    return pl.concat([tasks, milestones])


def first_value_without_evidence(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("customer.first_value_without_evidence")
    bare = view["milestones"].filter(
        (pl.col("milestone") == "first_value") & pl.col("completed_at").is_not_null() & pl.col("evidence").is_null()
    )
    return _emit(bare.unique("onboarding_id"), "onboarding_id", rule.severity)


PEOPLE_ORACLES: dict[str, Oracle] = {
    "handoff.incomplete_at_submission": incomplete_at_submission,
    "handoff.incomplete_before_kickoff": incomplete_before_kickoff,
    "handoff.no_success_criteria": no_success_criteria,
    "handoff.acceptance_wait": acceptance_wait,
    "handoff.late_correction": late_correction,
    "ownership.no_owner": no_owner,
    "ownership.missing_role": missing_role,
    "ownership.no_kickoff_task": no_kickoff_task,
    "ownership.kickoff_not_scheduled": kickoff_not_scheduled,
    "ownership.kickoff_not_completed": kickoff_not_completed,
    "ownership.kickoff_churn": kickoff_churn,
    "customer.task_overdue": task_overdue,
    "customer.task_blocks_first_value": task_blocks_first_value,
    "customer.no_response": no_response,
    "customer.milestone_aged": milestone_aged,
    "customer.stalled_without_reason": stalled_without_reason,
    "customer.first_value_without_evidence": first_value_without_evidence,
}
