"""What the Hypercare pages in the Airflow UI read from the audit store.

Plain functions over a psycopg connection; the statements live in include/sql/queries/ui.sql.
Every value is returned as data: escaping is the templates' job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hypercare.db import named_queries
from hypercare.ruleset import RuleSet
from hypercare.store import verify_audit

STATUSES = ("open", "acknowledged", "resolved", "reopened")
SEVERITIES = ("info", "warn", "high", "critical")
PAGE_SIZE = 50

# The journey from closed-won to first value as stages between trace events, each with the
# rule whose SLA (business days) it is held against; None where the rules set no SLA.
STAGES: tuple[tuple[str, str, str, str | None], ...] = (
    ("Closed-won to project", "trigger_received", "project_created", "trigger.missed_eligible"),
    ("Project to owner", "project_created", "owner_assigned", "ownership.no_owner"),
    ("Project to kickoff scheduled", "project_created", "kickoff_scheduled", "ownership.kickoff_not_scheduled"),
    ("Project to kickoff held", "project_created", "kickoff_completed", "ownership.kickoff_not_completed"),
    ("Kickoff to provisioning done", "kickoff_completed", "provisioning_task_completed", "provisioning.identity_late"),
    ("Kickoff to first value", "kickoff_completed", "first_value_reached", None),
)


def _q(name: str) -> str:
    return named_queries("ui")[name]


@dataclass(frozen=True)
class FindingFilter:
    """The Findings page's filters; None means any."""

    area: str | None = None
    rule_id: str | None = None
    status: str | None = None
    severity: str | None = None
    segment: str | None = None
    high_value: bool | None = None
    owner_role: str | None = None
    reason_code: str | None = None
    onboarding_id: str | None = None
    snapshot_date: dt.date | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")


def findings_page(
    conn: psycopg.Connection, filters: FindingFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], bool]:
    """One page of findings, newest first, and whether a next page exists (one extra row is
    read instead of counting every match, so a page stays an index scan)."""
    params = {**asdict(filters), "limit": page_size + 1, "offset": (max(page, 1) - 1) * page_size}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_q("findings_page"), params).fetchall()
    return rows[:page_size], len(rows) > page_size


def rule_counts(conn: psycopg.Connection, filters: FindingFilter) -> list[dict[str, Any]]:
    """Findings per rule under the filters, each with its daily counts over the last 30 days."""
    params = asdict(filters)
    with conn.cursor(row_factory=dict_row) as cur:
        counts = cur.execute(_q("rule_counts"), params).fetchall()
        until = cur.execute(_q("newest_run")).fetchone()["max"]
        daily: dict[str, dict[dt.date, int]] = {}
        if until and counts:
            rules = [row["rule_id"] for row in counts]
            for row in cur.execute(_q("rule_daily"), {"until": until, "rules": rules}):
                daily.setdefault(row["rule_id"], {})[row["as_of"]] = row["findings"]
    days = [until - dt.timedelta(days=offset) for offset in range(29, -1, -1)] if until else []
    for row in counts:
        row["daily"] = [daily.get(row["rule_id"], {}).get(day, 0) for day in days]
    return counts


def filter_options(conn: psycopg.Connection) -> dict[str, list[str]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("filter_options")).fetchone()


def finding(conn: psycopg.Connection, finding_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("finding"), {"finding_id": finding_id}).fetchone()


@dataclass(frozen=True)
class Stage:
    """One bar of the journey waterfall: when a stage started and ended, against its SLA."""

    label: str
    start_event: str
    end_event: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    offset_business_days: float | None
    business_days: float | None
    sla_business_days: float | None

    @property
    def breached(self) -> bool:
        return (
            self.business_days is not None
            and self.sla_business_days is not None
            and self.business_days > self.sla_business_days
        )


def _sla(ruleset: RuleSet, rule_id: str | None, segment: str | None) -> float | None:
    if rule_id is None:
        return None
    try:
        rule = ruleset.rule(rule_id)
    except KeyError:
        return None
    by_segment = rule.params.get("business_days_by_segment")
    if by_segment and segment in by_segment:
        return float(by_segment[segment])
    days = rule.params.get("business_days")
    return float(days) if days is not None else None


def journey_stages(
    trace: list[dict[str, Any]], ruleset: RuleSet, segment: str | None, as_of_end: dt.datetime | None = None
) -> list[Stage]:
    """The waterfall: each stage from the first time its start event was traced to the first
    time its end event was (still running at `as_of_end` when the end is not traced yet)."""
    first: dict[str, dt.datetime] = {}
    for event in trace:
        first.setdefault(event["event_type"], event["event_at"])
    origin = first.get("trigger_received") or (min(first.values()) if first else None)
    cal = ruleset.calendar
    stages = []
    for label, start_event, end_event, rule_id in STAGES:
        started, ended = first.get(start_event), first.get(end_event)
        until = ended or as_of_end
        stages.append(
            Stage(
                label=label,
                start_event=start_event,
                end_event=end_event,
                started_at=started,
                ended_at=ended,
                offset_business_days=cal.business_days_between(origin, started) if started and origin else None,
                business_days=cal.business_days_between(started, until) if started and until else None,
                sla_business_days=_sla(ruleset, rule_id, segment),
            )
        )
    return stages


def journey(conn: psycopg.Connection, onboarding_id: str) -> dict[str, Any]:
    """Trace, findings, alerts with delivery status, acknowledgements and silences of one onboarding."""
    with conn.cursor(row_factory=dict_row) as cur:
        trace = cur.execute(_q("journey_trace"), {"onboarding_id": onboarding_id}).fetchall()
        findings = cur.execute(_q("journey_findings"), {"onboarding_id": onboarding_id}).fetchall()
        ids = [row["finding_id"] for row in findings]
        alerts = cur.execute(_q("journey_alerts"), {"finding_ids": ids}).fetchall()
        acks = cur.execute(_q("acks"), {"finding_ids": ids}).fetchall()
        subjects = sorted({row["subject_key"] for row in findings if row.get("subject_key")} | {onboarding_id})
        silences = cur.execute(_q("silences"), {"now": dt.datetime.now(dt.UTC), "subject_keys": subjects}).fetchall()
        newest = cur.execute(_q("newest_run")).fetchone()["max"]
    return {
        "trace": trace,
        "findings": findings,
        "alerts": alerts,
        "acks": acks,
        "silences": silences,
        "newest_run": newest,
    }


def active_silences(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("silences"), {"now": dt.datetime.now(dt.UTC), "subject_keys": None}).fetchall()


def scorecards(conn: psycopg.Connection) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("scorecards")).fetchall()


def scorecard_html(conn: psycopg.Connection, as_of: dt.date) -> str | None:
    row = conn.execute(_q("scorecard_html"), {"as_of": as_of}).fetchone()
    return row[0] if row else None


def runs_overview(conn: psycopg.Connection, limit: int = 500) -> dict[str, Any]:
    """Evaluation runs (and days without a verdict), loads with their quarantine counts, the
    newest audit log entries and whether the audit chain verifies."""
    with conn.cursor(row_factory=dict_row) as cur:
        runs = cur.execute(_q("runs"), {"limit": limit}).fetchall()
        loads = cur.execute(_q("loads"), {"limit": limit}).fetchall()
        audit = cur.execute(_q("audit_log"), {"limit": 100}).fetchall()
    chain_ok, chain_message = verify_audit(conn)
    return {"runs": runs, "loads": loads, "audit": audit, "chain_ok": chain_ok, "chain_message": chain_message}


def quarantine(conn: psycopg.Connection, snapshot_date: dt.date, entity: str | None, limit: int = 500):
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            _q("quarantine"), {"snapshot_date": snapshot_date, "entity": entity, "limit": limit}
        ).fetchall()
