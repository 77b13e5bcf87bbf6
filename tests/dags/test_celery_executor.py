"""Hypercare on Airflow's distributed machinery: CeleryExecutor with a Redis broker.

What docker-compose.yaml deploys, as processes (no container engine needed): our own
redis-server on a free loopback port, Airflow's metadata database on the test PostgreSQL
(also the Celery result backend), and the API server, scheduler, DAG processor, triggerer
and a Celery worker each a process of its own (scripts/run_airflow.py --celery). A day
triggered through the REST API must run the ingest DAG, every area DAG and
`hypercare_crosscutting` on the worker through the asset chain, and leave the audit store
equal to the CLI's. Then the worker is killed while area tasks run on it: the scheduler
finds the tasks without heartbeat and retries them on a new worker, and the store still
equals the CLI's.

Slow (a minute or two of Airflow start-up on two cores): `make test-distributed` runs it;
`make test` leaves it out (marker `distributed`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.dags.airflow_stack import (
    AREA_DAGS,
    PASSWORD,
    Stack,
    all_quiet,
    cli_store,
    database,
    digests,
    drop_databases,
    finished,
    launcher,
    workspace,
)

pytestmark = pytest.mark.distributed

TODAY = dt.datetime.now(dt.UTC).date()
DAY, NEXT_DAY = TODAY - dt.timedelta(days=3), TODAY - dt.timedelta(days=2)
STARTUP_SECONDS = 180
DAY_SECONDS = 150
# A killed worker's running tasks are found without heartbeat after this, then retried this
# soon; a task it had taken from the broker but not started is queued again after the
# queued timeout (production: 300 s, 5 minutes, 600 s).
HEARTBEAT_TIMEOUT_SECONDS = 20
RETRY_DELAY_SECONDS = 5
QUEUED_TIMEOUT_SECONDS = 60


@dataclass
class Cluster(Stack):
    """The stack, and its processes (scripts/run_airflow.py's CeleryCluster)."""

    celery: Any = None


@pytest.fixture(scope="module")
def cluster(pg_admin_url, tmp_path_factory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("celery")
    files = workspace(work, [DAY, NEXT_DAY], published=[DAY, NEXT_DAY])
    meta_url = database(pg_admin_url, "airflow_meta")
    store_url = database(pg_admin_url, "hypercare_store")
    run_airflow = launcher()
    port = run_airflow.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(work / "airflow-home"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        AIRFLOW_CONN_HYPERCARE_DB=store_url,
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY=str(RETRY_DELAY_SECONDS),
        # Two task processes at a time: more only thrash two cores.
        AIRFLOW__CELERY__WORKER_CONCURRENCY="2",
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT=str(HEARTBEAT_TIMEOUT_SECONDS),
        AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT=str(QUEUED_TIMEOUT_SECONDS),
        AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL="10",
        HYPERCARE_SOURCE_DIR=str(files.source),
        HYPERCARE_HOME=str(work / "hypercare-home"),
        HYPERCARE_RULES_FILE=str(files.rules_file),
        HYPERCARE_AIRFLOW_PASSWORD=PASSWORD,
    )
    celery = run_airflow.CeleryCluster.start(env, work / "logs", workers=1)
    stack = Cluster(
        base=f"http://127.0.0.1:{port}",
        env=celery.env,
        log=celery.logs,
        store_url=store_url,
        meta_url=meta_url,
        source=files.source,
        staging=files.staging,
        rules_file=files.rules_file,
        hypercare_home=work / "hypercare-home",
        celery=celery,
    )
    try:
        stack.wait_until(
            "the API server answering",
            STARTUP_SECONDS,
            lambda: stack.request("GET", "/api/v2/monitor/health")[0] == 200,
        )
        stack.login()
        stack.unpause(["hypercare_ingest", *AREA_DAGS])
        yield stack
    finally:
        celery.stop()
        drop_databases(pg_admin_url, [meta_url, store_url])


def _trigger(stack: Stack, day: dt.date) -> str:
    body = {"logical_date": None, "conf": {"snapshot_date": str(day)}}
    return stack.api("POST", "/dags/hypercare_ingest/dagRuns", body)["dag_run_id"]


def _executed_on(stack: Cluster, worker: str) -> set[str]:
    """DAG ids of the task workloads the worker's log says it executed."""
    text = (stack.log / f"{worker}.log").read_text(errors="replace")
    return {
        match.group(1)
        for line in text.splitlines()
        if "Executing workload in Celery" in line
        for match in [re.search(r"log_path='dag_id=([^/]+)/", line)]
        if match
    }


def _running_tasks(stack: Cluster) -> list[tuple[str, str, str]]:
    with psycopg.connect(stack.meta_url) as conn:
        return conn.execute(
            "select dag_id, task_id, run_id from task_instance where state = 'running' and dag_id like 'hypercare_%%'"
        ).fetchall()


def _only_area_tasks_running(stack: Cluster) -> list[tuple[str, str, str]]:
    """The running tasks, once some are and all are area tasks: the ingest DAG's own tasks
    that run beside them (check_contract, check_complete) are done, and it waits deferred."""
    running = _running_tasks(stack)
    return running if running and all(dag_id in AREA_DAGS for dag_id, *_ in running) else []


def test_a_day_runs_every_area_on_the_celery_worker_and_equals_the_cli(cluster, pg_admin_url):
    run_id = _trigger(cluster, DAY)
    cluster.wait_until(f"the ingest run for {DAY}", DAY_SECONDS, lambda: finished(cluster, "hypercare_ingest", run_id))
    cluster.wait_until("every area run finished", 120, lambda: all_quiet(cluster))

    assert _executed_on(cluster, "worker1") >= {"hypercare_ingest", *AREA_DAGS}

    cli_url = database(pg_admin_url, "hypercare_cli")
    cli_store(cli_url, cluster.source, cluster.rules_file, [DAY])
    airflow_tables, cli_tables = digests(cluster.store_url), digests(cli_url)
    drop_databases(pg_admin_url, [cli_url])
    assert airflow_tables["evaluation_runs"][0] == 11
    assert {t: v for t, v in airflow_tables.items() if cli_tables.get(t) != v} == {}


def test_a_killed_worker_s_tasks_are_retried_on_a_new_worker_and_the_store_ends_identical(cluster, pg_admin_url):
    run_id = _trigger(cluster, NEXT_DAY)
    # check_complete and the waits fail fast (no retries), so the kill comes while only
    # area tasks run.
    cluster.wait_until("only area tasks running", 120, lambda: _only_area_tasks_running(cluster), every=0.3)
    cluster.celery.kill("worker1")
    # Nothing can end a task of the dead worker: what still shows running was killed mid-run.
    killed = _running_tasks(cluster)
    assert killed, "the area tasks finished before the kill"
    cluster.celery.start_worker("worker2")

    cluster.wait_until(
        f"the ingest run for {NEXT_DAY}", DAY_SECONDS * 2, lambda: finished(cluster, "hypercare_ingest", run_id)
    )
    cluster.wait_until("every area run finished", 120, lambda: all_quiet(cluster))
    with psycopg.connect(cluster.meta_url) as conn:
        final = conn.execute(
            "select dag_id, task_id, run_id, state, try_number from task_instance "
            "where (dag_id, task_id, run_id) in (select * from unnest(%s::text[], %s::text[], %s::text[]))",
            ([k[0] for k in killed], [k[1] for k in killed], [k[2] for k in killed]),
        ).fetchall()
    assert len(final) == len(killed)
    assert all(state == "success" and tries == 2 for *_, state, tries in final), final
    assert _executed_on(cluster, "worker2") >= {dag_id for dag_id, *_ in killed}

    cli_url = database(pg_admin_url, "hypercare_cli")
    cli_store(cli_url, cluster.source, cluster.rules_file, [DAY, NEXT_DAY])
    airflow_tables, cli_tables = digests(cluster.store_url), digests(cli_url)
    drop_databases(pg_admin_url, [cli_url])
    assert {t: v for t, v in airflow_tables.items() if cli_tables.get(t) != v} == {}
