"""The guide's first dashboard (fewer than 15 widgets) and the weekly review pack."""

from __future__ import annotations

from collections import defaultdict

from hypercare.scorecard.context import Context
from hypercare.scorecard.formats import decisive_digits, fmt

REVIEW_AGENDA = (
    ("0-5", "Top-line health", "Is the workflow stable enough to keep live?"),
    ("5-10", "Handoff quality and trigger health", "Which fields, triggers, or source records need fixes?"),
    ("10-15", "SLA and backlog", "What is stuck and who owns it?"),
    ("15-20", "Billing, provisioning, and customer tasks", "Which setup blockers need escalation?"),
    ("20-25", "AI and integration behavior", "Which prompts, thresholds, writebacks, or logs need fixes?"),
    ("25-30", "Actions", "What changes before the next review?"),
)


def _week_sum(series: dict, metric: str, weeks_back: int) -> tuple[float | None, int]:
    """Sum of a daily metric over one trailing week and how many of its days were evaluated."""
    values = series[metric]
    end = len(values) - 7 * weeks_back
    window = values[max(0, end - 7) : max(0, end)]
    known = [v for v in window if v is not None]
    return (sum(known) if known else None), len(known)


def _table(columns: list[str], formats: list[str], rows: list[list], digits: list[int] | None = None) -> dict:
    """A widget's table; `digits` adds decimals to a column where a headline shows them."""
    return {"columns": columns, "formats": formats, "rows": rows, "digits": digits or [0] * len(columns)}


def _widget(
    widget_id: str,
    title: str,
    owner: str,
    value,
    *,
    kind: str = "int",
    note: str = "",
    previous=None,
    previous_label: str | None = "previous scorecard",
    better: str | None = "lower",
    table: dict | None = None,
    chart: str | None = None,
) -> dict:
    """One dashboard widget: a headline value with its trend, a note, and an optional table and chart."""
    return {
        "id": widget_id,
        "title": title,
        "owner": owner,
        "value": value,
        "format": kind,
        "previous": previous,
        "previous_label": previous_label if previous is not None else None,
        "better": better,
        "note": note,
        "table": table,
        "chart": chart,
    }


def _label(key: str) -> str:
    return key.replace("_", " ")


def widgets(c: Context, data: dict) -> list[dict]:
    """The guide's first dashboard, fewer than 15 widgets (alert quality only when alerting exists).

    Time to owner and time to kickoff scheduled share one widget so that the optional
    alert-quality widget still keeps the dashboard under fifteen.
    """
    m, day = c.metric, c.as_of
    series = data["series"]
    eligible_week, evaluated_days = _week_sum(series, "eligible_deals_new", 0)
    eligible_before, _ = _week_sum(series, "eligible_deals_new", 1)
    created_week, _ = _week_sum(series, "projects_created", 0)
    created_before, _ = _week_sum(series, "projects_created", 1)
    # Before go-live nothing was monitored: no count, rather than a zero.
    week_before = "no earlier week monitored" if created_before is None else f"{int(created_before)} the week before"
    durations = data["durations"]
    owner_p90 = m("time_to_owner.p90")
    owner_p90_digits = max(
        decisive_digits([owner_p90, c.previous_metric("time_to_owner.p90")], "days"),
        decisive_digits([owner_p90, c.config.threshold("time_to_owner_p90_max")], "days"),
    )
    queues = data["queues"]
    oldest_queue = max((q for q in queues if q["oldest"] is not None), key=lambda q: q["oldest"], default=None)
    blockers = next(q for q in queues if q["queue"] == "provisioning_blockers")
    reasons = data["exceptions_by_reason"]
    first_value_rows = durations["time_to_first_value"]
    shown = 5 if c.previous else 4  # the "Previous" column only when there is a previous scorecard
    out = [
        _widget(
            "eligible_this_week",
            "Eligible closed-won customers this week",
            "RevOps",
            eligible_week,
            previous=eligible_before,
            previous_label="the 7 days before",
            better=None,
            note=f"{int(m('eligible_deals') or 0)} eligible deals on the books today; "
            f"{int(m('eligible_deals_new') or 0)} became eligible today"
            + ("" if evaluated_days == 7 else f"; {evaluated_days} of 7 days evaluated"),
            chart="flow",
        ),
        _widget(
            "projects_and_missed",
            "Onboarding projects created and missed",
            "RevOps",
            c.count("trigger.missed_eligible"),
            previous=c.previous_count("trigger.missed_eligible"),
            note=f"eligible deals missed (no project after the trigger SLA); {int(created_week or 0)} projects "
            f"created this week ({week_before}); "
            f"{c.count('trigger.duplicate_project')} duplicate, {c.count('trigger.premature_start')} premature",
        ),
        _widget(
            "complete_at_submission",
            "Handoff complete-at-submission rate",
            "RevOps + sales ops",
            m("complete_at_handoff_rate"),
            kind="pct",
            previous=c.previous_metric("complete_at_handoff_rate"),
            better="higher",
            note=f"complete before kickoff: {fmt(m('complete_before_kickoff_rate'), 'pct')}",
            table=_table(
                ["Segment or sales team", "At submission", "Before kickoff"],
                ["text", "pct", "pct"],
                [
                    [
                        _label(value) if dimension == "segment" else f"team {value}",
                        m("complete_at_handoff_rate", day, dimension, value),
                        m("complete_before_kickoff_rate", day, dimension, value),
                    ]
                    for dimension in ("segment", "sales_team")
                    for value in c.metrics.by(day, "complete_at_handoff_rate", dimension)
                ],
            ),
        ),
        _widget(
            "time_to_owner_and_kickoff",
            "Time from eligible trigger to owner assignment and to kickoff scheduled",
            "CS ops (owner) + onboarding lead (kickoff)",
            m("time_to_owner.p90"),
            kind="days",
            previous=c.previous_metric("time_to_owner.p90"),
            note="headline: time to owner p90; business days, p50 and p90 by segment and for high-value accounts",
            table=_table(
                ["", "Owner p50", "Owner p90", "Kickoff sched. p50", "Kickoff sched. p90"],
                ["text", "days", "days", "days", "days"],
                [
                    [o["label"], o["p50"], o["p90"], k["p50"], k["p90"]]
                    for o, k in zip(durations["time_to_owner"], durations["time_to_kickoff_scheduled"], strict=True)
                ],
                # Owner p90 at the precision of its headline and of the stable-state check, so
                # the table never shows 1.0 beside a 1.01 headline.
                [0, 0, owner_p90_digits, 0, 0],
            ),
            chart="durations",
        ),
        _widget(
            "oldest_by_queue",
            "Oldest item by onboarding queue",
            "Workflow owner",
            oldest_queue["oldest"] if oldest_queue else None,
            kind="days",
            note=(
                f"oldest: {oldest_queue['label'].lower()} ({oldest_queue['oldest_item']})"
                if oldest_queue
                else "every queue is empty"
            ),
            table=_table(
                ["Queue", "Waiting", "High value", "p50", "p90", "Oldest", "Oldest item"],
                ["text", "int", "int", "days", "days", "days", "text"],
                [
                    [q[k] for k in ("label", "waiting", "high_value_waiting", "p50", "p90", "oldest", "oldest_item")]
                    for q in queues
                ],
            ),
            chart="queues",
        ),
        _widget(
            "billing_blockers",
            "Billing readiness blocker count",
            "Finance + RevOps",
            c.count("billing.blocks_invoice_or_launch"),
            previous=c.previous_count("billing.blocks_invoice_or_launch"),
            note="accounts whose billing gaps block invoice or launch within a week; "
            f"{int(m('billing_findings') or 0)} billing findings in all",
            table=_table(
                ["Segment", "Blockers"],
                ["text", "int"],
                [[_label(k), v] for k, v in c.metrics.by(day, "billing_blockers", "segment").items()],
            ),
        ),
        _widget(
            "provisioning_failures",
            "Provisioning failure count and oldest blocker",
            "Product/systems owner",
            m("provisioning_failures") or 0,
            previous=c.previous_metric("provisioning_failures", 0.0),
            note=(
                f"oldest blocker {blockers['oldest_item']}: {fmt(blockers['oldest'], 'days')} "
                f"({int(blockers['waiting'])} failed or overdue items)"
                if blockers["oldest"] is not None
                else "no failed or overdue provisioning items"
            ),
            table=_table(
                ["Item type", "Failed"],
                ["text", "int"],
                [[_label(k), v] for k, v in c.metrics.by(day, "provisioning_failures", "item_type").items()],
            ),
        ),
        _widget(
            "overdue_tasks",
            "Customer task overdue count",
            "Onboarding owner",
            m("overdue_tasks.count") or 0,
            previous=c.previous_metric("overdue_tasks.count", 0.0),
            note=f"{c.count('customer.task_blocks_first_value')} block first value; "
            f"{int(m('overdue_tasks.count', day, 'high_value', 'true') or 0)} on high-value accounts",
            table=_table(
                ["Segment", "Overdue"],
                ["text", "int"],
                [[_label(k), v] for k, v in c.metrics.by(day, "overdue_tasks.count", "segment").items()],
            ),
        ),
        _widget(
            "exceptions_by_reason",
            "Exception count by reason code",
            "Workflow owner",
            sum(r["total"] for r in reasons),
            previous=sum(r["previous"] or 0 for r in reasons) if c.previous else None,
            note="exceptions are findings of severity warn and above",
            table=_table(
                ["Reason code", "High/critical", "Warn", "Total", "Previous"][:shown],
                ["text", "int", "int", "int", "int"][:shown],
                [
                    [_label(r["reason_code"]), r["high"], r["warn"], r["total"], r["previous"]][
                        : 5 if c.previous else 4
                    ]
                    for r in reasons
                ],
            ),
            chart="reasons",
        ),
        _widget(
            "ai_correction_rate",
            "AI suggestion correction rate",
            "Automation owner",
            m("corrected_rate"),
            kind="pct",
            previous=c.previous_metric("corrected_rate"),
            note=f"accepted {fmt(m('accepted_rate'), 'pct')}, rejected {fmt(m('rejected_rate'), 'pct')} "
            "of reviewed suggestions",
            table=_table(
                ["Kind", "Corrected", "Rejected"],
                ["text", "pct", "pct"],
                [
                    [_label(k), v, m("rejected_rate", day, "kind", k)]
                    for k, v in c.metrics.by(day, "corrected_rate", "kind").items()
                ],
            ),
        ),
        _widget(
            "failed_writebacks",
            "Failed writebacks or sync errors",
            "Technical owner",
            m("sync_errors") or 0,
            previous=c.previous_metric("sync_errors", 0.0),
            note=f"{c.count('writeback.drift')} onboardings where systems disagree on package, seats or scope",
            table=_table(
                ["Target system", "Sync errors", "Failure rate"],
                ["text", "int", "pct"],
                [
                    [_label(k), c.metrics.get(day, "sync_errors", "target_system", k) or 0, v]
                    for k, v in c.metrics.by(day, "failure_rate", "target_system").items()
                ],
            ),
        ),
        _widget(
            "time_to_first_value",
            "Time to first value by segment",
            "CS ops",
            m("time_to_first_value.p50"),
            kind="days",
            previous=c.previous_metric("time_to_first_value.p50"),
            note=(
                f"{int(m('first_value_reached') or 0)} customers reached first value; headline p50, "
                "business days from eligible"
                if m("first_value_reached")
                else "No customer has reached first value yet"
            ),
            table=_table(
                ["", "p50", "p90"],
                ["text", "days", "days"],
                [[r["label"], r["p50"], r["p90"]] for r in first_value_rows],
            ),
            chart="first_value" if any(r["p50"] is not None for r in first_value_rows) else None,
        ),
        _widget(
            "top_fixes",
            "Top three workflow fixes",
            "Workflow owner",
            None,
            kind="text",
            better=None,
            note="ranked by impact: count, age of the oldest open exception (business days) and ARR at risk",
            table=_table(
                ["#", "Fix", "Owner", "Open", "Oldest", "ARR at risk"],
                ["int", "text", "text", "int", "days", "money"],
                [
                    [
                        f["rank"],
                        f"{f['rule_name']} ({f['reason']})",
                        ", ".join(f["owners"]),
                        f["findings"],
                        f["oldest_days"],
                        f["arr_at_risk"],
                    ]
                    for f in data["fixes"][:3]
                ],
            ),
        ),
    ]
    quality = data["alert_quality"]
    if quality is not None:
        out.append(
            _widget(
                "alert_quality",
                "Alert quality",
                "Workflow owner",
                quality["ack_rate"],
                kind="pct",
                better="higher",
                note=f"acknowledged share of {quality['first_alerts']} alerted episodes from {quality['start']} "
                f"to {data['as_of']}; {quality['sent']} alerts sent with repeats and escalations, "
                f"{quality['reopened']} reopened, {quality['silenced']} silenced",
                table=_table(
                    ["Rule", "Role", "Sent", "Repeats", "Acked", "Reopened"],
                    ["text", "text", "int", "int", "int", "int"],
                    [
                        [r["rule_name"], r["owner"], r["sent"], r["repeats"], r["acknowledged"], r["reopened"]]
                        for r in quality["rows"]
                    ],
                ),
            )
        )
    return out


def _top_rules(c: Context, data: dict, prefixes: tuple[str, ...], limit: int = 3) -> list[str]:
    rows = [
        r
        for r in data["findings_by_rule"]
        if r["rule_id"].startswith(prefixes) and r["findings"] and r["severity"] != "info"
    ]
    totals: dict[str, int] = defaultdict(int)
    before: dict[str, int] = defaultdict(int)
    for r in rows:
        totals[r["rule_id"]] += r["findings"]
        before[r["rule_id"]] += r["previous"] or 0
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [
        f"{c.config.rule_name(rule)}: {n} open" + (f" (previous scorecard {before[rule]})" if c.previous else "")
        for rule, n in ranked
    ]


def review_pack(c: Context, data: dict) -> dict:
    verdict = data["verdict"]
    weak = [q["question"] for q in verdict["questions"] if q["answer"] == "weak"]
    unmeasured = [q["question"] for q in verdict["questions"] if q["answer"] == "not enough data yet"]
    red = [h["area"] for h in data["health"] if h["status"] == "red"]
    missing_fields = sorted(
        c.metrics.by(c.as_of, "missing_at_submission", "field").items(), key=lambda kv: (-(kv[1] or 0), kv[0])
    )[:3]
    queues = sorted((q for q in data["queues"] if q["oldest"] is not None), key=lambda q: -q["oldest"])[:3]
    widgets = {w["id"]: w for w in data["widgets"]}
    shown = c.config.fix_ranking.top
    items = [
        [
            verdict["message"],
            "Weak: " + ("; ".join(weak) if weak else "none"),
            *(["Not enough data yet: " + "; ".join(unmeasured)] if unmeasured else []),
            "Red areas: " + (", ".join(red) if red else "none"),
        ],
        [
            f"Complete at submission {fmt(widgets['complete_at_submission']['value'], 'pct')}; most missing fields: "
            + (", ".join(f"{k} ({int(v or 0)})" for k, v in missing_fields) or "none"),
            *_top_rules(c, data, ("trigger.", "handoff.", "contract.")),
        ],
        [
            *(
                f"{q['label']}: oldest {fmt(q['oldest'], 'days')} ({q['oldest_item']}), {int(q['waiting'])} waiting"
                for q in queues
            ),
            *_top_rules(c, data, ("ownership.", "backlog.", "customer.milestone_aged"), limit=2),
        ],
        [
            f"Billing blockers: {widgets['billing_blockers']['value']}",
            f"Provisioning failures: {int(widgets['provisioning_failures']['value'])}; "
            + widgets["provisioning_failures"]["note"],
            f"Overdue customer tasks: {int(widgets['overdue_tasks']['value'])}; {widgets['overdue_tasks']['note']}",
        ],
        [
            f"AI correction rate {fmt(widgets['ai_correction_rate']['value'], 'pct')}",
            f"Failed writebacks or sync errors: {int(widgets['failed_writebacks']['value'])}",
            *_top_rules(c, data, ("ai.", "writeback.", "audit."), limit=2),
        ],
        [
            *(
                f"#{f['rank']} {f['rule_name']} ({f['reason']}): {f['kind_label']}; "
                f"owner {', '.join(f['owners'])}, due {data['next_review']}"
                for f in data["fixes"][:3]
            ),
            f"Agree owner and date for each of the {min(shown, len(data['fixes']))} ranked fixes below"
            if data["fixes"]
            else "No open exceptions: no fix to rank",
        ],
    ]
    return {
        "top": c.config.fix_ranking.top,
        "slots": [
            {"minutes": minutes, "topic": topic, "decision": decision, "items": slot_items}
            for (minutes, topic, decision), slot_items in zip(REVIEW_AGENDA, items, strict=True)
        ],
    }
