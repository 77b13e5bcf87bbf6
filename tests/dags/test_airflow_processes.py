"""Airflow as a data engineer runs it, against PostgreSQL, end to end.

`make airflow`'s launcher (scripts/run_airflow.py) starts `airflow standalone`: scheduler,
DAG processor, triggerer and API server as processes, the metadata database on the test
PostgreSQL. One day is triggered through the REST API with a snapshot date (before its
export exists, so the run waits deferred until it appears), two more are backfilled
with `airflow backfill create` exactly as the README says, and the audit store must equal
a CLI run over the same snapshots. Every process started here is killed, also on failure.

Heavy on two cores (one Airflow for the module, small data); `make test` reports its time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.dags.airflow_stack import (
    AREA_DAGS,
    PASSWORD,
    PROJECT,
    Stack,
    all_quiet,
    cli_store,
    database,
    digests,
    finished,
    launcher,
    runs,
    task_state,
    token,
    workspace,
)
from tests.loopback import free_port, stop_process_group

pytestmark = pytest.mark.airflow_processes

TODAY = dt.datetime.now(dt.UTC).date()
# Complete days (backfills refuse the future): one triggered through the REST API, two backfilled.
DAYS = [TODAY - dt.timedelta(days=n) for n in (4, 3, 2)]
BACKFILLED = len(DAYS) - 1
STARTUP_SECONDS = 180
DAY_SECONDS = 150


@pytest.fixture(scope="module")
def stack(pg_admin_url, tmp_path_factory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("airflow-processes")
    files = workspace(work, DAYS, published=DAYS[1:])
    meta_url = database(pg_admin_url, "airflow_meta")
    store_url = database(pg_admin_url, "hypercare_store")
    port = free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    base_env.update(
        AIRFLOW_HOME=str(work / "airflow-home"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        AIRFLOW_CONN_HYPERCARE_DB=store_url,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        HYPERCARE_SOURCE_DIR=str(files.source),
        HYPERCARE_HOME=str(work / "hypercare-home"),
        HYPERCARE_RULES_FILE=str(files.rules_file),
        HYPERCARE_AIRFLOW_PASSWORD=PASSWORD,
    )
    env, _ = launcher().airflow_env(base_env)
    log = work / "airflow.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT / "scripts" / "run_airflow.py")],
            env=base_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=work,
        )
    stack = Stack(
        base=f"http://127.0.0.1:{port}",
        env=env,
        log=log,
        store_url=store_url,
        meta_url=meta_url,
        source=files.source,
        staging=files.staging,
        rules_file=files.rules_file,
        hypercare_home=work / "hypercare-home",
    )
    try:
        stack.wait_until(
            "the API server answering",
            STARTUP_SECONDS,
            lambda: stack.request("GET", "/api/v2/monitor/health")[0] == 200,
        )
        yield stack
    finally:
        stop_process_group(process)


def test_make_airflow_prints_the_login_serves_the_ui_and_keeps_metadata_in_postgres(stack):
    printed = stack.log.read_text(errors="replace")
    assert f"login: admin / {PASSWORD}" in printed and stack.base.rsplit(":", 1)[1] in printed
    status, page = stack.request("GET", "/")
    assert status == 200 and "<html" in page["body"].lower()
    assert token(stack, "wrong")[0] in (401, 403)
    status, body = token(stack, PASSWORD)
    assert status < 300 and body["access_token"]
    with psycopg.connect(stack.meta_url) as conn:
        assert conn.execute("select to_regclass('public.dag_run')").fetchone()[0] == "dag_run"


def test_rest_trigger_and_backfill_equal_the_cli(stack, pg_admin_url):
    stack.login()
    stack.unpause(["hypercare_ingest", *AREA_DAGS])

    # A manual run through the REST API, with the date picker's param; its export is not there yet.
    run = stack.api(
        "POST", "/dags/hypercare_ingest/dagRuns", {"logical_date": None, "conf": {"snapshot_date": str(DAYS[0])}}
    )
    run_id = run["dag_run_id"]
    stack.wait_until(
        "wait_for_snapshot deferred",
        90,
        lambda: task_state(stack, "hypercare_ingest", run_id, "wait_for_snapshot") == "deferred",
    )
    # Let the scheduler record the deferring worker's exit first: a trigger that fires within a
    # second or two of the deferral races that event and Airflow fails the task.
    time.sleep(15)
    shutil.copytree(stack.staging / DAYS[0].isoformat(), stack.source / DAYS[0].isoformat())
    stack.wait_until(
        f"the REST-triggered run for {DAYS[0]}",
        DAY_SECONDS,
        lambda: finished(stack, "hypercare_ingest", run_id),
    )

    # The README's backfill recipe: inclusive end, one day at a time.
    created = subprocess.run(
        [
            str(Path(sys.executable).parent / "airflow"),
            "backfill",
            "create",
            "--dag-id",
            "hypercare_ingest",
            "--from-date",
            str(DAYS[1]),
            "--to-date",
            str(DAYS[-1]),
            "--reprocess-behavior",
            "completed",
            "--max-active-runs",
            "1",
        ],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    def backfill_done():
        backfilled = [r for r in runs(stack, "hypercare_ingest") if r["run_type"] == "backfill"]
        states = sorted((r["logical_date"][:10], r["state"]) for r in backfilled)
        if len(backfilled) == BACKFILLED and all(state == "success" for _, state in states):
            return states
        if any(state == "failed" for _, state in states):
            pytest.fail(f"a backfill run failed: {states}\n{stack.log_tail()}")
        return f"backfill runs: {states}"

    states = stack.wait_until("the backfill", DAY_SECONDS * BACKFILLED, backfill_done)
    assert [day for day, _ in states] == [str(day) for day in DAYS[1:]], "from-date to to-date, inclusive"
    stack.wait_until("every area run finished", 120, lambda: all_quiet(stack))

    cli_url = database(pg_admin_url, "hypercare_cli")
    cli_store(cli_url, stack.source, stack.rules_file, DAYS)
    airflow_tables, cli_tables = digests(stack.store_url), digests(cli_url)
    assert airflow_tables["evaluation_runs"][0] == len(DAYS) * 11
    assert {t: v for t, v in airflow_tables.items() if cli_tables.get(t) != v} == {}

    # What a run's page shows: the landing event names the day and its rows, each area its counts per rule.
    events = stack.api("GET", "/assets/events?limit=200&order_by=-timestamp")["asset_events"]
    landing = [e["extra"] for e in events if e["uri"].endswith("/landing")]
    assert {e["snapshot_date"] for e in landing} == {str(day) for day in DAYS}
    assert all(e["rows_loaded"] > 0 and e["unusable"] == [] for e in landing)
    trigger = next(e["extra"] for e in events if e["uri"].endswith("/findings/trigger"))
    assert "trigger.missed_eligible" in next(iter(trigger["findings"].values()))

    # Backfilled days are past their deadline: the alert fired, and paged nobody about the past.
    with psycopg.connect(stack.meta_url) as conn:
        missed = conn.execute("select count(*) from deadline where missed").fetchone()[0]
    assert missed == BACKFILLED
    assert not (stack.hypercare_home / "alert-capture" / "operations").exists()
