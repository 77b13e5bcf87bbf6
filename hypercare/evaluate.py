"""Runs: evaluate the monitoring areas for one snapshot date under one rule set."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import psycopg

from hypercare.areas import AREAS
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot
from hypercare.store import append_audit, record_checkpoint, register_ruleset, write_area_result

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

    def line(self) -> str:
        return (
            f"{self.as_of} {self.area:<10} rules {self.rule_version}: "
            f"{self.findings} findings ({self.alerts} alert-marked), {self.metrics} metrics"
        )


def snapshot_loaded(conn: psycopg.Connection, as_of: dt.date) -> bool:
    row = conn.execute("select 1 from hypercare.load_runs where snapshot_date = %s limit 1", (as_of,)).fetchone()
    return row is not None


def evaluate_day(
    conn: psycopg.Connection,
    as_of: dt.date,
    ruleset: RuleSet,
    areas: list[str] | None = None,
    actor: str = "hypercare",
    run_url: str | None = None,
) -> list[RunSummary]:
    """Evaluate `areas` (default all) on snapshot `as_of`; each area commits on its own.

    Re-running a day replaces exactly that day's outputs (and its unsent notifications);
    re-running it under another rule set is recorded in the audit log as a backfill.
    """
    unknown = set(areas or ()) - set(AREAS)
    if unknown:
        raise ValueError(f"unknown area(s) {sorted(unknown)}; known: {sorted(AREAS)}")
    if not snapshot_loaded(conn, as_of):
        raise LookupError(f"snapshot {as_of} is not loaded; run `hypercare load` for it first")
    with conn.transaction():
        register_ruleset(conn, ruleset, actor)
    snapshot = Snapshot.from_db(conn, as_of)
    summaries = []
    for area in areas or list(AREAS):
        result = AREAS[area](snapshot, as_of, ruleset)
        with conn.transaction():
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
            write_area_result(conn, as_of, area, ruleset, result, run_url)
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
        summaries.append(summary)
    with conn.transaction():
        head = record_checkpoint(conn, f"evaluate {as_of}")
    log.info("%s (after evaluating %s)", head.line(), as_of)
    if not head.consistent:
        log.error("audit log no longer holds the previous checkpoint's head; run `hypercare audit verify`")
    return summaries
