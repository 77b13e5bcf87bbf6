"""What the Hypercare pages in the Airflow UI read from the audit store.

Plain functions over a psycopg connection; the statements live in include/sql/queries/ui.sql.
Every value is returned as data: escaping is the templates' job.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hypercare import db
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


def connect(url: str | None = None) -> psycopg.Connection:
    """A store connection for one page. JIT compilation is off: it can take a second to
    compile a plan the page runs in milliseconds, when the planner's bound for a rare
    filter over a large store looks expensive."""
    conn = db.connect(url)
    conn.execute("set jit = off")
    conn.commit()
    return conn


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


@dataclass(frozen=True)
class Cursor:
    """A row's place in the page order (findings not resolved first, then the latest
    resolved, each by finding id descending): pages are read from it with a keyset scan,
    never by skipping rows. The order is keyed on what changes only when a finding
    resolves or reopens (migration 0023), so a day's run leaves the page indexes alone."""

    resolved_on: dt.date | None
    finding_id: str

    def token(self) -> str:
        return f"{self.resolved_on.isoformat() if self.resolved_on else OPEN_PLACE}_{self.finding_id}"

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """ValueError unless `token` is what `token()` writes."""
        day, _, finding_id = token.partition("_")
        resolved_on = None if day == OPEN_PLACE else dt.date.fromisoformat(day)
        return cls(resolved_on, str(uuid.UUID(finding_id)))


@dataclass(frozen=True)
class FindingsPage:
    rows: list[dict[str, Any]]
    previous: Cursor | None
    following: Cursor | None


# The page order's key as the page indexes hold it (migration 0023): a finding not resolved
# sorts after every resolution day.
_NOT_RESOLVED = "date '9999-12-31'"
_PLACE = f"coalesce(s.resolved_on, {_NOT_RESOLVED})"
_CURSOR_PLACE = f"(coalesce(%(resolved)s::date, {_NOT_RESOLVED}), %(cursor_id)s::uuid)"
OPEN_PLACE = "open"

# A page after a cursor reads the rows that follow it in page order; one before it reads
# those that precede it, in the opposite order, and turns them round. Both are index scans
# from the cursor.
_KEYSET = {
    "first": ("true", "desc"),
    "after": (f"({_PLACE}, s.finding_id) < {_CURSOR_PLACE}", "desc"),
    "before": (f"({_PLACE}, s.finding_id) > {_CURSOR_PLACE}", "asc"),
}


def findings_page(
    conn: psycopg.Connection,
    filters: FindingFilter,
    after: Cursor | None = None,
    before: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> FindingsPage:
    """The page of findings just after `after` in the page order (or just before `before`;
    else the first), with the cursors of the neighbouring pages where they exist. One extra
    row is read instead of counting every match."""
    direction = "after" if after else "before" if before else "first"
    keyset, order = _KEYSET[direction]
    cursor = after or before
    params = {
        **asdict(filters),
        "resolved": cursor.resolved_on if cursor else None,
        "cursor_id": cursor.finding_id if cursor else None,
        "limit": page_size + 1,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_q("findings_page").format(keyset=keyset, place=_PLACE, order=order), params).fetchall()
    more = len(rows) > page_size
    rows = rows[:page_size]
    if direction == "before":
        rows.reverse()
    if not rows:
        return FindingsPage(rows, None, None)
    first, last = (Cursor(row["resolved_on"], str(row["finding_id"])) for row in (rows[0], rows[-1]))
    has_previous = more if direction == "before" else direction == "after"
    has_following = more if direction != "before" else True
    return FindingsPage(rows, first if has_previous else None, last if has_following else None)


def rule_counts(conn: psycopg.Connection, filters: FindingFilter) -> list[dict[str, Any]]:
    """Findings per rule under the filters (status and snapshot date aside: the counts show
    every status), each with its daily counts over the 30 days up to the newest run. Read
    from the per-run summaries, except for one onboarding's findings, read directly."""
    params = asdict(filters)
    with conn.cursor(row_factory=dict_row) as cur:
        query = "rule_counts_of_onboarding" if filters.onboarding_id else "rule_counts"
        counts = cur.execute(_q(query), params).fetchall()
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


def filter_options(ruleset: RuleSet) -> dict[str, list[str]]:
    """The choices of the filters, from the rules file and the contract rather than from the
    store, so they cost nothing to list (a rule no longer configured is still reachable by URL)."""
    from hypercare.contract import load_contract
    from hypercare.ruleset import OWNER_ROLES

    contract = load_contract()
    return {
        "areas": sorted({rule.area for rule in ruleset.rules.values()}),
        "rules": sorted(ruleset.rules),
        "segments": list(contract["deals"].column("segment").values),
        "owner_roles": sorted(OWNER_ROLES),
        "reason_codes": sorted(contract.reason_codes),
    }


def findings_view(
    conn: psycopg.Connection,
    filters: FindingFilter,
    ruleset: RuleSet,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> dict[str, Any]:
    """Everything the Findings page shows: the page of findings, counts per rule with their
    sparklines, and the filters' choices."""
    return {
        "page": findings_page(conn, filters, after, before),
        "counts": rule_counts(conn, filters),
        "options": filter_options(ruleset),
    }


def finding(conn: psycopg.Connection, finding_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("finding"), {"finding_id": finding_id}).fetchone()


def acknowledgements(conn: psycopg.Connection, finding_ids: list[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(_q("acks"), {"finding_ids": finding_ids}).fetchall()


@dataclass(frozen=True)
class Stage:
    """One bar of the journey waterfall: when a stage started and ended, against its SLA.
    A stage whose end event was only ever traced before its start (provisioning finished
    before kickoff) took no time: `done_before_start`, zero business days."""

    label: str
    start_event: str
    end_event: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    offset_business_days: float | None
    business_days: float | None
    sla_business_days: float | None
    done_before_start: bool = False

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
    time its end event was at or after that (still running at `as_of_end` when the end is
    not traced yet); a stage whose start is not traced has not begun."""
    times: dict[str, list[dt.datetime]] = {}
    for event in sorted(trace, key=lambda event: event["event_at"]):
        times.setdefault(event["event_type"], []).append(event["event_at"])
    firsts = [at[0] for at in times.values()]
    origin = times["trigger_received"][0] if "trigger_received" in times else min(firsts, default=None)
    cal = ruleset.calendar
    stages = []
    for label, start_event, end_event, rule_id in STAGES:
        started = times.get(start_event, [None])[0]
        ends = times.get(end_event, [])
        ended = next((at for at in ends if at >= started), None) if started else None
        done_before_start = started is not None and ended is None and bool(ends)
        if done_before_start:
            ended = ends[-1]
        until = ended or as_of_end
        if started is None or until is None:
            days = None
        else:
            days = 0.0 if done_before_start else cal.business_days_between(started, until)
        stages.append(
            Stage(
                label=label,
                start_event=start_event,
                end_event=end_event,
                started_at=started,
                ended_at=ended,
                offset_business_days=cal.business_days_between(origin, started) if started and origin else None,
                business_days=days,
                sla_business_days=_sla(ruleset, rule_id, segment),
                done_before_start=done_before_start,
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
        acks = acknowledgements(conn, ids)
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


def _by_day(rows: list[dict[str, Any]], day: str) -> list[tuple[dt.date, list[dict[str, Any]]]]:
    grouped: dict[dt.date, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[day], []).append(row)
    return list(grouped.items())


def runs_overview(conn: psycopg.Connection, limit: int = 1000) -> dict[str, Any]:
    """Rule-set and configuration versions, evaluation runs (and days without a verdict) and
    loads with their quarantine counts, each grouped by day, the newest audit log entries and
    whether the audit chain verifies."""
    with conn.cursor(row_factory=dict_row) as cur:
        runs = cur.execute(_q("runs"), {"limit": limit}).fetchall()
        loads = cur.execute(_q("loads"), {"limit": limit}).fetchall()
        audit = cur.execute(_q("audit_log"), {"limit": 100}).fetchall()
        rule_sets = cur.execute(_q("rule_sets")).fetchall()
        config_versions = cur.execute(_q("config_versions")).fetchall()
    chain_ok, chain_message = verify_audit(conn)
    return {
        "run_days": _by_day(runs, "as_of"),
        "load_days": _by_day(loads, "snapshot_date"),
        "rule_sets": rule_sets,
        "config_versions": config_versions,
        "audit": audit,
        "chain_ok": chain_ok,
        "chain_message": chain_message,
    }


def quarantine(conn: psycopg.Connection, snapshot_date: dt.date, entity: str | None, limit: int = 500):
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            _q("quarantine"), {"snapshot_date": snapshot_date, "entity": entity, "limit": limit}
        ).fetchall()
