"""Writes to the audit store: runs, findings with their lifecycle, metrics, trace, audit log."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import polars as pl
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from hypercare.alerts.outbox import enqueue_run
from hypercare.db import copy_frame, named_queries
from hypercare.findings import FINDING_SCHEMA, METRIC_SCHEMA, TRACE_SCHEMA, AreaResult
from hypercare.ruleset import RuleSet

_AUDIT_LOCK = 727_003
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
) -> None:
    """Replace the (as_of, area) run's outputs and refresh the lifecycle it touches.

    The caller owns the transaction: everything of one run commits together or not at all.
    """
    params = {"as_of": as_of, "area": area, "rule_version": ruleset.version}
    run_sql, lifecycle_sql = named_queries("write_run"), named_queries("finding_lifecycle")
    conn.execute("create temp table if not exists affected_findings (finding_id uuid primary key) on commit drop")
    conn.execute("truncate affected_findings")
    conn.execute(lifecycle_sql["collect_on_day"], params)

    _stage(conn, "stage_findings", FINDING_SCHEMA, result.findings)
    _stage(conn, "stage_metrics", METRIC_SCHEMA, result.metrics)
    _stage(conn, "stage_trace", TRACE_SCHEMA, result.trace)
    for name in ("delete_occurrences", "insert_occurrences", "delete_metrics", "insert_metrics"):
        conn.execute(run_sql[name], params)
    conn.execute(
        run_sql["upsert_run"],
        params | {"finding_count": result.findings.height, "metric_count": result.metrics.height},
    )
    conn.execute(run_sql["upsert_trace"], params)
    for name in (
        "collect_on_day",
        "collect_active",
        "analyze_affected",
        "delete_events",
        "insert_events",
        "delete_vanished_state",
        "upsert_state",
    ):
        conn.execute(lifecycle_sql[name], params)
    enqueue_run(conn, as_of, area, ruleset, run_url)


_SQL_TYPES = {
    pl.String: "text",
    pl.Boolean: "boolean",
    pl.Float64: "double precision",
}


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz"
    if isinstance(dtype, pl.List):
        return "text[]"
    return _SQL_TYPES[dtype.base_type()]


def _stage(conn: psycopg.Connection, table: str, schema: dict, frame: pl.DataFrame) -> None:
    columns = ", ".join(f"{name} {_sql_type(dtype)}" for name, dtype in schema.items())
    conn.execute(f"create temp table if not exists {table} ({columns}) on commit drop")
    conn.execute(f"truncate {table}")
    with conn.cursor() as cur:
        copy_frame(cur, sql.Identifier(table), frame.select(list(schema)))


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


def verify_audit(conn: psycopg.Connection) -> tuple[bool, str]:
    """Re-derive the hash chain; reports the first row that does not match."""
    prev_hash, count = _GENESIS, 0
    rows = conn.execute(
        "select seq, logged_at, actor, action, subject, details, prev_hash, hash from hypercare.audit_log order by seq"
    )
    for seq, logged_at, actor, action, subject, details, stored_prev, stored_hash in rows:
        expected = _row_hash(prev_hash, logged_at, actor, action, subject, details)
        if stored_prev != prev_hash or stored_hash != expected:
            return False, f"audit log broken at seq {seq} ({action} on {subject})"
        prev_hash, count = stored_hash, count + 1
    return True, f"audit log intact: {count} entries"
