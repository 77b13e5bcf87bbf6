"""What every Hypercare DAG shares: ownership, assets, timeouts, snapshot dates and the audit store.

Imports here stay light: parsing must be fast. The monitoring logic lives in the
`hypercare` package and is imported inside tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from airflow.sdk import Asset

from hypercare_airflow.settings import dag_settings

log = logging.getLogger(__name__)

OWNER = "hypercare-data-eng"
APPROVED_TAGS = frozenset({"hypercare", "ingest", "monitoring", "alerts", "scorecard"})
DB_CONN_ID = "hypercare_db"
SLACK_API_CONN_ID = "hypercare_slack_api"
SLACK_WEBHOOK_CONN_ID = "hypercare_slack_webhook"
SMTP_CONN_ID = "hypercare_smtp"

MONITORING_AREAS = ("trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai", "writeback")
CROSSCUTTING_AREAS = ("audit", "backlog")
# Every area a snapshot day is evaluated in, in the order the DAGs run them.
EVALUATED_AREAS = ("contract", *MONITORING_AREAS, *CROSSCUTTING_AREAS)

LANDING = Asset("hypercare://audit-store/landing")

SETTINGS = dag_settings()
BUSINESS_TZ = ZoneInfo(SETTINGS.timezone)
START_DATE = dt.datetime.combine(SETTINGS.first_snapshot, dt.time(), tzinfo=BUSINESS_TZ)

# A task that runs longer is stuck: it fails (and notifies) instead of holding the queue.
SHORT_TASK_TIMEOUT = dt.timedelta(minutes=10)
TASK_TIMEOUT = dt.timedelta(hours=1)
AREA_RUN_TIMEOUT = dt.timedelta(hours=3)


def area_asset(area: str) -> Asset:
    """Updated when an area's findings for a snapshot date are written."""
    return Asset(f"hypercare://audit-store/findings/{area}")


def default_args() -> dict[str, Any]:
    from hypercare_airflow.notify import FailureNotifier

    # The first retry waits Airflow's [core] default_task_retry_delay (5 minutes unless the
    # deployment sets it), doubling after that.
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_exponential_backoff": True,
        "execution_timeout": TASK_TIMEOUT,
        "on_failure_callback": [FailureNotifier()],
    }


def run_params() -> dict[str, Any]:
    from airflow.sdk import Param

    return {
        "snapshot_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Snapshot date",
            description="the snapshot day to process; empty: the day(s) this run was started for",
        ),
        "rules_file": Param(None, type=["null", "string"], description="rules configuration override"),
    }


def source_dir_default() -> str:
    return os.environ.get("HYPERCARE_SOURCE_DIR", "/opt/hypercare/source")


def ingest_snapshot_date(context: dict[str, Any]) -> dt.date:
    """The snapshot an ingest run loads: the `snapshot_date` param, else the business day its
    data interval starts on (a scheduled or backfill run for day D covers D; a manual run
    without a date covers the last complete day)."""
    chosen = (context.get("params") or {}).get("snapshot_date")
    if chosen:
        return dt.date.fromisoformat(chosen)
    start = context.get("data_interval_start")
    if start is not None:
        return start.astimezone(BUSINESS_TZ).date()
    return context["dag_run"].run_after.astimezone(BUSINESS_TZ).date() - dt.timedelta(days=1)


def snapshot_dates(context: dict[str, Any]) -> list[dt.date]:
    """Dates an area run evaluates: the `snapshot_date` param, else every snapshot date the
    triggering asset events name. A run with neither is refused rather than guessed."""
    chosen = (context.get("params") or {}).get("snapshot_date")
    if chosen:
        return [dt.date.fromisoformat(chosen)]
    events = context.get("triggering_asset_events") or {}
    named = sorted(
        {
            dt.date.fromisoformat(day)
            for asset_events in events.values()
            for event in asset_events
            for day in (event.extra or {}).get("snapshot_dates", ())
        }
    )
    if not named:
        raise ValueError(
            "no snapshot date: trigger this DAG with the snapshot_date param, or let a landing event start it"
        )
    return named


def announce(context: dict[str, Any], asset: Asset, days: list[dt.date], **extra: Any) -> None:
    """Name the snapshot dates (and what was done) on the asset event, so downstream DAGs
    evaluate the same days and the UI shows the result."""
    context["outlet_events"][asset].extra = {"snapshot_dates": [day.isoformat() for day in days], **extra}


def connection(conn_id: str):
    """The connection, or None when it is not defined anywhere Airflow looks."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        return BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):
        return None


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc}" if user else netloc))


def store_url() -> str:
    """The audit store's URL: the `hypercare_db` connection, else HYPERCARE_DB_URL, else the
    embedded server. Logged (without credentials) so a task's log says which store it used."""
    conn = connection(DB_CONN_ID)
    if conn is not None:
        url, source = conn.get_uri().replace("postgres://", "postgresql://", 1), f"Airflow connection {DB_CONN_ID}"
    elif os.environ.get("HYPERCARE_DB_URL"):
        url, source = os.environ["HYPERCARE_DB_URL"], f"HYPERCARE_DB_URL (no {DB_CONN_ID} connection)"
    else:
        from hypercare import db

        url = db.embedded_url()
        source = (
            f"the embedded PostgreSQL under {db.hypercare_home()} (no {DB_CONN_ID} connection, no HYPERCARE_DB_URL)"
        )
        log.warning("audit store: %s, %s", without_password(url), source)
        return url
    log.info("audit store: %s, %s", without_password(url), source)
    return url


def require_migrated(conn) -> None:
    """Refuse to work on a store the ingest DAG has not migrated to this code's schema."""
    from hypercare import db

    expected = sorted(path.stem for path in db.MIGRATIONS_DIR.glob("*.sql"))
    exists = conn.execute("select to_regclass('hypercare.schema_migrations')").fetchone()[0]
    applied = {row[0] for row in conn.execute("select version from hypercare.schema_migrations")} if exists else set()
    pending = [version for version in expected if version not in applied]
    if pending:
        raise RuntimeError(
            f"the audit store lacks migrations {pending}: the hypercare_ingest DAG applies them "
            "(or run `hypercare db migrate`)"
        )


def missing_evaluations(url: str, day: dt.date, areas: list[str]) -> list[str]:
    """Areas that have not evaluated snapshot `day` since it was last loaded."""
    from hypercare import db

    with db.connect(url) as conn:
        row = conn.execute(db.named_queries("airflow")["missing_evaluations"], {"snapshot_date": day, "areas": areas})
        return list(row.fetchone()[0] or [])
