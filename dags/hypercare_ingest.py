"""Airflow DAG hypercare_ingest: land the day's source snapshot and check it against the contract."""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from common.hypercare_tasks import (
    DEFAULT_ARGS,
    LANDING,
    START_DATE,
    announce,
    area_asset,
    db_url,
    evaluate_areas,
    run_params,
    snapshot_dates,
    source_dir_default,
)

DOC = """
### hypercare_ingest
Owner: **hypercare-data-eng** (RevOps data engineering).

Loads `<source_dir>/<YYYY-MM-DD>/` for the run's data interval (the snapshot of that day)
into the landing tables of the audit store, quarantines rows that break the contract,
and records `contract.violation` findings. Updates the landing asset, which starts every
monitoring-area DAG for that snapshot date.

Backfill after a rule or data change: `airflow backfill create --dag-id hypercare_ingest
--from-date ... --to-date ... --reprocess-behavior completed`. Loads replace their
snapshot, so re-runs never duplicate rows.
"""


@dag(
    dag_id="hypercare_ingest",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hypercare", "ingest"],
    doc_md=DOC,
    params={
        "source_dir": Param(source_dir_default(), type="string", description="folder of YYYY-MM-DD snapshots"),
        **run_params(),
    },
)
def hypercare_ingest():
    @task
    def migrate() -> list[str]:
        from hypercare import db

        with db.connect(db_url()) as conn:
            return db.migrate(conn)

    @task(outlets=[LANDING])
    def load(**context) -> dict:
        from pathlib import Path

        from hypercare import db
        from hypercare.loader import load_snapshot

        (day,) = snapshot_dates(context)
        with db.connect(db_url()) as conn:
            report = load_snapshot(conn, Path(context["params"]["source_dir"]), day)
        announce(context, LANDING, [day])
        return {"snapshot_date": day.isoformat(), "summary": report.summary()}

    @task(outlets=[area_asset("contract")])
    def check_contract(**context) -> list[str]:
        return evaluate_areas(["contract"], context, outlet=area_asset("contract"))

    migrate() >> load() >> check_contract()


hypercare_ingest()
