"""Evaluating monitoring areas from Airflow, and the one DAG shape every area shares."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset

from hypercare_airflow.common import (
    AREA_RUN_TIMEOUT,
    LANDING,
    START_DATE,
    announce,
    area_asset,
    default_args,
    require_migrated,
    run_params,
    snapshot_dates,
    store_url,
)

DATES_DOC = """

**Which snapshot a run evaluates**: every date the asset events that started it name (a
backfill's landings queued behind a running evaluation are taken together); a manual
run evaluates its **Snapshot date** param (`snapshot_date`). One run at a time. The result
per rule and day is on the area's asset event (extra `findings`) and, as a table, in the
task log.
"""


def rule_counts(conn, days: list[dt.date], areas: list[str], ruleset) -> dict[str, dict[str, int]]:
    """Findings per rule and day for `areas`, every rule of those areas listed (0 when quiet)."""
    from hypercare import db

    rule_ids = sorted(rule for rule, config in ruleset.rules.items() if config.area in areas)
    counts: dict[str, dict[str, int]] = {day.isoformat(): {} for day in days}
    rows = conn.execute(
        db.named_queries("airflow")["rule_counts"], {"days": days, "rule_ids": rule_ids, "areas": areas}
    ).fetchall()
    for as_of, rule_id, findings in rows:
        counts[as_of.isoformat()][rule_id] = findings
    return counts


def markdown_summary(title: str, rule_version: str, counts: dict[str, dict[str, int]]) -> str:
    """The per-rule result as a markdown table, for the task log."""
    days = sorted(counts)
    rules = sorted({rule for by_rule in counts.values() for rule in by_rule})
    lines = [
        f"### {title}: rules {rule_version}",
        "",
        "| rule | " + " | ".join(days) + " |",
        "|---|" + "---:|" * len(days),
    ]
    lines += [f"| {rule} | " + " | ".join(str(counts[day].get(rule, 0)) for day in days) + " |" for rule in rules]
    lines.append("| **all rules** | " + " | ".join(str(sum(counts[day].values())) for day in days) + " |")
    return "\n".join(lines)


def evaluate_areas(
    areas: list[str], context: dict[str, Any], outlet: Asset | None = None, days: list[dt.date] | None = None
) -> dict[str, Any]:
    """Evaluate `areas` for `days` (default: the area run's snapshot dates); returns (and logs,
    and puts on the outlet's asset event) the findings per rule and day."""
    from hypercare import db
    from hypercare.evaluate import evaluate_day
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset(context["params"].get("rules_file") or None)
    actor = f"airflow:{context['dag'].dag_id}"
    days = days or snapshot_dates(context)
    lines = []
    with db.connect(store_url(), autocommit=True) as conn:
        require_migrated(conn)
        for day in days:
            lines += [s.line() for s in evaluate_day(conn, day, ruleset, areas=areas, actor=actor)]
        counts = rule_counts(conn, days, areas, ruleset)
    print("\n".join(lines))
    print(markdown_summary(context["dag"].dag_id, ruleset.version, counts))
    result = {"rule_version": ruleset.version, "findings": counts}
    if outlet is not None:
        announce(context, outlet, days, **result)
    return result


def build_area_dag(area: str, doc_md: str, schedule: Any = None, evaluates: tuple[str, ...] | None = None):
    """One monitoring area as a DAG: runs when a snapshot lands, evaluates the area for
    every snapshot date named by the triggering asset events, and updates the area's asset.
    One run at a time: a backfill's landings queue up instead of crowding the CPUs."""
    from airflow.sdk import dag, task

    @dag(
        dag_id=f"hypercare_{area}",
        schedule=schedule if schedule is not None else [LANDING],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=AREA_RUN_TIMEOUT,
        default_args=default_args(),
        tags=["hypercare", "monitoring"],
        doc_md=doc_md + DATES_DOC,
        params=run_params(),
    )
    def area_dag():
        @task(task_id=f"evaluate_{area}", outlets=[area_asset(area)])
        def evaluate(**context) -> dict[str, Any]:
            return evaluate_areas(list(evaluates or (area,)), context, outlet=area_asset(area))

        evaluate()

    return area_dag()
