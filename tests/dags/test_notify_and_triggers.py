"""Failure notifications, the deadline callback and the ingest DAG's triggers, on real parts:
loopback Slack and SMTP servers, the filesystem, PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import generate
from hypercare_airflow.notify import evaluation_deadline_missed, notify_operations
from hypercare_airflow.sensors import WaitForSnapshot
from hypercare_airflow.settings import dag_settings
from hypercare_airflow.triggers import EvaluationFinishedTrigger, SnapshotReadyTrigger
from tests.loopback import MailSink, SlackStandIn

DAY = dt.date(2026, 11, 3)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HYPERCARE_HOME", str(tmp_path))
    for conn_id in ("HYPERCARE_SLACK_API", "HYPERCARE_SLACK_WEBHOOK", "HYPERCARE_SMTP"):
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id}", raising=False)
    return tmp_path


def test_without_connections_notifications_are_captured_to_files(home):
    delivered = notify_operations("Hypercare task failed: hypercare_ingest.load", "Run r1 failed: boom")
    files = sorted((home / "alert-capture" / "operations").iterdir())
    assert [f.name.split("-", 2)[1] for f in files] == ["email", "slack"]
    assert all("Run r1 failed: boom" in f.read_text() for f in files)
    assert all(d.startswith("captured: ") for d in delivered)


def test_with_connections_notifications_reach_slack_and_email(home, monkeypatch):
    with SlackStandIn() as slack, MailSink() as mail:
        monkeypatch.setenv(
            "AIRFLOW_CONN_HYPERCARE_SLACK_WEBHOOK",
            json.dumps({"conn_type": "slackwebhook", "password": f"{slack.base}/webhook"}),
        )
        smtp = {"conn_type": "smtp", "host": "127.0.0.1", "port": mail.port}
        smtp["extra"] = {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@example.com"}
        monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_SMTP", json.dumps(smtp))
        notify_operations("Hypercare task failed: hypercare_trigger.evaluate_trigger", "Run r2 failed: boom")
    assert "Run r2 failed: boom" in slack.webhook_posts[0]["text"]
    (message,) = mail.messages
    assert message["Subject"] == "Hypercare task failed: hypercare_trigger.evaluate_trigger"
    assert message["To"] == ", ".join(dag_settings().notify_email)
    assert not (home / "alert-capture" / "operations").exists()


def _run(run_type: str) -> dict:
    return {
        "dag_run": {
            "run_id": f"{run_type}__2026-11-03",
            "run_type": run_type,
            "state": "running",
            "data_interval_start": "2026-11-03T00:00:00+00:00",
        }
    }


def test_deadline_pages_for_a_scheduled_day_only(home):
    asyncio.run(evaluation_deadline_missed(_run("backfill")))
    asyncio.run(evaluation_deadline_missed(_run("manual")))
    assert not (home / "alert-capture" / "operations").exists()
    asyncio.run(evaluation_deadline_missed(_run("scheduled")))
    texts = [f.read_text() for f in (home / "alert-capture" / "operations").iterdir()]
    assert texts and all("snapshot 2026-11-03" in t and "has not finished by 09:00" in t for t in texts)


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def _snapshot_trigger(source, seconds: float) -> SnapshotReadyTrigger:
    give_up_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return SnapshotReadyTrigger(
        source_dir=str(source),
        require_manifest=False,
        snapshot_date=DAY.isoformat(),
        poll_seconds=0.2,
        give_up_at=give_up_at.isoformat(),
    )


def test_snapshot_trigger_fires_when_the_export_arrives_and_gives_up_naming_it(tmp_path):
    timer = threading.Timer(0.5, lambda: (tmp_path / DAY.isoformat()).mkdir())
    timer.start()
    event = asyncio.run(_first_event(_snapshot_trigger(tmp_path, 30)))
    assert event["done"] is True and event["snapshot_date"] == DAY.isoformat()

    event = asyncio.run(_first_event(_snapshot_trigger(tmp_path / "elsewhere", 0.5)))
    assert event["done"] is False and "does not exist yet" in event["detail"]
    sensor = WaitForSnapshot(
        task_id="wait", source_dir=str(tmp_path), poll=dt.timedelta(minutes=5), wait=dt.timedelta(hours=12)
    )
    with pytest.raises(AirflowSensorTimeout, match=r"snapshot 2026-11-03 did not arrive within 12:00:00: .*exist"):
        sensor.resume({}, event)
    assert sensor.retries == 0


def test_triggers_serialize_to_their_own_class():
    path, kwargs = _snapshot_trigger("/src", 1).serialize()
    assert path == "hypercare_airflow.triggers.SnapshotReadyTrigger"
    assert SnapshotReadyTrigger(**kwargs).serialize() == (path, kwargs)


def test_evaluation_trigger_waits_for_every_area_after_the_load(db_url, tmp_path):
    from hypercare import db
    from hypercare.evaluate import evaluate_day

    ruleset = load_ruleset()
    generate(tmp_path, start=DAY, days=1, customers=40, seed=2, ruleset=ruleset)
    with db.connect(db_url) as conn:
        load_snapshot(conn=conn, source_dir=tmp_path, snapshot_date=DAY)
        evaluate_day(conn, DAY, ruleset, areas=["contract", "trigger"])

    def trigger(seconds: float) -> EvaluationFinishedTrigger:
        return EvaluationFinishedTrigger(
            store_url=db_url,
            areas=["contract", "trigger", "handoff"],
            snapshot_date=DAY.isoformat(),
            poll_seconds=0.2,
            give_up_at=(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat(),
        )

    event = asyncio.run(_first_event(trigger(0.5)))
    assert event == {"done": False, "detail": "not yet evaluated: handoff", "snapshot_date": DAY.isoformat()}
    with db.connect(db_url) as conn:
        evaluate_day(conn, DAY, ruleset, areas=["handoff"])
    assert asyncio.run(_first_event(trigger(5)))["done"] is True

    with db.connect(db_url) as conn:  # a reload makes the earlier evaluations stale
        load_snapshot(conn=conn, source_dir=tmp_path, snapshot_date=DAY)
    assert "contract, handoff, trigger" in asyncio.run(_first_event(trigger(0.3)))["detail"]
