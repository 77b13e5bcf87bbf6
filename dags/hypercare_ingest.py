"""Airflow DAG hypercare_ingest: land the day's source snapshot and check it against the contract."""

from __future__ import annotations

from airflow.sdk import AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, DeadlineReference, Param, dag, task

from hypercare_airflow.common import (
    LANDING,
    SETTINGS,
    SHORT_TASK_TIMEOUT,
    START_DATE,
    announce,
    area_asset,
    default_args,
    ingest_snapshot_date,
    run_params,
    source_dir_default,
    store_url,
)
from hypercare_airflow.notify import evaluation_deadline_missed
from hypercare_airflow.sensors import WaitForEvaluation, WaitForSnapshot

DOC = f"""
### hypercare_ingest
Owner: **hypercare-data-eng** (RevOps data engineering).

**Which snapshot a run loads** (business timezone `{SETTINGS.timezone}`, from the rules file):

- *scheduled*: the run for day D starts when D has ended (midnight) and loads D;
- *backfill* `--from-date A --to-date B`: one run per day, A to B inclusive, each loading its day;
- *manual* (UI form, CLI, REST): the **Snapshot date** param (`snapshot_date`, a date
  picker in the form); left empty, the last complete day. The logical date does not choose it.

Steps: apply the audit store's migrations; wait, deferred, for `<source_dir>/<D>/` (and its
manifest when `ingest.require_manifest`) for up to {SETTINGS.export_wait} (failing with what is
missing); land it, quarantining rows that break the contract, and update the landing asset
(extra: snapshot date, rows, unusable entities), which starts every monitoring-area DAG for D;
record `contract.*` findings; fail the run when an entity file was rejected or held (the areas
that do not read it still run); then wait until every area has evaluated D. A deadline alert
tells the data engineers when a scheduled day's evaluation has not finished by
{SETTINGS.evaluated_by:%H:%M} on the next day.

Re-running a day replaces its snapshot and findings: re-runs and backfills never duplicate rows.
"""


@dag(
    dag_id="hypercare_ingest",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=SETTINGS.timezone),
    start_date=START_DATE,
    catchup=SETTINGS.catchup,
    max_active_runs=1,
    dagrun_timeout=2 * SETTINGS.export_wait + SHORT_TASK_TIMEOUT * 6,
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=SETTINGS.evaluation_deadline,
        callback=AsyncCallback(evaluation_deadline_missed),
        name="evaluation finished",
    ),
    default_args=default_args(),
    tags=["hypercare", "ingest"],
    doc_md=DOC,
    params={
        **run_params(),
        "source_dir": Param(source_dir_default(), type="string", description="folder of YYYY-MM-DD snapshots"),
        "accept_drops": Param(
            [],
            type="array",
            items={"type": "string"},
            description="entities whose volume drop (contract.volume_drop) is real and may be loaded",
        ),
        "await_evaluation": Param(
            True, type="boolean", description="keep the run open until every area has evaluated the snapshot"
        ),
    },
)
def hypercare_ingest():
    @task(execution_timeout=SHORT_TASK_TIMEOUT)
    def migrate() -> list[str]:
        from hypercare import db

        with db.connect(store_url()) as conn:
            return db.migrate(conn)

    wait_for_snapshot = WaitForSnapshot(
        task_id="wait_for_snapshot",
        source_dir="{{ params.source_dir }}",
        poll=SETTINGS.export_poll,
        wait=SETTINGS.export_wait,
    )

    @task(outlets=[LANDING])
    def load(**context) -> dict:
        from dataclasses import asdict
        from pathlib import Path

        from hypercare import db
        from hypercare.loader import load_snapshot
        from hypercare.ruleset import load_ruleset

        params = context["params"]
        day = ingest_snapshot_date(context)
        with db.connect(store_url(), autocommit=True) as conn:
            report = load_snapshot(
                conn=conn,
                source_dir=Path(params["source_dir"]),
                snapshot_date=day,
                ruleset=load_ruleset(params.get("rules_file") or None),
                accept_drops=params.get("accept_drops") or (),
                actor=f"airflow:{context['dag'].dag_id}",
            )
        print(report.summary())
        unusable = [{"entity": e.entity, "status": e.status, "message": e.message} for e in report.unusable]
        announce(
            context,
            LANDING,
            [day],
            snapshot_date=day.isoformat(),
            rows_loaded=report.rows_loaded,
            rows_quarantined=report.rows_quarantined,
            unusable=unusable,
        )
        return {
            "snapshot_date": day.isoformat(),
            "entities": [asdict(e) for e in report.entities],
            "summary": report.summary(),
        }

    @task(outlets=[area_asset("contract")])
    def check_contract(**context) -> dict:
        from hypercare_airflow.areas import evaluate_areas

        return evaluate_areas(
            ["contract"], context, outlet=area_asset("contract"), days=[ingest_snapshot_date(context)]
        )

    @task(retries=0, execution_timeout=SHORT_TASK_TIMEOUT)
    def check_complete(landed: dict) -> str:
        """Fail the run, after the good files were landed, when an entity is unusable."""
        import datetime as dt

        from hypercare.loader import EntityLoad, LoadReport

        report = LoadReport(
            snapshot_date=dt.date.fromisoformat(landed["snapshot_date"]),
            entities=tuple(EntityLoad(**entity) for entity in landed["entities"]),
        )
        report.raise_if_incomplete()
        return f"snapshot {report.snapshot_date}: every entity usable"

    wait_for_evaluation = WaitForEvaluation(
        task_id="wait_for_evaluation", poll=SETTINGS.export_poll, wait=SETTINGS.export_wait
    )

    landed = load()
    contract = check_contract()
    migrate() >> wait_for_snapshot >> landed >> contract
    [contract, check_complete(landed)] >> wait_for_evaluation


hypercare_ingest()
