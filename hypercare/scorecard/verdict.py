"""The stable-state verdict: the guide's ten questions, each strong or weak with its evidence.

Thresholds are configuration (`scorecard.stable_state.thresholds`). A question whose
measurement cannot be taken yet (no kickoff completed, no previous period) reads "not
enough data yet": it is not counted as weak, but it is not strong either, so it still
holds back expansion: the guide moves to steady state only when the evidence supports it.
"""

from __future__ import annotations

from hypercare.scorecard.context import Context
from hypercare.scorecard.formats import fmt_against


def _check(label: str, value: float | None, op: str, threshold: float, kind: str = "int") -> dict:
    ok = value is not None and (value <= threshold if op == "<=" else value >= threshold)
    shown, limit = fmt_against(value, threshold, kind)
    return {
        "label": label,
        "value": value,
        "op": op,
        "threshold": threshold,
        "format": kind,
        "ok": ok,
        "measured": value is not None,
        "shown": shown,
        "limit": limit,
    }


def _answer(checks: list[dict]) -> str:
    if all(check["ok"] for check in checks):
        return "strong"
    if any(not check["ok"] and check["measured"] for check in checks):
        return "weak"
    return "not enough data yet"


def _share(part: float, whole: float) -> float:
    return part / whole if whole else (0.0 if not part else 1.0)


def stable_state_verdict(c: Context, reasons: list[tuple], exceptions_total: int, reopened: int) -> dict:
    t = c.config.threshold
    m = c.metric
    eligible = m("eligible_deals") or 0
    missed, premature = c.count("trigger.missed_eligible"), c.count("trigger.premature_start")
    stalled = c.metrics.by(c.as_of, "stalled", "reason_code")
    stalled_total = sum(v or 0 for v in stalled.values())
    open_tasks = m("queue.customer_response.count") or 0
    today_reasons = [(r, n) for day, r, _s, n in reasons if day == c.as_of]
    unclassified = sum(n for r, n in today_reasons if r == "unclassified")
    previous_exceptions = c.findings.total(c.previous) if c.previous else None
    growth = None
    if previous_exceptions:
        growth = (exceptions_total - previous_exceptions) / previous_exceptions
    uncontrolled = c.count(
        (
            "billing.unreviewed_change",
            "provisioning.override_unapproved",
            "ai.sensitive_change_unapproved",
            "ai.sensitive_access_unlogged",
        )
    )
    questions = [
        (
            "Are eligible customers captured?",
            "Missed and premature onboarding starts are rare and explainable",
            [
                _check(
                    f"missed ({missed}) + premature ({premature}) of {int(eligible)} eligible deals",
                    _share(missed + premature, eligible),
                    "<=",
                    t("missed_or_premature_share_max"),
                    "pct",
                )
            ],
        ),
        (
            "Is the handoff usable?",
            "Most accounts are complete before kickoff",
            [
                _check(
                    "complete before kickoff",
                    m("complete_before_kickoff_rate"),
                    ">=",
                    t("complete_before_kickoff_rate_min"),
                    "pct",
                )
            ],
        ),
        (
            "Are owners assigned quickly?",
            "Every new customer has a named onboarding owner and fallback",
            [
                _check(
                    "onboardings past SLA without owner", c.count("ownership.no_owner"), "<=", t("without_owner_max")
                ),
                _check(
                    "time to owner p90 (business days)",
                    m("time_to_owner.p90"),
                    "<=",
                    t("time_to_owner_p90_max"),
                    "days",
                ),
            ],
        ),
        (
            "Are billing and provisioning controlled?",
            "Sensitive setup changes are validated, approved, and logged",
            [
                _check(
                    "unreviewed billing changes, unapproved overrides and AI sensitive actions",
                    uncontrolled,
                    "<=",
                    t("uncontrolled_sensitive_changes_max"),
                )
            ],
        ),
        (
            "Are customers moving?",
            "Customer tasks have owners, ages, reminders, and escalation paths",
            [
                _check(
                    f"stalled tasks and milestones with a reason code ({int(stalled_total)} stalled)",
                    1.0 - _share(stalled.get("unclassified") or 0, stalled_total),
                    ">=",
                    t("stalled_with_reason_share_min"),
                    "pct",
                ),
                _check(
                    f"open tasks with no customer response past the threshold ({int(open_tasks)} open)",
                    _share(c.count("customer.no_response"), open_tasks),
                    "<=",
                    t("silent_tasks_share_max"),
                    "pct",
                ),
            ],
        ),
        (
            "Are SLAs visible?",
            "Every stuck account has a queue, reason code, owner, and next action",
            [
                _check(
                    f"exceptions with a reason code ({exceptions_total} exceptions)",
                    1.0 - _share(unclassified, exceptions_total),
                    ">=",
                    t("exceptions_classified_share_min"),
                    "pct",
                )
            ],
        ),
        (
            "Is AI trustworthy enough?",
            "Human correction rate is understood and high-risk actions require review",
            [
                _check("AI correction rate", m("corrected_rate"), "<=", t("ai_correction_rate_max"), "pct"),
                _check(
                    "high-risk AI actions without review",
                    c.count(
                        ("ai.customer_email_unreviewed", "ai.sensitive_change_unapproved", "ai.low_confidence_routed")
                    ),
                    "<=",
                    t("ai_unreviewed_high_risk_max"),
                ),
            ],
        ),
        (
            "Are integrations reliable?",
            "CRM, CS, project, billing, product, and notification writebacks are traceable",
            [
                _check(
                    "failed writebacks and records in drift",
                    c.count(("writeback.failed", "writeback.drift")),
                    "<=",
                    t("writeback_failures_max"),
                ),
                _check(
                    "trace complete past kickoff",
                    m("trace_complete_rate"),
                    ">=",
                    t("trace_complete_rate_min"),
                    "pct",
                ),
            ],
        ),
        (
            "Is first value measurable?",
            "The team can show when each customer reached the agreed value milestone",
            [
                _check(
                    "customers that reached first value",
                    m("first_value_reached") or 0,
                    ">=",
                    t("first_value_reached_min"),
                ),
                _check(
                    "first value claimed without evidence",
                    c.count("customer.first_value_without_evidence"),
                    "<=",
                    t("first_value_without_evidence_max"),
                ),
            ],
        ),
        (
            "Is there a tuning backlog?",
            "Repeated exceptions become prioritized fixes, not folklore",
            [
                _check(
                    f"exception growth vs previous scorecard ({previous_exceptions} -> {exceptions_total})"
                    if previous_exceptions is not None
                    else f"exception growth vs previous scorecard ({exceptions_total} now)",
                    growth,
                    "<=",
                    t("exception_growth_max"),
                    "pct",
                ),
                _check(
                    "exceptions that reopened after being resolved",
                    _share(reopened, exceptions_total),
                    "<=",
                    t("reopened_share_max"),
                    "pct",
                ),
            ],
        ),
    ]
    answers = [
        {
            "number": i,
            "question": question,
            "stable_signal": signal,
            "strong": _answer(checks) == "strong",
            "answer": _answer(checks),
            "checks": checks,
        }
        for i, (question, signal, checks) in enumerate(questions, start=1)
    ]
    weak = sum(a["answer"] == "weak" for a in answers)
    unmeasured = sum(a["answer"] == "not enough data yet" for a in answers)
    limit = c.config.weak_limit
    expand = weak < limit and not unmeasured
    if expand:
        message = "Stable enough to consider expanding automation"
        flip = f"{limit - weak} more weak question{'s' if limit - weak > 1 else ''} would stop expansion"
    elif weak >= limit:
        message = f"Do not expand automation: {weak} of 10 questions are weak"
        flip = f"{weak - limit + 1} fewer weak question{'s' if weak - limit + 1 > 1 else ''} would allow expansion"
        if unmeasured:
            flip += f" once the {unmeasured} without enough data {'are' if unmeasured > 1 else 'is'} measured"
    else:
        message = f"Do not expand automation yet: {unmeasured} question{'s lack' if unmeasured > 1 else ' lacks'} data"
        flip = "expansion needs every question measured and fewer than " + f"{limit} weak"
    return {
        "questions": answers,
        "weak": weak,
        "strong": sum(a["answer"] == "strong" for a in answers),
        "unmeasured": unmeasured,
        "weak_limit": limit,
        "expand_automation": expand,
        "message": message,
        "flip": flip,
    }
