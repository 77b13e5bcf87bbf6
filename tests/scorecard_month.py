"""The generated month the scorecard tests read, built once per test session (conftest.py).

Tests that change it undo their change (a transaction rolled back, or a copy of the database).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg

from hypercare import db
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import generate

START = dt.date(2026, 11, 2)  # the configured go-live date: day 1
DAYS = 20
RULES = load_ruleset()


def build_month(source, pg_admin_url: str) -> Iterator[dict]:
    """One generated month (200 customers x 20 days) loaded and evaluated into its own database."""
    generate(source, start=START, days=DAYS, customers=200, seed=11, ruleset=RULES)
    name = f"hypercare_scorecard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{name}"))
    # Autocommit, as the CLI and the DAG tasks connect: a plain read would otherwise hold one
    # transaction open across the month, every later write a savepoint inside it.
    with db.connect(url, autocommit=True) as conn:
        db.migrate(conn)
        for offset in range(DAYS):
            day = START + dt.timedelta(days=offset)
            load_snapshot(conn, source, day)
            evaluate_day(conn, day, RULES)
    yield {"url": url, "source": source, "name": name, "admin": pg_admin_url}
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
