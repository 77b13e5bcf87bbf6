"""Full dag.test() runs of every DAG against a real PostgreSQL audit store."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from hypercare.ruleset import load_ruleset
from hypercare.synth import generate

START = dt.date(2026, 11, 2)
DAY = dt.date(2026, 11, 9)
AREA_DAGS = ["trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai", "writeback"]


@pytest.fixture
def source(tmp_path):
    generate(tmp_path, start=START, days=8, customers=150, seed=3, ruleset=load_ruleset())
    return tmp_path


def test_ingest_then_every_area_then_crosscutting(airflow_db, dagbag, db_url, source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_DB", db_url)
    run = dagbag.dags["hypercare_ingest"].test(run_conf={"source_dir": str(source), "as_of": DAY.isoformat()})
    assert run.state == "success"
    for area in [*AREA_DAGS, "crosscutting"]:
        run = dagbag.dags[f"hypercare_{area}"].test(run_conf={"as_of": DAY.isoformat()})
        assert run.state == "success", area

    with psycopg.connect(db_url) as conn:
        loads = conn.execute("select count(*) from hypercare.load_runs where snapshot_date = %s", (DAY,)).fetchone()
        runs = conn.execute(
            "select area from hypercare.evaluation_runs where as_of = %s order by area", (DAY,)
        ).fetchall()
        deals = conn.execute("select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,)).fetchone()
        actors = conn.execute("select distinct actor from hypercare.audit_log").fetchall()
    assert loads[0] == 10
    assert [r[0] for r in runs] == sorted([*AREA_DAGS, "contract", "audit", "backlog"])
    assert deals[0] > 100
    assert actors == [("airflow:hypercare_ingest",)]
