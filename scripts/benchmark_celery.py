"""Wall time of one snapshot day through Airflow on CeleryExecutor, with 1 and 2 workers.

For each worker count: fresh metadata and store databases, the components of
`run_airflow.py --celery` started as processes, `hypercare_ingest` triggered for the day
(the last of a generated month, as `make bench` measures), and the time from the trigger
until the ingest run succeeds (it waits until every area and the cross-cutting DAG have
evaluated the day). Meanwhile the store is sampled every half second: connections, and
sessions waiting on a lock. Prints a markdown table for docs/benchmarks.md.

  python scripts/benchmark_celery.py --customers 20000 --workers 1 2 --concurrency 1

The PostgreSQL server is HYPERCARE_BENCH_DB_URL (an admin URL), else the embedded one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_airflow import CeleryCluster, free_port

PROJECT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 12, 1)
AREA_DAGS = ("trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai", "writeback")


def _database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


class StoreSampler(threading.Thread):
    """Peak connections to the store and peak sessions waiting on a lock in it."""

    def __init__(self, admin_url: str, database: str):
        super().__init__(daemon=True)
        self.admin_url, self.database = admin_url, database
        self.peak_connections = self.peak_lock_waits = 0
        self.lock_wait_samples = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.stopped.wait(0.5):
                total, waiting = conn.execute(
                    "select count(*), count(*) filter (where wait_event_type = 'Lock') "
                    "from pg_stat_activity where datname = %s",
                    (self.database,),
                ).fetchone()
                self.peak_connections = max(self.peak_connections, total)
                self.peak_lock_waits = max(self.peak_lock_waits, waiting)
                self.lock_wait_samples += bool(waiting)


def _airflow(env: dict[str, str], *args: str) -> str:
    airflow = str(Path(sys.executable).parent / "airflow")
    return subprocess.run([airflow, *args], env=env, check=True, capture_output=True, text=True).stdout


def _wait(what: str, timeout: float, check, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise TimeoutError(what)


def measure(admin_url: str, source: Path, workers: int, concurrency: int, work: Path) -> dict:
    meta_url, store_url = _database(admin_url, "airflow_bench"), _database(admin_url, "hypercare_bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(work / "airflow-home"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        AIRFLOW_CONN_HYPERCARE_DB=store_url,
        AIRFLOW__API__PORT=str(free_port()),
        AIRFLOW__CELERY__WORKER_CONCURRENCY=str(concurrency),
        AIRFLOW__CORE__PARALLELISM=str(max(4, workers * concurrency)),
        # A task that fails on a busy machine (an execution API timeout) is retried soon and
        # counted, instead of adding five minutes to the wall time.
        AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY="10",
        HYPERCARE_SOURCE_DIR=str(source),
        HYPERCARE_HOME=str(work / "hypercare-home"),
        HYPERCARE_AIRFLOW_PASSWORD="bench",
    )
    cluster = CeleryCluster.start(env, work / "logs", workers=workers)
    sampler = StoreSampler(admin_url, urlsplit(store_url).path[1:])
    try:
        dag_ids = ["hypercare_ingest", *(f"hypercare_{a}" for a in AREA_DAGS), "hypercare_crosscutting"]

        def parsed():
            with psycopg.connect(meta_url) as conn:
                found = conn.execute("select count(*) from dag where dag_id = any(%s)", (dag_ids,)).fetchone()[0]
            return found == len(dag_ids)

        _wait("DAGs parsed", 600, parsed)
        pattern = "^hypercare_(ingest|crosscutting|" + "|".join(AREA_DAGS) + ")$"
        _airflow(cluster.env, "dags", "unpause", "--treat-dag-id-as-regex", "-y", pattern)
        sampler.start()
        began = time.monotonic()
        _airflow(cluster.env, "dags", "trigger", "hypercare_ingest", "-c", json.dumps({"snapshot_date": str(DAY)}))

        def ingest_state():
            with psycopg.connect(meta_url) as conn:
                row = conn.execute("select state from dag_run where dag_id = 'hypercare_ingest'").fetchone()
            if row and row[0] == "failed":
                raise RuntimeError(f"the ingest run failed; see {cluster.logs}")
            return row and row[0] == "success"

        _wait("the ingest run", 3600, ingest_state)
        wall = time.monotonic() - began
        sampler.stopped.set()
        with psycopg.connect(meta_url) as conn:
            tasks = conn.execute(
                "select dag_id, task_id, extract(epoch from end_date - start_date)::float8, try_number "
                "from task_instance where dag_id like 'hypercare_%%' and state = 'success' order by start_date"
            ).fetchall()
        areas = [seconds for _, task_id, seconds, _ in tasks if task_id.startswith("evaluate_")]
        return {
            "workers": workers,
            "concurrency": concurrency,
            "wall_seconds": round(wall, 1),
            "area_task_seconds_sum": round(sum(areas), 1),
            "area_task_seconds_max": round(max(areas), 1),
            "load_seconds": round(next(s for _, t, s, _ in tasks if t == "load"), 1),
            "retried_tries": sum(tries - 1 for *_, tries in tasks),
            "load_average": round(os.getloadavg()[0], 1),
            "peak_store_connections": sampler.peak_connections,
            "peak_lock_waits": sampler.peak_lock_waits,
            "seconds_with_lock_waits": sampler.lock_wait_samples / 2,
        }
    finally:
        sampler.stopped.set()
        cluster.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            for url in (meta_url, store_url):
                admin.execute(f'drop database if exists "{urlsplit(url).path[1:]}" with (force)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    args = parser.parse_args()

    from hypercare import db
    from hypercare.ruleset import load_ruleset
    from hypercare.synth import generate

    admin_url = os.environ.get("HYPERCARE_BENCH_DB_URL") or db.embedded_url(database="postgres")
    work = Path(tempfile.mkdtemp(prefix="hypercare-celery-bench-"))
    source = work / "source"
    # No scheduled run competes with the measured one; the evaluation wait polls every 3 s
    # instead of 5 minutes, so the wall time is not rounded up to the poll.
    rules = yaml.safe_load((PROJECT / "include" / "rules.yaml").read_text())
    rules["ingest"].update(first_snapshot=DAY + dt.timedelta(days=30), export_poll_minutes=0.05)
    os.environ["HYPERCARE_RULES_FILE"] = str(work / "rules.yaml")
    (work / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    began = time.monotonic()
    generate(
        source,
        start=DAY - dt.timedelta(days=29),
        days=30,
        customers=args.customers,
        seed=11,
        ruleset=load_ruleset(work / "rules.yaml"),
        last_days=1,
    )
    print(f"generated {args.customers} customers, day {DAY}, in {time.monotonic() - began:.0f} s", flush=True)
    results = []
    for workers in args.workers:
        result = measure(admin_url, source, workers, args.concurrency, work / f"workers-{workers}")
        print(json.dumps(result), flush=True)
        results.append(result)
    print(
        "\n| workers x slots | wall (s) | load (s) | area tasks: sum / longest (s) | peak store connections | "
        "peak lock waits | s with a lock wait | retried tries | machine load average |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['workers']} x {r['concurrency']} | {r['wall_seconds']} | {r['load_seconds']} | "
            f"{r['area_task_seconds_sum']} / {r['area_task_seconds_max']} | {r['peak_store_connections']} | "
            f"{r['peak_lock_waits']} | {r['seconds_with_lock_waits']} | {r['retried_tries']} | {r['load_average']} |"
        )


if __name__ == "__main__":
    main()
