"""What every Hypercare DAG shares. Imports here stay light: parsing must be fast.

The monitoring logic lives in the `hypercare` package and is imported inside tasks.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import Asset

OWNER = "hypercare-data-eng"
APPROVED_TAGS = frozenset({"hypercare", "ingest", "monitoring", "alerts", "scorecard"})
DB_CONN_ID = "hypercare_db"

LANDING = Asset("hypercare://audit-store/landing")


def area_asset(area: str) -> Asset:
    """Updated when an area's findings for a snapshot date are written."""
    return Asset(f"hypercare://audit-store/findings/{area}")


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def source_dir_default() -> str:
    return os.environ.get("HYPERCARE_SOURCE_DIR", "/opt/hypercare/source")


def db_url() -> str | None:
    """The `hypercare_db` connection's URL, or None to let `hypercare` pick its default."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowRuntimeError

    try:
        conn = BaseHook.get_connection(DB_CONN_ID)
    except (AirflowRuntimeError, LookupError, ValueError):
        return None
    return conn.get_uri().replace("postgres://", "postgresql://", 1)


def snapshot_dates(context: dict[str, Any]) -> list[dt.date]:
    """Dates this run evaluates: the `as_of` param, else every snapshot the triggering
    asset events name, else the start of the run's data interval."""
    as_of = (context.get("params") or {}).get("as_of")
    if as_of:
        return [dt.date.fromisoformat(as_of)]
    events = context.get("triggering_asset_events") or {}
    named = sorted(
        {
            dt.date.fromisoformat(event.extra["snapshot_date"])
            for asset_events in events.values()
            for event in asset_events
            if event.extra and event.extra.get("snapshot_date")
        }
    )
    if named:
        return named
    interval_start = context.get("data_interval_start") or context["logical_date"]
    return [interval_start.date()]


def evaluate_areas(areas: list[str], context: dict[str, Any]) -> list[str]:
    """Evaluate `areas` for the run's snapshot dates; returns one summary line per run."""
    from hypercare import db
    from hypercare.evaluate import evaluate_day
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset(context["params"].get("rules_file") or None)
    actor = f"airflow:{context['dag'].dag_id}"
    lines = []
    with db.connect(db_url()) as conn:
        db.migrate(conn)
        for day in snapshot_dates(context):
            lines += [s.line() for s in evaluate_day(conn, day, ruleset, areas=areas, actor=actor)]
    return lines
