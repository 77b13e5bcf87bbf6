"""Writes to the audit store: runs, findings with their lifecycle, metrics, trace, audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hypercare.alerts.outbox import enqueue_run
from hypercare.db import copy_out_frame, named_queries, stage_frame
from hypercare.findings import FINDING_SCHEMA, METRIC_SCHEMA, TRACE_SCHEMA, AreaResult
from hypercare.ruleset import RuleSet

_AUDIT_LOCK = 727_003
_AREA_LOCK = 727_004
TRACE_EVENT_KEY = ["event_type", "ref_id", "event_at"]
_GENESIS = "0" * 64


def register_ruleset(conn: psycopg.Connection, ruleset: RuleSet, actor: str = "hypercare") -> bool:
    """Store the rule set under its version, and the versions of the other scopes of its
    configuration; a rule-set version seen for the first time is audited."""
    register_config_versions(conn, ruleset, ("alerting", "scorecard", "operations"))
    inserted = conn.execute(
        "insert into hypercare.rule_sets (version, content, source, covers) values (%s, %s, %s, 'rules') "
        "on conflict (version) do nothing returning version",
        (ruleset.version, _jsonb(ruleset.scoped_content("rules")), ruleset.source),
    ).fetchone()
    if inserted:
        append_audit(conn, actor, "rule_set.registered", ruleset.version, {"version": ruleset.version})
    return bool(inserted)


def lock_area(conn: psycopg.Connection, area: str) -> None:
    """Serialise writes of one area until the transaction ends: each recomputes lifecycles
    and the alert queue from all of the area's days."""
    conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_AREA_LOCK, area))


def register_config_versions(conn: psycopg.Connection, ruleset: RuleSet, scopes: tuple[str, ...]) -> None:
    """Store the content of each scope's version (alerting, scorecard, operations), once."""
    for scope in scopes:
        conn.execute(
            "insert into hypercare.config_versions (scope, version, content) values (%s, %s, %s) "
            "on conflict (scope, version) do nothing",
            (scope, ruleset.versions[scope], _jsonb(ruleset.scoped_content(scope))),
        )


def _jsonb(content: dict) -> Jsonb:
    return Jsonb(json.loads(json.dumps(content, default=str)))


def write_area_result(
    conn: psycopg.Connection,
    as_of: dt.date,
    area: str,
    ruleset: RuleSet,
    result: AreaResult,
    run_url: str | None = None,
    trace_reader: psycopg.Connection | None = None,
) -> None:
    """Replace the (as_of, area) run's outputs and refresh the lifecycle it touches.

    The caller owns the transaction: everything of one run commits together or not at all.
    Runs of one area wait for each other (a transaction-scoped lock per area), so two days
    written at once each compute a finding's history seeing the other's rows. `trace_reader`, a
    second connection to the same store, reads the events the trace already holds while
    this one writes the day's occurrences (2-3 s each at 100k customers); it sees what is
    committed, which is all it needs once the area's lock is held.
    """
    lock_area(conn, area)
    params = {"as_of": as_of, "area": area, "rule_version": ruleset.version}
    run_sql = named_queries("write_run")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace") as pool:
        new_trace = pool.submit(unrecorded_trace, trace_reader, as_of, result.trace) if trace_reader else None
        collect_lifecycle(conn, params)
        stage_frame(conn, "stage_findings", FINDING_SCHEMA, result.findings)
        stage_frame(conn, "stage_metrics", METRIC_SCHEMA, result.metrics)
        for name in ("delete_occurrences", "insert_occurrences", "delete_metrics", "insert_metrics"):
            conn.execute(run_sql[name], params)
        conn.execute(
            run_sql["upsert_run"],
            params | {"finding_count": result.findings.height, "metric_count": result.metrics.height},
        )
        trace = new_trace.result() if new_trace else unrecorded_trace(conn, as_of, result.trace)
    stage_frame(conn, "stage_trace", TRACE_SCHEMA, trace)
    conn.execute(run_sql["upsert_trace"], params)
    refresh_lifecycle(conn, params)
    refresh_page_summaries(conn, params)
    enqueue_run(conn, as_of, area, ruleset, run_url)


def unrecorded_trace(conn: psycopg.Connection, as_of: dt.date, trace: pl.DataFrame) -> pl.DataFrame:
    """The events of `trace` the upsert would write: one row per event (its id is a digest
    of TRACE_EVENT_KEY), the first the area reported, less those the trace already holds as
    of `as_of` (observed by then, and linked by then when the event names an onboarding).

    An area restates every journey event of its records each day (about 1.2M at 100k
    customers) and few are new: reading the known keys back through an index-only scan
    and dropping them here costs a fraction of staging them all and probing the trace's
    primary key once per event. The upsert's conflict clause still keeps the data right;
    this keeps known rows from being locked and rewritten.
    """
    trace = trace.unique(TRACE_EVENT_KEY, keep="first", maintain_order=True)
    if trace.is_empty():
        return trace
    query = sql.SQL(
        "select event_type, ref_id, (extract(epoch from event_at) * 1000000)::bigint,"
        " coalesce(linked_on <= {as_of}, false) from hypercare.trace_events"
        " where event_type = any({types}) and first_observed_on <= {as_of}"
    ).format(as_of=sql.Literal(as_of), types=sql.Literal(sorted(trace["event_type"].unique().to_list())))
    known = copy_out_frame(
        conn,
        query,
        {"event_type": pl.String, "ref_id": pl.String, "event_at_us": pl.Int64, "linked": pl.Boolean},
    )
    if known.is_empty():
        return trace
    keyed = trace.select(
        pl.int_range(pl.len()).alias("row"),
        "event_type",
        "ref_id",
        pl.col("event_at").dt.epoch("us").alias("event_at_us"),
        pl.col("onboarding_id").is_not_null().alias("names_onboarding"),
    )
    # Semi-joins per event type on (ref_id, event_at): a fraction of the memory and time of
    # one join on the three key columns.
    recorded = []
    for (event_type,), of_type in known.partition_by("event_type", as_dict=True).items():
        rows = keyed.filter(pl.col("event_type") == event_type)
        for names_onboarding, counted in ((False, of_type), (True, of_type.filter("linked"))):
            recorded.append(
                rows.filter(pl.col("names_onboarding") == names_onboarding)
                .join(counted, on=["ref_id", "event_at_us"], how="semi")
                .select("row")
            )
    return trace.filter(~pl.int_range(pl.len()).is_in(pl.concat(recorded)["row"].implode()))


def collect_lifecycle(conn: psycopg.Connection, params: dict) -> None:
    """Before a run's outputs are replaced or withdrawn: remember the findings it had."""
    conn.execute("create temp table if not exists affected_findings (finding_id uuid primary key) on commit drop")
    conn.execute(
        "create temp table if not exists derived_events (finding_id uuid, event text, event_on date, "
        "rule_version text, primary key (finding_id, event_on, event)) on commit drop"
    )
    conn.execute("truncate affected_findings, derived_events")
    conn.execute(named_queries("finding_lifecycle")["collect_on_day"], params)


def refresh_lifecycle(conn: psycopg.Connection, params: dict) -> None:
    """After the (as_of, area) run changed: rederive events and state of the findings it can touch."""
    lifecycle_sql = named_queries("finding_lifecycle")
    for name in (
        "collect_on_day",
        "collect_neighbours",
        "analyze_affected",
        "derive_events",
        "analyze_derived",
        "delete_events",
        "insert_events",
        "delete_vanished_state",
        "upsert_state",
    ):
        conn.execute(lifecycle_sql[name], params)


def refresh_page_summaries(conn: psycopg.Connection, params: dict) -> None:
    """After the (as_of, area) run changed: rewrite its day's counts per rule, severity and
    reason (the scorecard and the Findings page's sparklines) and the area's counts by
    filter value, which the Findings page reads instead of the whole history."""
    summary_sql = named_queries("ui_summary")
    for name in (
        "delete_occurrence_counts",
        "insert_occurrence_counts",
        "delete_finding_counts",
        "insert_finding_counts",
    ):
        conn.execute(summary_sql[name], params)


# -- audit log ------------------------------------------------------------------------
def _row_hash(prev_hash: str, logged_at: dt.datetime, actor: str, action: str, subject: str, details) -> str:
    payload = json.dumps(
        [prev_hash, logged_at.astimezone(dt.UTC).isoformat(), actor, action, subject, details],
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def append_audit(
    conn: psycopg.Connection,
    actor: str,
    action: str,
    subject: str,
    details: dict,
    logged_at: dt.datetime | None = None,
) -> str:
    """Append one decision to the hash-chained audit log; returns its hash."""
    conn.execute("select pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
    last = conn.execute("select hash from hypercare.audit_log order by seq desc limit 1").fetchone()
    prev_hash = last[0] if last else _GENESIS
    logged_at = (logged_at or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    details = json.loads(json.dumps(details, default=str))
    row_hash = _row_hash(prev_hash, logged_at, actor, action, subject, details)
    conn.execute(
        "insert into hypercare.audit_log (logged_at, actor, action, subject, details, prev_hash, hash) "
        "values (%s, %s, %s, %s, %s, %s, %s)",
        (logged_at, actor, action, subject, Jsonb(details), prev_hash, row_hash),
    )
    return row_hash


@dataclass(frozen=True)
class AuditHead:
    """How many entries the audit log holds and the hash of the last one."""

    entries: int
    head_hash: str
    consistent: bool = True

    def line(self) -> str:
        return f"audit log head: {self.entries} entries, hash {self.head_hash}"

    def token(self) -> str:
        """`entries:hash`, what `hypercare audit verify --head` takes back."""
        return f"{self.entries}:{self.head_hash}"


def record_checkpoint(conn: psycopg.Connection, context: str | None = None) -> AuditHead:
    """Publish the audit log's head to hypercare.audit_checkpoints (owner's rights, via a
    SECURITY DEFINER function that reads the head itself, so a caller cannot forge it)."""
    entries, head_hash, consistent = conn.execute(
        "select * from hypercare.record_audit_checkpoint(%s)", (context,)
    ).fetchone()
    return AuditHead(entries, head_hash, consistent)


def verify_audit(conn: psycopg.Connection, head: tuple[int, str] | None = None) -> tuple[bool, str]:
    """Re-derive the hash chain, then hold it against every recorded checkpoint (and `head`,
    a count and hash published elsewhere): an edited row, removed newest entries and a chain
    rewritten with recomputed hashes all fail. Reports the first problem found."""
    prev_hash, hashes = _GENESIS, []
    rows = conn.execute(
        "select seq, logged_at, actor, action, subject, details, prev_hash, hash from hypercare.audit_log order by seq"
    )
    for seq, logged_at, actor, action, subject, details, stored_prev, stored_hash in rows:
        expected = _row_hash(prev_hash, logged_at, actor, action, subject, details)
        if stored_prev != prev_hash or stored_hash != expected:
            return False, f"audit log broken at seq {seq} ({action} on {subject})"
        prev_hash = stored_hash
        hashes.append(stored_hash)
    anchors = [
        (f"checkpoint {cid} of {at:%Y-%m-%d %H:%M} UTC", entries, head_hash)
        for cid, at, entries, head_hash in conn.execute(
            "select checkpoint_id, recorded_at, entries, head_hash from hypercare.audit_checkpoints "
            "order by checkpoint_id"
        )
    ]
    if head is not None:
        anchors.append(("the published head", head[0], head[1]))
    for name, entries, head_hash in anchors:
        if len(hashes) < entries:
            return False, (
                f"audit log truncated: {len(hashes)} entries, but {name} saw {entries}; entries were removed"
            )
        if entries and hashes[entries - 1] != head_hash:
            return False, f"audit log rewritten: entry {entries} no longer has the hash {name} recorded"
    anchored = f"; matches {len(anchors)} checkpoint(s), latest {anchors[-1][0]}" if anchors else "; no checkpoint yet"
    return True, f"audit log intact: {len(hashes)} entries, head {prev_hash}{anchored}"
