"""Driving a running Airflow from the outside, for the tests that start its processes:
REST calls, patient waits, fresh databases and the audit store compared table by table."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from hypercare import db
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset

PROJECT = Path(__file__).resolve().parents[2]
AREA_DAGS = [f"hypercare_{a}" for a in ("trigger", "handoff", "ownership", "customer", "billing")] + [
    f"hypercare_{a}" for a in ("provisioning", "ai", "writeback", "crosscutting")
]
PASSWORD = "hypercare-test"
# Waits are sized for an idle 2-core machine; a busy one (CI beside other jobs) gets this
# many times longer before a wait fails. Passing runs never wait longer than they need.
PATIENCE = float(os.environ.get("HYPERCARE_TEST_PATIENCE", "3"))


@dataclass
class Stack:
    """A running Airflow: its API address, environment, and its log (a file, or a folder of
    one log per component)."""

    base: str
    env: dict[str, str]
    log: Path
    store_url: str
    meta_url: str
    source: Path
    staging: Path
    rules_file: Path
    hypercare_home: Path
    token: str = ""

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token or self.token:
            req.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw.strip().startswith(b"{") else {"body": raw.decode()}
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode(errors="replace")}

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        status, payload = self.request(method, f"/api/v2{path}", body)
        assert status < 300, f"{method} {path}: {status} {payload}"
        return payload

    def log_tail(self, lines: int = 60) -> str:
        files = sorted(self.log.glob("*.log")) if self.log.is_dir() else [self.log]
        tails = []
        for path in files:
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            tails.append(f"--- {path.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(tails)

    def wait_until(self, what: str, timeout: float, check: Callable[[], object], every: float = 2) -> object:
        """Poll `check` until it returns something truthy; fail naming `what` and the last state."""
        deadline, last = time.monotonic() + timeout * PATIENCE, None
        while time.monotonic() < deadline:
            try:
                last = check()
            except (OSError, AssertionError) as exc:
                last = exc
            else:
                if last and not isinstance(last, str):
                    return last
            time.sleep(every)
        pytest.fail(f"{what} not reached within {timeout * PATIENCE:.0f} s; last: {last}\n{self.log_tail()}")

    def login(self) -> None:
        self.token = token(self, PASSWORD)[1]["access_token"]

    def unpause(self, dag_ids: list[str]) -> None:
        """Wait until the DAG processor has parsed `dag_ids`, then unpause them."""
        self.wait_until(
            "every Hypercare DAG parsed",
            120,
            lambda: {d["dag_id"] for d in self.api("GET", "/dags?limit=100")["dags"]} >= set(dag_ids),
        )
        for dag_id in dag_ids:
            self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})


def launcher():
    """scripts/run_airflow.py as a module (scripts/ is not a package)."""
    if "run_airflow" in sys.modules:
        return sys.modules["run_airflow"]
    spec = importlib.util.spec_from_file_location("run_airflow", PROJECT / "scripts" / "run_airflow.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_airflow"] = module
    spec.loader.exec_module(module)
    return module


def database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def drop_databases(admin_url: str, urls: list[str]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for url in urls:
            admin.execute(f'drop database if exists "{urlsplit(url).path[1:]}" with (force)')


def token(stack: Stack, password: str) -> tuple[int, dict]:
    return stack.request("POST", "/auth/token", {"username": "admin", "password": password})


def runs(stack: Stack, dag_id: str) -> list[dict]:
    return stack.api("GET", f"/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]


def task_state(stack: Stack, dag_id: str, run_id: str, task_id: str) -> str | None:
    return stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").get("state")


def finished(stack: Stack, dag_id: str, run_id: str) -> bool | str:
    state = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
    if state == "failed":
        tasks = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        pytest.fail(f"{dag_id} {run_id} failed: {[(t['task_id'], t['state']) for t in tasks]}\n{stack.log_tail()}")
    return state == "success" or f"{dag_id} {run_id}: {state}"


def all_quiet(stack: Stack) -> bool | str:
    busy = [
        (run["dag_id"], run["state"])
        for run in stack.api("GET", "/dags/~/dagRuns?limit=200")["dag_runs"]
        if run["state"] in ("queued", "running")
    ]
    if busy:
        return f"busy: {busy}"
    return True


def cli_store(url: str, source: Path, rules_file: Path, days: list[dt.date]) -> None:
    """What `hypercare load` and `hypercare evaluate` do, day by day."""
    ruleset = load_ruleset(rules_file)
    with db.connect(url, autocommit=True) as conn:
        db.migrate(conn)
        for day in days:
            load_snapshot(conn, source, day, ruleset=ruleset)
            evaluate_day(conn, day, ruleset)


def digests(url: str) -> dict[str, tuple[int, str]]:
    """Per table of the audit store: row count and a digest of its rows, wall-clock columns
    (default now()) and load identifiers (default gen_random_uuid()) left out. The audit log
    and its checkpoints are left out: the log's actor names the runner, so its hashes differ."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'hypercare' and c.relkind in ('r', 'p') and not c.relispartition "
                "and c.relname not in ('audit_log', 'audit_checkpoints', 'schema_migrations') order by 1"
            )
        ]
        result = {}
        for table in tables:
            columns = [
                row[0]
                for row in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'hypercare' "
                    "and table_name = %s and coalesce(column_default, '') not ilike '%%now()%%' "
                    "and coalesce(column_default, '') not ilike '%%gen_random_uuid()%%' "
                    "order by ordinal_position",
                    (table,),
                )
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            result[table] = conn.execute(
                f"select count(*), md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) "
                f"from (select {listed} from hypercare.{table}) t"
            ).fetchone()
        return result


@dataclass
class Workspace:
    rules_file: Path
    staging: Path
    source: Path


def workspace(work: Path, days: list[dt.date], published: list[dt.date], customers: int = 60) -> Workspace:
    """Rules with no scheduled run (the tests drive the dates) and quick export and evaluation
    polls; `days` of synthetic snapshots generated into staging, `published` of them copied
    to the source folder the DAGs read."""
    import shutil

    import yaml

    from hypercare.synth import generate

    rules = yaml.safe_load((PROJECT / "include" / "rules.yaml").read_text())
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    rules["ingest"].update(first_snapshot=tomorrow, export_poll_minutes=0.2, export_wait_hours=0.1)
    rules_file = work / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
    staging, source = work / "staging", work / "source"
    generate(staging, start=days[0], days=len(days), customers=customers, seed=11, ruleset=load_ruleset(rules_file))
    source.mkdir()
    for day in published:
        shutil.copytree(staging / day.isoformat(), source / day.isoformat())
    return Workspace(rules_file=rules_file, staging=staging, source=source)
