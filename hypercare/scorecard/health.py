"""One health line per monitoring area of the guide: its bad signal, measured, with a trend."""

from __future__ import annotations

from dataclasses import dataclass

from hypercare.scorecard.config import SEVERITY_RANK
from hypercare.scorecard.context import Context
from hypercare.scorecard.formats import fmt, fmt_against


@dataclass(frozen=True)
class HealthArea:
    """One of the guide's twelve monitoring areas, with the rules that measure it.

    A rule entry ending in "." is an area prefix; every configured rule belongs to
    exactly one health area.
    """

    key: str
    name: str
    bad_signal: str
    rules: tuple[str, ...]

    def covers(self, rule_id: str) -> bool:
        return any(rule_id.startswith(r) if r.endswith(".") else rule_id == r for r in self.rules)

    @property
    def evaluated_by(self) -> frozenset[str]:
        """The evaluation areas whose runs its counts come from."""
        return frozenset(rule.split(".", 1)[0] for rule in self.rules)


HEALTH_AREAS = (
    HealthArea(
        "trigger",
        "Trigger health",
        "Onboarding starts before the deal is actually ready or starts late because the trigger missed",
        ("trigger.",),
    ),
    HealthArea("handoff", "Handoff quality", "Onboarding keeps chasing sales for basic context", ("handoff.",)),
    HealthArea(
        "account_setup",
        "Account setup",
        "New customers sit in limbo after close",
        ("ownership.no_owner", "ownership.missing_role", "ownership.no_kickoff_task"),
    ),
    HealthArea(
        "billing",
        "Billing readiness",
        "First invoice or revenue operations cleanup blocks onboarding",
        ("billing.",),
    ),
    HealthArea(
        "provisioning",
        "Provisioning",
        "Customers cannot start because internal setup is wrong or late",
        ("provisioning.",),
    ),
    HealthArea(
        "customer_tasks",
        "Customer tasks",
        "The workflow reports progress while the customer is stalled",
        ("customer.task_overdue", "customer.task_blocks_first_value", "customer.no_response"),
    ),
    HealthArea(
        "milestones",
        "Milestone SLAs",
        "Averages look fine while important customers age in a queue",
        (
            "ownership.kickoff_not_scheduled",
            "ownership.kickoff_not_completed",
            "ownership.kickoff_churn",
            "customer.milestone_aged",
        ),
    ),
    HealthArea(
        "backlog",
        "Exception backlog",
        "Exceptions become the new manual inbox",
        ("backlog.", "customer.stalled_without_reason"),
    ),
    HealthArea(
        "ai",
        "AI behavior",
        "Reviewers stop trusting automation or automation invents certainty",
        ("ai.",),
    ),
    HealthArea(
        "integration",
        "Integration health",
        "Status differs across systems and nobody knows which record is true",
        ("writeback.",),
    ),
    HealthArea(
        "audit",
        "Auditability",
        "Nobody can reconstruct why onboarding stalled",
        ("audit.", "contract."),
    ),
    HealthArea(
        "outcome",
        "Business outcome",
        "Automation creates tasks but not customer value",
        ("customer.first_value_without_evidence",),
    ),
)


def _health_signal(key: str, c: Context) -> str:
    """The one measured number that best shows each area's bad signal."""
    m = c.metric
    if key == "trigger":
        return (
            f"{c.count('trigger.missed_eligible')} missed, {c.count('trigger.premature_start')} premature "
            f"of {int(m('eligible_deals') or 0)} eligible deals"
        )
    if key == "handoff":
        return (
            f"complete at handoff {fmt(m('complete_at_handoff_rate'), 'pct')}, "
            f"before kickoff {fmt(m('complete_before_kickoff_rate'), 'pct')}"
        )
    if key == "account_setup":
        # At the precision of the stable-state check, so 1.01 never reads as a passing 1.0.
        p90, _ = fmt_against(m("time_to_owner.p90"), c.config.threshold("time_to_owner_p90_max"), "days")
        return f"{c.count('ownership.no_owner')} without owner; owner p90 {p90}"
    if key == "billing":
        return f"{c.count('billing.blocks_invoice_or_launch')} blocking invoice or launch"
    if key == "provisioning":
        return f"{int(m('provisioning_failures') or 0)} failed items"
    if key == "customer_tasks":
        return (
            f"{int(m('overdue_tasks.count') or 0)} overdue tasks, "
            f"{c.count('customer.task_blocks_first_value')} blocking first value"
        )
    if key == "milestones":
        high_value = c.metrics.get(c.as_of, "time_to_kickoff_scheduled.p90", "high_value", "true")
        return (
            f"{c.count('ownership.kickoff_not_completed')} kickoffs past SLA; "
            f"high-value kickoff scheduled p90 {fmt(high_value, 'days')}"
        )
    if key == "backlog":
        return (
            f"{c.count('backlog.aged_high_value')} aged high-value onboardings; "
            f"{c.findings.total(c.as_of)} open exceptions in total"
        )
    if key == "ai":
        return f"correction rate {fmt(m('corrected_rate'), 'pct')}, rejection rate {fmt(m('rejected_rate'), 'pct')}"
    if key == "integration":
        return f"{int(m('sync_errors') or 0)} sync errors, {c.count('writeback.drift')} records in drift"
    if key == "audit":
        return f"trace complete for {fmt(m('trace_complete_rate'), 'pct')} of onboardings past kickoff"
    return (
        f"{int(m('activated_onboardings') or 0)} activated (first use case done), "
        f"{int(m('first_value_reached') or 0)} reached first value; "
        f"p50 {fmt(m('time_to_first_value.p50'), 'days')} from eligible"
    )


def health_lines(c: Context, unevaluated: frozenset[str] = frozenset()) -> list[dict]:
    """Red, amber or green by the thresholds of `scorecard.health_status` (see HealthStatus).

    An area measured by a monitoring area that gave no verdict that day (in
    `unevaluated`) is "no verdict", never green: its missing findings are not zero, so it
    shows no count and no change.
    """
    counts = c.findings.by_rule(c.as_of)
    lines = []
    for area in HEALTH_AREAS:
        high = sum(n for (r, s), n in counts.items() if area.covers(r) and SEVERITY_RANK[s] >= 2)
        warn = sum(n for (r, s), n in counts.items() if area.covers(r) and s == "warn")
        missing = sorted(area.evaluated_by & unevaluated)
        lines.append(
            {
                "key": area.key,
                "area": area.name,
                "bad_signal": area.bad_signal,
                "status": "no verdict" if missing else c.config.health.status(high, warn),
                # Without a verdict the count is unknown, not zero (and not "better").
                "exceptions": None if missing else high + warn,
                "high": None if missing else high,
                "previous": c.previous_count(area.rules),
                "signal": (
                    f"no verdict: {', '.join(missing)} not evaluated on complete inputs"
                    if missing
                    else _health_signal(area.key, c)
                ),
            }
        )
    return lines
