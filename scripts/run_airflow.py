"""Start Airflow standalone over this project's DAGs, with its metadata database on PostgreSQL.

`make airflow` runs this. Scheduler, DAG processor, triggerer and API server run as
processes of one `airflow standalone`; the metadata database is an `airflow` database in
the embedded PostgreSQL that also holds the audit store (so backfills and parallel runs do
not lock as on SQLite). Every setting can be overridden from the environment:

  AIRFLOW_HOME                          default .hypercare/airflow
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN   default the embedded server's `airflow` database
  AIRFLOW_CONN_HYPERCARE_DB             default the embedded server's `hypercare` database
  HYPERCARE_SOURCE_DIR                  default the demo's source month, else a small generated one
  AIRFLOW__API__PORT                    default 8080
  HYPERCARE_AIRFLOW_PASSWORD            the `admin` login; default generated once, kept in AIRFLOW_HOME

It prints the UI's address and the login, then replaces itself with `airflow standalone`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import sys
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


def main() -> None:
    env, password = airflow_env(dict(os.environ))
    airflow = str(Path(sys.executable).parent / "airflow")
    print(
        f"Airflow UI: {env['AIRFLOW__API__BASE_URL']}  login: {USER} / {password}\n"
        f"  metadata database: {_without_password(env['AIRFLOW__DATABASE__SQL_ALCHEMY_CONN'])}\n"
        f"  snapshots: {env['HYPERCARE_SOURCE_DIR']}\n"
        f"  Airflow home and logs: {env['AIRFLOW_HOME']}; stop with Ctrl-C",
        flush=True,
    )
    os.execve(airflow, [airflow, "standalone"], env)


if __name__ == "__main__":
    main()
