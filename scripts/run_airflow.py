"""Start Airflow over this project's DAGs, with its metadata database on PostgreSQL.

`make airflow` runs this: scheduler, DAG processor, triggerer and API server as processes
of one `airflow standalone`. `make airflow-celery` runs it with `--celery N`: CeleryExecutor
as docker-compose.yaml deploys it, each component its own process (API server, scheduler,
DAG processor, triggerer, N Celery workers) and a Redis broker of its own on a free
loopback port. The metadata database is an `airflow` database in the embedded PostgreSQL
that also holds the audit store (so backfills and parallel runs do not lock as on SQLite).
Every setting can be overridden from the environment:

  AIRFLOW_HOME                          default .hypercare/airflow
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN   default the embedded server's `airflow` database
  AIRFLOW_CONN_HYPERCARE_DB             default the embedded server's `hypercare` database
  HYPERCARE_SOURCE_DIR                  default the demo's source month, else a small generated one
  AIRFLOW__API__PORT                    default 8080
  HYPERCARE_AIRFLOW_PASSWORD            the `admin` login; default generated once, kept in AIRFLOW_HOME

It prints the UI's address and the login, then replaces itself with `airflow standalone`
(or, with `--celery`, runs the components until Ctrl-C).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

PROJECT = Path(__file__).resolve().parents[1]
DEMO_SOURCE = PROJECT / ".hypercare" / "demo" / "2026-11-02-30d-2000c-seed7"
SMALL_SOURCE = PROJECT / ".hypercare" / "airflow-source"
USER = "admin"


def _embedded(database: str) -> str:
    from hypercare import db

    return db.embedded_url(database=database)


def _source_dir() -> Path:
    """The demo's month when `make demo` made it, else a small month generated once."""
    if DEMO_SOURCE.is_dir():
        return DEMO_SOURCE
    if not SMALL_SOURCE.is_dir():
        from hypercare.ruleset import load_ruleset
        from hypercare.synth import generate

        print(f"generating a small source month (300 customers) in {SMALL_SOURCE}", flush=True)
        generate(SMALL_SOURCE, start=dt.date(2026, 11, 2), days=30, customers=300, seed=7, ruleset=load_ruleset())
    return SMALL_SOURCE


def _password(home: Path, env: dict[str, str]) -> tuple[Path, str]:
    """The admin password: HYPERCARE_AIRFLOW_PASSWORD, else the one generated on first start."""
    path = home / "passwords.json"
    if env.get("HYPERCARE_AIRFLOW_PASSWORD"):
        password = env["HYPERCARE_AIRFLOW_PASSWORD"]
    elif path.exists():
        password = json.loads(path.read_text())[USER]
    else:
        password = secrets.token_urlsafe(12)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return path, password


def airflow_env(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """Environment for `airflow standalone`, and the login password."""
    env = dict(env)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    home = Path(env.setdefault("AIRFLOW_HOME", str(PROJECT / ".hypercare" / "airflow")))
    home.mkdir(parents=True, exist_ok=True)
    rules = yaml.safe_load(Path(env.get("HYPERCARE_RULES_FILE") or PROJECT / "include" / "rules.yaml").read_text())
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(PROJECT / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Dates typed at the CLI (backfill --from-date/--to-date) mean business days.
    env.setdefault("AIRFLOW__CORE__DEFAULT_TIMEZONE", (rules.get("calendar") or {}).get("timezone", "UTC"))
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    # A task's calls to the API server's execution API time out after 5 s by default; on a
    # busy two-core machine the first one (the task starting) can take longer, and the task
    # then fails before it ran.
    env.setdefault("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "30")
    env.setdefault("AIRFLOW__API__PORT", "8080")
    env.setdefault("AIRFLOW__API__BASE_URL", f"http://localhost:{env['AIRFLOW__API__PORT']}")
    if "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = _embedded("airflow").replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
    if "AIRFLOW_CONN_HYPERCARE_DB" not in env and "HYPERCARE_DB_URL" not in env:
        env["AIRFLOW_CONN_HYPERCARE_DB"] = _embedded("hypercare")
    if "HYPERCARE_SOURCE_DIR" not in env:
        env["HYPERCARE_SOURCE_DIR"] = str(_source_dir())
    passwords, password = _password(home, env)
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{USER}:admin"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)
    return env, password


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{parts.netloc.rsplit('@', 1)[1]}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def celery_env(env: dict[str, str], broker_url: str) -> tuple[dict[str, str], str]:
    """`airflow_env` for CeleryExecutor: every component a process of its own, sharing the
    broker, the result backend (the metadata database), the API server's execution API and
    the secrets the API server signs task tokens with."""
    env, password = airflow_env(env)
    env["AIRFLOW__CORE__EXECUTOR"] = "CeleryExecutor"
    env["AIRFLOW__CELERY__BROKER_URL"] = broker_url
    env.setdefault("AIRFLOW__CELERY__RESULT_BACKEND", "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    env.setdefault("AIRFLOW__CELERY__WORKER_CONCURRENCY", env["AIRFLOW__CORE__PARALLELISM"])
    env.setdefault(
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{env['AIRFLOW__API__PORT']}/execution/"
    )
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(32))
    env.setdefault("AIRFLOW__API__SECRET_KEY", secrets.token_urlsafe(32))
    env.setdefault("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(free_port()))
    return env, password


def _process_tree(pid: int) -> list:
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class CeleryCluster:
    """Redis and Airflow's components as processes, each logging to `<logs>/<name>.log`."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def start(cls, env: dict[str, str], logs: Path, workers: int = 1) -> CeleryCluster:
        """Our own redis-server on a free loopback port, the metadata database migrated, then
        the API server, scheduler, DAG processor, triggerer and `workers` Celery workers."""
        redis = shutil.which("redis-server")
        if redis is None:
            raise SystemExit("redis-server not found: apt-get install redis-server")
        logs.mkdir(parents=True, exist_ok=True)
        broker_port = free_port()
        env, _ = celery_env(env, f"redis://127.0.0.1:{broker_port}/0")
        cluster = cls(env=env, logs=logs)
        cluster.spawn(
            "redis",
            [redis, "--port", str(broker_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        airflow = str(Path(sys.executable).parent / "airflow")
        migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True)
        if migrated.returncode != 0:
            cluster.stop()
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            cluster.spawn(component, [airflow, component])
        for number in range(1, workers + 1):
            cluster.start_worker(f"worker{number}")
        return cluster

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                argv, env=env or self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self.processes[name]

    def start_worker(self, name: str) -> subprocess.Popen:
        """A Celery worker named `name`, serving its task logs on a port of its own."""
        airflow = str(Path(sys.executable).parent / "airflow")
        env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
        return self.spawn(name, [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h"], env)

    def kill(self, name: str) -> None:
        """SIGKILL a component and every process under it, as when its machine dies: task
        processes run in process groups of their own, so the whole tree is collected first."""
        import psutil

        for process in _process_tree(self.processes[name].pid):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        self.processes.pop(name).wait(timeout=30)

    def stop(self, name: str | None = None, grace: float = 30) -> None:
        """TERM the component (default: all, workers first), then KILL what is left of its tree."""
        import psutil

        names = [name] if name else sorted(self.processes, key=lambda n: (n == "redis", not n.startswith("worker")))
        for each in names:
            tree = _process_tree(self.processes[each].pid)
            for process in tree:
                try:
                    process.send_signal(signal.SIGTERM)
                except psutil.NoSuchProcess:
                    continue
            _, alive = psutil.wait_procs(tree, timeout=grace)
            for process in alive:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    continue
            self.processes.pop(each).wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        tails = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            tails.append(f"--- {path.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(tails)


def _run_celery(env: dict[str, str], workers: int) -> None:
    home = Path(env.setdefault("AIRFLOW_HOME", str(PROJECT / ".hypercare" / "airflow")))
    cluster = CeleryCluster.start(env, home / "celery-logs", workers)
    print(f"  CeleryExecutor: {workers} worker(s), broker {cluster.env['AIRFLOW__CELERY__BROKER_URL']}", flush=True)
    print(f"  component logs: {cluster.logs}", flush=True)
    try:
        while all(process.poll() is None for process in cluster.processes.values()):
            time.sleep(2)
        stopped = [name for name, process in cluster.processes.items() if process.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(stopped)}; see {cluster.logs}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--celery", type=int, metavar="WORKERS", help="CeleryExecutor with this many workers")
    args = parser.parse_args()
    env, password = airflow_env(dict(os.environ))
    airflow = str(Path(sys.executable).parent / "airflow")
    print(
        f"Airflow UI: {env['AIRFLOW__API__BASE_URL']}  login: {USER} / {password}\n"
        f"  metadata database: {_without_password(env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])}\n"
        f"  snapshots: {env['HYPERCARE_SOURCE_DIR']}\n"
        f"  Airflow home and logs: {env['AIRFLOW_HOME']}; stop with Ctrl-C",
        flush=True,
    )
    if args.celery:
        _run_celery(env, args.celery)
    else:
        os.execve(airflow, [airflow, "standalone"], env)


if __name__ == "__main__":
    main()
