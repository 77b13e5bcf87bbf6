"""A small evaluated audit store for the UI tests: three days of 60 customers and a scorecard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypercare import db
from tests.conftest import fresh_database

START = dt.date(2026, 11, 2)
DAYS = 3


@contextmanager
def evaluated_store(pg_admin_url: str, source: Path) -> Iterator[str]:
    from hypercare.evaluate import evaluate_day
    from hypercare.loader import load_snapshot
    from hypercare.ruleset import load_ruleset
    from hypercare.scorecard.build import compile_and_archive
    from hypercare.synth import generate

    ruleset = load_ruleset()
    generate(source, start=START, days=DAYS, customers=60, seed=11, ruleset=ruleset)
    with fresh_database(pg_admin_url) as url:
        with db.connect(url) as conn:
            for offset in range(DAYS):
                day = START + dt.timedelta(days=offset)
                load_snapshot(conn, source, day, ruleset=ruleset)
                evaluate_day(conn, day, ruleset)
            compile_and_archive(conn, START + dt.timedelta(days=DAYS - 1), ruleset)
        yield url


def open_finding(url: str) -> tuple[str, str]:
    """An open finding of an onboarding: (finding_id, onboarding_id)."""
    with db.connect(url) as conn:
        return conn.execute(
            "select finding_id::text, onboarding_id from hypercare.findings "
            "where status = 'open' and onboarding_id is not null order by finding_id limit 1"
        ).fetchone()
