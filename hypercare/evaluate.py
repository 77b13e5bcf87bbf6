"""Runs: evaluate the monitoring areas for one snapshot date under one rule set."""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import polars as pl
import psycopg

from hypercare.alerts.outbox import enqueue_run
from hypercare.areas import AREAS
from hypercare.db import named_queries, sibling
from hypercare.findings import AreaResult
from hypercare.forecast import FORECAST_READS_STORE, delete_forecast, forecast_area, write_forecast
from hypercare.ruleset import RuleSet
from hypercare.snapshot import InputUnavailable, Snapshot, blocked_areas
from hypercare.store import (
    append_audit,
    collect_lifecycle,
    lock_area,
    record_checkpoint,
    refresh_lifecycle,
    refresh_page_summaries,
    register_ruleset,
    write_area_result,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    as_of: dt.date
    area: str
    rule_version: str
    findings: int
    alerts: int
    metrics: int
    replaced_version: str | None
    no_verdict: str | None = None

    def line(self) -> str:
        head = f"{self.as_of} {self.area:<10} rules {self.rule_version}: "
        if self.no_verdict:
            return head + f"NO VERDICT: {self.no_verdict}"
        return head + f"{self.findings} findings ({self.alerts} alert-marked), {self.metrics} metrics"


def snapshot_loaded(conn: psycopg.Connection, as_of: dt.date) -> bool:
    row = conn.execute("select 1 from hypercare.load_runs where snapshot_date = %s limit 1", (as_of,)).fetchone()
    return row is not None


def withhold_verdict(
    conn: psycopg.Connection, as_of: dt.date, area: str, ruleset: RuleSet, unavailable: InputUnavailable
) -> None:
    """Record that `area` gives no verdict on `as_of`, withdrawing any run it had that day.

    The caller owns the transaction. Findings the withdrawn run had are recomputed from
    the other days, so they neither resolve nor open because of this day; its unsent
    notifications are dropped and the area's queue rebuilt for its newest remaining day.
    """
    params = {
        "as_of": as_of,
        "area": area,
        "rule_version": ruleset.version,
        "entities": sorted(unavailable.inputs),
        "reason": str(unavailable),
    }
    block_sql, run_sql = named_queries("block_run"), named_queries("write_run")
    lock_area(conn, area)
    conn.execute(block_sql["record_block"], params)
    collect_lifecycle(conn, params)
    conn.execute(run_sql["delete_occurrences"], params)
    conn.execute(run_sql["delete_metrics"], params)
    conn.execute(block_sql["delete_run"], params)
    delete_forecast(conn, as_of, area)
    refresh_lifecycle(conn, params)
    refresh_page_summaries(conn, params)
    conn.execute(named_queries("alerts")["drop_unsent_of_run"], params)
    enqueue_run(conn, as_of, area, ruleset)


def write_run(
    conn: psycopg.Connection,
    as_of: dt.date,
    area: str,
    ruleset: RuleSet,
    result: AreaResult,
    forecast: pl.DataFrame,
    actor: str,
    run_url: str | None,
    trace_reader: psycopg.Connection | None,
) -> RunSummary:
    """Write one area's run as one transaction; a day that had a run under another rule
    set is audited as a backfill."""
    with conn.transaction():
        conn.execute("select hypercare.refresh_store_statistics()")
        previous = conn.execute(
            "select rule_version from hypercare.evaluation_runs where as_of = %s and area = %s for update",
            (as_of, area),
        ).fetchone()
        replaced = previous[0] if previous and previous[0] != ruleset.version else None
        if replaced:
            append_audit(
                conn,
                actor,
                "backfill",
                f"{area}@{as_of}",
                {"area": area, "as_of": as_of, "from_version": replaced, "to_version": ruleset.version},
            )
        write_forecast(conn, as_of, area, ruleset, forecast)
        write_area_result(conn, as_of, area, ruleset, result, run_url, trace_reader)
        conn.execute(named_queries("block_run")["clear_block"], {"as_of": as_of, "area": area})
    summary = RunSummary(
        as_of=as_of,
        area=area,
        rule_version=ruleset.version,
        findings=result.findings.height,
        alerts=int(result.findings["alert"].sum()),
        metrics=result.metrics.height,
        replaced_version=replaced,
    )
    log.info(summary.line())
    return summary


def evaluate_day(
    conn: psycopg.Connection,
    as_of: dt.date,
    ruleset: RuleSet,
    areas: list[str] | None = None,
    actor: str = "hypercare",
    run_url: str | None = None,
) -> list[RunSummary]:
    """Evaluate `areas` (default all) on snapshot `as_of`; each area commits on its own.

    Each area's write is its own transaction (on an autocommit connection, as the CLI and
    the DAGs open them, it commits there; inside a caller's transaction it is a savepoint).
    Re-running a day replaces exactly that day's outputs (and its unsent notifications);
    re-running it under another rule set is recorded in the audit log as a backfill. An
    area that reads an entity rejected or held that day, or a cross-cutting area after an
    area without verdict, gives no verdict: it is recorded in hypercare.evaluation_blocks
    and writes no findings, so nothing resolves and nobody is paged because of it.
    """
    unknown = set(areas or ()) - set(AREAS)
    if unknown:
        raise ValueError(f"unknown area(s) {sorted(unknown)}; known: {sorted(AREAS)}")
    with ExitStack() as stack:
        if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # An autocommit caller outside any transaction (the CLI, the DAG tasks): each
            # area's writes run in a background thread on `conn` while the next area reads
            # its inputs and computes on a second connection, and a third reads the trace's
            # known events beside the writes. Inside a caller's transaction (the impact
            # preview's) its writes are visible to no other connection, so `conn` does
            # everything in turn.
            reads = stack.enter_context(sibling(conn))
            trace_reader = stack.enter_context(sibling(conn))
            writer = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="write"))
        else:
            reads, trace_reader, writer = conn, None, None
        pending: list[Future] = []

        def settle() -> None:
            """Wait for the write in flight; its error, if any, is raised here."""
            while pending:
                pending.pop().result()

        with conn.transaction():
            if not snapshot_loaded(conn, as_of):
                raise LookupError(f"snapshot {as_of} is not loaded; run `hypercare load` for it first")
            register_ruleset(conn, ruleset, actor)
            blocked = dict(blocked_areas(conn, as_of))
        # The cross-cutting areas read what the earlier areas wrote: their store reads wait.
        snapshot = Snapshot.from_db(reads, as_of, before_store_read=settle)
        order = list(AREAS)
        summaries = []
        for area in sorted(areas or order, key=order.index):
            snapshot.store_unavailable = {a: r for a, r in blocked.items() if order.index(a) < order.index(area)}
            try:
                result = AREAS[area](snapshot, as_of, ruleset)
            except InputUnavailable as unavailable:
                settle()
                with conn.transaction():
                    withhold_verdict(conn, as_of, area, ruleset, unavailable)
                blocked[area] = str(unavailable)
                summary = RunSummary(as_of, area, ruleset.version, 0, 0, 0, None, no_verdict=str(unavailable))
                log.warning(summary.line())
                summaries.append(summary)
                continue
            if area in FORECAST_READS_STORE:
                settle()
            forecast = forecast_area(reads, snapshot, as_of, area, ruleset, result.findings)
            settle()
            blocked.pop(area, None)
            run = (conn, as_of, area, ruleset, result, forecast, actor, run_url, trace_reader)
            if writer is None:
                summaries.append(write_run(*run))
            else:
                pending.append(writer.submit(lambda run=run: summaries.append(write_run(*run))))
        settle()
    with conn.transaction():
        head = record_checkpoint(conn, f"evaluate {as_of}")
    log.info("%s (after evaluating %s)", head.line(), as_of)
    if not head.consistent:
        log.error("audit log no longer holds the previous checkpoint's head; run `hypercare audit verify`")
    return summaries
