"""What the scorecard says for one as-of date, compiled from the audit store only.

The result is a plain JSON-ready dict: it is archived as is, rendered to HTML and text,
and drawn as charts, so every number on the page can be traced back to it. The
"previous period" is the previous scorecard send day of the cadence (the day before
when there is none); weekly widgets use the trailing seven days ending on the as-of day.
Daily series cover the hypercare period, from the go-live date (or the last 14 days when
none is configured) to the as-of day; nothing before go-live is drawn.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import psycopg

from hypercare.alerts.outbox import journey_link
from hypercare.areas import AREAS
from hypercare.calendar import BusinessCalendar
from hypercare.db import named_queries, sibling
from hypercare.forecast import due_frame, due_groups, horizon
from hypercare.ruleset import RuleSet
from hypercare.scorecard.cadence import cadence_day, next_review_day, previous_send_day
from hypercare.scorecard.config import SEVERITY_RANK, ScorecardConfig, capitalized, plain
from hypercare.scorecard.context import SEGMENTS, Context, FindingCounts, MetricTable
from hypercare.scorecard.dashboard import review_pack, widgets
from hypercare.scorecard.exceptions import DayExceptions, read_journeys
from hypercare.scorecard.health import HEALTH_AREAS, health_lines
from hypercare.scorecard.summary import summary
from hypercare.scorecard.verdict import stable_state_verdict

QUEUES = (
    ("handoff_acceptance", "Handoff acceptance"),
    ("owner_assignment", "Owner assignment"),
    ("kickoff_scheduling", "Kickoff scheduling"),
    ("pre_kickoff_cleanup", "Pre-kickoff cleanup"),
    ("customer_response", "Customer response"),
    ("provisioning_blockers", "Provisioning blockers"),
    ("ai_review", "AI review"),
)

NAMED_METRICS = [
    "eligible_deals",
    "eligible_deals_new",
    "projects_created",
    "complete_at_handoff_rate",
    "complete_before_kickoff_rate",
    "missing_at_submission",
    *(
        f"{name}.{q}"
        for name in ("time_to_owner", "time_to_kickoff_scheduled", "time_to_first_value")
        for q in ("p50", "p90")
    ),
    "billing_blockers",
    "billing_findings",
    "provisioning_failures",
    "overdue_tasks.count",
    "stalled",
    "accepted_rate",
    "corrected_rate",
    "rejected_rate",
    "sync_errors",
    "failure_rate",
    "trace_complete_rate",
    "first_value_reached",
    "activated_onboardings",
]

SERIES_METRICS = ["eligible_deals_new", "projects_created", "missed"]
SERIES_MAX_DAYS = 90
ALERT_ROWS_SHOWN = 8
COUNTED_ALERT_FIELDS = ("first_alerts", "repeats", "sent", "acknowledged", "resolved", "reopened", "silenced")

LOOP_STAGES = (
    ("capture", "Capture"),
    ("validate", "Validate"),
    ("assign", "Assign"),
    ("provision", "Provision"),
    ("customer_tasks", "Customer tasks"),
    ("escalate", "Escalate"),
    ("write_back", "Write back"),
    ("measure_value", "Measure value"),
)


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _fetch(conn: psycopg.Connection, name: str, params: dict) -> list[tuple]:
    return conn.execute(named_queries("scorecard")[name], params).fetchall()


class _Inline:
    """An executor that runs each call at once, in the caller's thread."""

    @staticmethod
    def submit(fn, *args) -> Future:
        done: Future = Future()
        done.set_result(fn(*args))
        return done


@contextmanager
def _reads_beside(conn: psycopg.Connection, allowed: bool) -> Iterator[tuple[psycopg.Connection, object]]:
    """A connection and an executor for reads that can run beside `conn`'s: a second
    connection in a worker thread when `allowed`, else `conn` itself, inline."""
    if not allowed:
        yield conn, _Inline()
        return
    with sibling(conn) as other, ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorecard") as pool:
        yield other, pool


def compile_data(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet, config: ScorecardConfig) -> dict:
    """Everything the scorecard of `as_of` shows; raises LookupError if the day was never evaluated.

    A second connection sees committed rows only: it reads beside `conn` only when `conn`
    holds no transaction of its own (whose rows it would miss, or whose locks it would wait
    on). The reads here are then one transaction, closed at the end.
    """
    allowed = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        return _compile(conn, as_of, ruleset, config, allowed)


def _compile(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet, config: ScorecardConfig, beside: bool) -> dict:
    calendar = ruleset.calendar
    cadence = cadence_day(config.cadence, calendar, as_of)
    previous = previous_send_day(config.cadence, calendar, as_of) or as_of - dt.timedelta(days=1)
    days = [as_of, previous]
    runs = _fetch(conn, "evaluated_areas", {"days": days})
    today_runs = {area: version for day, area, version in runs if day == as_of}
    if not today_runs:
        raise LookupError(f"no evaluation runs for {as_of}; evaluate the day before compiling its scorecard")
    findings = FindingCounts(_fetch(conn, "findings_by_rule", {"days": days}))
    reasons = _fetch(conn, "exceptions_by_reason", {"days": days})
    metrics = MetricTable(_fetch(conn, "metrics", {"days": days, "metrics": NAMED_METRICS}))
    period_start = _period_start(config, as_of)
    series = _fetch(conn, "metric_series", {"start": period_start, "end": as_of, "metrics": SERIES_METRICS})
    period_days = [period_start + dt.timedelta(days=i) for i in range((as_of - period_start).days + 1)]
    has_previous = any(day == previous for day, _, _ in runs)
    context = Context(as_of, previous if has_previous else None, findings, metrics, config)
    # The day-scoped reads scale with a day's findings (300k exceptions at 100k customers):
    # the forecasts and the control loop's journeys are read on a second connection
    # meanwhile, the exceptions with their episodes and deals on this one.
    with _reads_beside(conn, beside) as (other, pool):
        upcoming = pool.submit(due_soon, other, as_of, config, calendar)
        journeys = pool.submit(read_journeys, other, as_of)
        alert_quality = _alert_quality(conn, config, period_start, as_of, calendar.as_of_end(as_of))
        exceptions = DayExceptions.read(conn, as_of)
        journeys, upcoming = journeys.result(), upcoming.result()
    exceptions_total, reopened = exceptions.counts()
    fixes = _rank_fixes(exceptions.fixes(), exceptions.accounts(config.accounts_per_fix), config, calendar, as_of)
    loop = _control_loop(exceptions.control_loop(journeys))
    verdict = stable_state_verdict(context, reasons, exceptions_total, reopened)
    data = {
        "as_of": as_of.isoformat(),
        "weekday": as_of.strftime("%A"),
        "go_live": _iso(config.cadence.go_live),
        "hypercare_day": cadence.hypercare_day,
        "phase": cadence.phase,
        "rhythm": cadence.rhythm,
        "question": cadence.question,
        "send_day": cadence.send,
        "cadence_line": cadence.line(),
        "review_day": cadence.review_pack,
        "next_review": _iso(next_review_day(config.cadence, calendar, as_of)),
        "previous_as_of": _iso(context.previous),
        "week": {"start": _iso(as_of - dt.timedelta(days=6)), "end": as_of.isoformat()},
        "rule_versions": sorted(set(today_runs.values())),
        "previous_rule_versions": sorted({v for day, _, v in runs if day == previous}),
        "areas_evaluated": sorted(today_runs),
        "areas_missing": sorted(set(AREAS) - set(today_runs)),
        "currency": config.currency,
        "series": _series(series, period_start, as_of),
        "findings_by_rule": _findings_by_rule(findings, as_of, context.previous),
        "findings_by_area": _findings_by_area(findings, as_of, context.previous),
        "exceptions_by_reason": _reasons(reasons, as_of, context.previous),
        "durations": _durations(metrics, as_of),
        "queues": _queues(metrics, as_of),
        "health": health_lines(context, frozenset(AREAS) - set(today_runs)),
        "control_loop": loop,
        "verdict": verdict,
        "fixes": fixes,
        "alert_quality": alert_quality,
        "health_legend": config.health.legend(),
        "due_soon": upcoming,
    }
    _add_area_trends(
        data,
        FindingCounts(_fetch(conn, "findings_by_rule", {"days": period_days})),
        _fetch(conn, "evaluated_areas", {"days": period_days}),
        period_days,
    )
    data["targets"] = {"time_to_owner_p90": config.threshold("time_to_owner_p90_max")}
    data["widgets"] = widgets(context, data)
    data["review"] = review_pack(context, data) if cadence.review_pack else None
    data["summary"] = summary(data)
    return data


def _period_start(config: ScorecardConfig, as_of: dt.date) -> dt.date:
    """First day of the daily series: go-live, or 14 days back without one (or before it)."""
    go_live = config.cadence.go_live
    if go_live is not None and go_live <= as_of:
        return max(go_live, as_of - dt.timedelta(days=SERIES_MAX_DAYS - 1))
    return as_of - dt.timedelta(days=13)


def _series(rows: list[tuple], start: dt.date, as_of: dt.date) -> dict:
    days = [start + dt.timedelta(days=i) for i in range((as_of - start).days + 1)]
    values = {(day, metric): value for day, metric, value in rows}
    evaluated = {day for day, _, _ in rows}
    return {
        "days": [d.isoformat() for d in days],
        **{
            metric: [values.get((d, metric), 0.0 if d in evaluated else None) for d in days]
            for metric in SERIES_METRICS
        },
    }


def _add_area_trends(data: dict, findings: FindingCounts, runs: list[tuple], days: list[dt.date]) -> None:
    """Each health line's exceptions per day over the series' days (None where one of its
    areas has no run that day: not evaluated, or no verdict)."""
    evaluated: dict[dt.date, set[str]] = {}
    for day, area, _version in runs:
        evaluated.setdefault(day, set()).add(area)
    by_key = {area.key: area for area in HEALTH_AREAS}
    for line in data["health"]:
        area = by_key[line["key"]]
        line["trend"] = [
            findings.count(day, area.rules) if area.evaluated_by <= evaluated.get(day, set()) else None for day in days
        ]


def _findings_by_rule(findings: FindingCounts, as_of: dt.date, previous: dt.date | None) -> list[dict]:
    today = findings.by_rule(as_of)
    before = findings.by_rule(previous) if previous else {}
    keys = sorted(set(today) | set(before))
    return [
        {
            "rule_id": rule_id,
            "severity": severity,
            "findings": today.get((rule_id, severity), 0),
            "previous": before.get((rule_id, severity), 0) if previous else None,
        }
        for rule_id, severity in keys
    ]


def _findings_by_area(findings: FindingCounts, as_of: dt.date, previous: dt.date | None) -> dict:
    out = {}
    for area in AREAS:
        prefix = (f"{area}.",)
        out[area] = {
            "findings": findings.count(as_of, prefix, exceptions_only=False),
            "exceptions": findings.count(as_of, prefix),
            "previous": findings.count(previous, prefix) if previous else None,
        }
    return out


def _reasons(rows: list[tuple], as_of: dt.date, previous: dt.date | None) -> list[dict]:
    table: dict[str, dict] = {}
    for day, reason, severity, n in rows:
        entry = table.setdefault(reason, {"reason_code": reason, "high": 0, "warn": 0, "total": 0, "previous": 0})
        if day == as_of:
            entry["high" if SEVERITY_RANK[severity] >= 2 else "warn"] += n
            entry["total"] += n
        elif day == previous:
            entry["previous"] += n
    out = sorted(table.values(), key=lambda e: (-e["total"], e["reason_code"]))
    if previous is None:
        for entry in out:
            entry["previous"] = None
    return out


def _duration_rows(metrics: MetricTable, day: dt.date, name: str, segments: list[str]) -> list[dict]:
    views = [("All", "all", "all")] + [(s.replace("_", " "), "segment", s) for s in segments]
    views.append(("High value", "high_value", "true"))
    rows = []
    for label, dimension, value in views:
        p50 = metrics.get(day, f"{name}.p50", dimension, value)
        p90 = metrics.get(day, f"{name}.p90", dimension, value)
        rows.append({"label": label, "p50": p50, "p90": p90})
    return rows


def _durations(metrics: MetricTable, day: dt.date) -> dict:
    names = ("time_to_owner", "time_to_kickoff_scheduled", "time_to_first_value")
    # Every segment the day measured, "unknown" included: a row missing its segment is shown, not dropped.
    segments = sorted(set(SEGMENTS).union(*(metrics.by(day, f"{name}.p50", "segment") for name in names)))
    return {name: _duration_rows(metrics, day, name, segments) for name in names}


def _queues(metrics: MetricTable, day: dt.date) -> list[dict]:
    out = []
    for key, label in QUEUES:
        base = f"queue.{key}"
        detail = metrics.detail(day, f"{base}.max") or {}
        out.append(
            {
                "queue": key,
                "label": label,
                "waiting": metrics.get(day, f"{base}.count") or 0,
                "p50": metrics.get(day, f"{base}.p50"),
                "p90": metrics.get(day, f"{base}.p90"),
                "oldest": metrics.get(day, f"{base}.max"),
                "oldest_item": next(iter(detail.values()), None) if isinstance(detail, dict) else None,
                "high_value_waiting": metrics.get(day, f"{base}.count", "high_value", "true") or 0,
            }
        )
    return out


def _control_loop(rows: list[tuple]) -> dict:
    counts = {stage: (customers, stuck) for stage, customers, stuck in rows}
    stages = [
        {"stage": key, "label": label, "customers": counts.get(key, (0, 0))[0], "stuck": counts.get(key, (0, 0))[1]}
        for key, label in LOOP_STAGES
    ]
    return {"stages": stages, "value_reached": counts.get("value_reached", (0, 0))[0]}


def business_days_since(calendar: BusinessCalendar, since: dt.date, as_of: dt.date) -> int:
    """Business days from `since` to `as_of`: the business days after `since`, up to and including `as_of`."""
    return sum(calendar.is_business_day(since + dt.timedelta(days=i)) for i in range(1, (as_of - since).days + 1))


def _rank_fixes(
    rows: list[tuple], accounts: list[tuple], config: ScorecardConfig, calendar: BusinessCalendar, as_of: dt.date
) -> list[dict]:
    ranking = config.fix_ranking
    severity_names = {v: k for k, v in SEVERITY_RANK.items()}
    behind: dict[tuple[str, str], list[dict]] = {}
    for rule_id, reason, account_id, onboarding_id, arr in accounts:
        behind.setdefault((rule_id, reason), []).append(
            {
                "account_id": account_id,
                "onboarding_id": onboarding_id,
                "arr": float(arr or 0.0),
                "journey_link": journey_link(config.journey_base_url, onboarding_id),
            }
        )
    fixes = [
        {
            "rule_id": rule_id,
            "rule_name": config.rule_name(rule_id),
            "reason_code": reason,
            "reason": plain(reason),
            "findings": findings,
            "customers": customers,
            "onboardings": onboardings,
            "high_value": high_value,
            "severity": severity_names[severity_rank],
            "oldest_days": business_days_since(calendar, as_of - dt.timedelta(days=int(oldest_days)), as_of),
            "oldest_subject": oldest_subject,
            "arr_at_risk": float(arr or 0.0),
            "owner_roles": owner_roles.split(",") if owner_roles else [],
            "owners": [capitalized(plain(role)) for role in owner_roles.split(",")] if owner_roles else [],
            "kind": config.fix_kind(rule_id),
            "accounts": behind.get((rule_id, reason), []),
        }
        for (
            rule_id,
            reason,
            findings,
            customers,
            high_value,
            severity_rank,
            oldest_days,
            oldest_subject,
            arr,
            owner_roles,
            onboardings,
        ) in rows
    ]
    largest = {
        "count": max((f["findings"] for f in fixes), default=0),
        "oldest_days": max((f["oldest_days"] for f in fixes), default=0),
        "arr_at_risk": max((f["arr_at_risk"] for f in fixes), default=0.0),
    }
    for fix in fixes:
        parts = {"count": fix["findings"], "oldest_days": fix["oldest_days"], "arr_at_risk": fix["arr_at_risk"]}
        share = sum(
            ranking.weights.get(name, 0.0) * (value / largest[name] if largest[name] else 0.0)
            for name, value in parts.items()
        )
        fix["score"] = round(ranking.severity_weight.get(fix["severity"], 1.0) * share, 4)
        fix["kind_label"] = config.fix_kinds[fix["kind"]]
    fixes.sort(key=lambda f: (-f["score"], -f["findings"], f["rule_id"], f["reason_code"]))
    for rank, fix in enumerate(fixes, start=1):
        fix["rank"] = rank
    return fixes


def _alert_quality(
    conn: psycopg.Connection, config: ScorecardConfig, start: dt.date, as_of: dt.date, until: dt.datetime
) -> dict | None:
    """Alerts of the runs from `start` to `as_of` (acknowledged before `until`); None when alerting is absent.

    The first rows by volume are shown; the rest fold into one "other rules" row so the
    rows always add up to the totals.
    """
    (exists,) = _fetch(conn, "alert_quality_exists", {})[0]
    if not exists:
        return None
    rows = [
        {
            "rule_id": rule_id,
            "rule_name": config.rule_name(rule_id),
            "owner_role": role,
            "owner": capitalized(plain(role)),
            "first_alerts": int(first),
            "repeats": int(repeats) + int(escalations),
            "sent": int(first) + int(repeats) + int(escalations),
            "acknowledged": int(acked),
            "median_minutes_to_ack": None if median is None else float(median),
            "resolved": int(resolved),
            "reopened": int(reopened),
            "silenced": int(silenced),
        }
        for rule_id, role, first, repeats, escalations, acked, median, resolved, reopened, silenced in _fetch(
            conn, "alert_quality", {"start": start, "as_of": as_of, "until": until}
        )
    ]
    totals = {key: sum(r[key] for r in rows) for key in COUNTED_ALERT_FIELDS}
    shown, hidden = rows[:ALERT_ROWS_SHOWN], rows[ALERT_ROWS_SHOWN:]
    if hidden:
        shown.append(
            {
                "rule_id": None,
                "rule_name": f"{len(hidden)} other rule and role pairs",
                "owner_role": None,
                "owner": "",
                "median_minutes_to_ack": None,
                **{key: sum(r[key] for r in hidden) for key in COUNTED_ALERT_FIELDS},
            }
        )
    return {
        "start": start.isoformat(),
        "rows": shown,
        "hidden_rows": len(hidden),
        **totals,
        "ack_rate": totals["acknowledged"] / totals["first_alerts"] if totals["first_alerts"] else None,
    }


DUE_SOON_ITEMS = 3


def due_soon(conn: psycopg.Connection, as_of: dt.date, config: ScorecardConfig, calendar: BusinessCalendar) -> dict:
    """The breach forecast per owner role: what opens by the end of the next business day if
    nothing changes, with the customers and ARR behind it (each deal once per role) and the
    largest items by ARR."""
    due = due_frame(conn, as_of)
    out = [
        {
            "owner_role": group["owner_role"],
            "owner": capitalized(plain(group["owner_role"])),
            "findings": group["findings"],
            "alerts": group["alerts"],
            "customers": group["customers"],
            "arr": group["arr"],
            "items": [
                {
                    "rule_name": config.rule_name(row["rule_id"]),
                    "severity": row["severity"],
                    "account": row["account_name"] or row["account_id"] or row["subject_key"],
                    "arr": row["arr"],
                    "journey_link": journey_link(config.journey_base_url, row["onboarding_id"]),
                }
                for row in group["rows"]
            ],
        }
        for group in due_groups(due, ["owner_role"], DUE_SOON_ITEMS)
    ]
    out.sort(key=lambda e: (-e["arr"], -e["findings"], e["owner_role"]))
    return {"horizon": horizon(calendar, as_of).isoformat(), "findings": due["finding_id"].n_unique(), "roles": out}
