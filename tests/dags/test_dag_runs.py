"""Full dag.test() runs of every DAG against a real PostgreSQL audit store."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest

from hypercare.ruleset import load_ruleset
from hypercare.synth import generate
from tests.loopback import MailSink, SlackStandIn

START = dt.date(2026, 11, 2)
DAY = dt.date(2026, 11, 9)
AREA_DAGS = ["trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai", "writeback"]


@pytest.fixture
def source(tmp_path):
    generate(tmp_path, start=START, days=8, customers=150, seed=3, ruleset=load_ruleset())
    return tmp_path


def test_ingest_then_every_area_then_crosscutting_then_alerts(airflow_db, runnable_dagbag, db_url, source, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_DB", db_url)
    run = runnable_dagbag.dags["hypercare_ingest"].test(
        run_conf={"source_dir": str(source), "snapshot_date": DAY.isoformat(), "await_evaluation": False}
    )
    assert run.state == "success"
    for area in [*AREA_DAGS, "crosscutting"]:
        run = runnable_dagbag.dags[f"hypercare_{area}"].test(run_conf={"snapshot_date": DAY.isoformat()})
        assert run.state == "success", area

    with psycopg.connect(db_url) as conn:
        loads = conn.execute("select count(*) from hypercare.load_runs where snapshot_date = %s", (DAY,)).fetchone()
        runs = conn.execute(
            "select area from hypercare.evaluation_runs where as_of = %s order by area", (DAY,)
        ).fetchall()
        deals = conn.execute("select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,)).fetchone()
        actors = conn.execute("select distinct actor from hypercare.audit_log").fetchall()
    assert loads[0] == 10
    with SlackStandIn() as slack, MailSink() as mail:
        monkeypatch.setenv(
            "AIRFLOW_CONN_HYPERCARE_SLACK_WEBHOOK",
            json.dumps({"conn_type": "slackwebhook", "password": f"{slack.base}/webhook"}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_HYPERCARE_SMTP",
            json.dumps(
                {
                    "conn_type": "smtp",
                    "host": "127.0.0.1",
                    "port": mail.port,
                    "extra": {"from_email": "hypercare@example.com"},
                }
            ),
        )
        run = runnable_dagbag.dags["hypercare_alerts"].test()
        assert run.state == "success"
        with psycopg.connect(db_url) as conn:
            sent = conn.execute("select count(*) from hypercare.alert_outbox where status = 'sent'").fetchone()[0]
            unsent = conn.execute(
                "select recipient, last_error from hypercare.alert_outbox where status in ('sending', 'failed') "
                "or (status = 'pending' and inhibited_by is null)"
            ).fetchall()
        assert sent > 0 and unsent == []
        assert slack.webhook_posts and mail.messages
    assert [r[0] for r in runs] == sorted([*AREA_DAGS, "contract", "audit", "backlog"])
    assert deals[0] > 100
    assert actors == [("airflow:hypercare_ingest",)]
