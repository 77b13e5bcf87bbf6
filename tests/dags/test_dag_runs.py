"""Full dag.test() runs of each DAG against a real PostgreSQL audit store."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from hypercare.ruleset import load_ruleset
from hypercare.synth import generate

START = dt.date(2026, 11, 2)
DAY = dt.date(2026, 11, 9)


@pytest.fixture
def source(tmp_path):
    generate(tmp_path, start=START, days=8, customers=150, seed=3, ruleset=load_ruleset())
    return tmp_path


def test_ingest_then_trigger(airflow_db, dagbag, db_url, source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_DB", db_url)
    ingest = dagbag.dags["hypercare_ingest"]
    run = ingest.test(run_conf={"source_dir": str(source), "as_of": DAY.isoformat()})
    assert run.state == "success"

    trigger = dagbag.dags["hypercare_trigger"]
    run = trigger.test(run_conf={"as_of": DAY.isoformat()})
    assert run.state == "success"

    with psycopg.connect(db_url) as conn:
        loads = conn.execute("select count(*) from hypercare.load_runs where snapshot_date = %s", (DAY,)).fetchone()[0]
        runs = conn.execute(
            "select area from hypercare.evaluation_runs where as_of = %s order by area", (DAY,)
        ).fetchall()
        deals = conn.execute(
            "select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,)
        ).fetchone()[0]
    assert loads == 10
    assert [r[0] for r in runs] == ["contract", "trigger"]
    assert deals > 100
