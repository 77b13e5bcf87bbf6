"""dag.test() of hypercare_scorecard over a small evaluated week, mailing a loopback SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy

import psycopg
import pytest

from hypercare import db
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.scorecard.config import scorecard_config
from hypercare.synth import generate
from tests.loopback import MailSink

START = dt.date(2026, 11, 2)  # the configured go-live date
SEND_DAY = dt.date(2026, 11, 6)  # day 5, Friday: daily
QUIET_DAY = dt.date(2026, 11, 7)  # day 6, Saturday: archived only
RULES = load_ruleset()


@pytest.fixture
def inbox():
    with MailSink() as sink:
        yield sink, sink.port


@pytest.fixture
def evaluated(db_url, tmp_path):
    generate(tmp_path, start=START, days=6, customers=120, seed=5, ruleset=RULES)
    with db.connect(db_url) as conn:
        for offset in range(6):
            day = START + dt.timedelta(days=offset)
            load_snapshot(conn, tmp_path, day)
            evaluate_day(conn, day, RULES)
    return db_url


def test_scorecard_dag_archives_every_day_and_mails_send_days_once(
    airflow_db, dagbag, evaluated, inbox, monkeypatch, tmp_path
):
    handler, port = inbox
    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_DB", evaluated)
    smtp = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "scorecard@example.com", "timeout": 10},
    }
    dag = dagbag.dags["hypercare_scorecard"]
    monkeypatch.setenv("HYPERCARE_HOME", str(tmp_path))
    monkeypatch.delenv("AIRFLOW_CONN_HYPERCARE_SMTP", raising=False)
    assert dag.test(run_conf={"snapshot_date": SEND_DAY.isoformat()}).state == "success"
    captured = tmp_path / "alert-capture" / "scorecard" / f"{SEND_DAY}.eml"
    assert email.message_from_bytes(captured.read_bytes())["Subject"].startswith(f"Hypercare scorecard {SEND_DAY}")
    with psycopg.connect(evaluated) as conn:
        assert conn.execute("select sent_at from hypercare.scorecards where as_of = %s", (SEND_DAY,)).fetchone() == (
            None,
        ), "a captured scorecard is not recorded as sent"

    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_SMTP", json.dumps(smtp))

    for day in (QUIET_DAY, SEND_DAY, SEND_DAY):
        run = dag.test(run_conf={"snapshot_date": day.isoformat()})
        assert run.state == "success", day

    with psycopg.connect(evaluated) as conn:
        rows = conn.execute(
            "select as_of, send_day, sent_at is not null, sent_to, rule_versions, data ->> 'cadence_line' "
            "from hypercare.scorecards order by as_of"
        ).fetchall()
    recipients = scorecard_config(RULES).all_recipients
    assert [(r[0], r[1], r[2]) for r in rows] == [(SEND_DAY, True, True), (QUIET_DAY, False, False)]
    assert sorted(rows[0][3]) == sorted(recipients)
    assert rows[0][4] == [RULES.version]
    assert "day 5" in rows[0][5]

    assert len(handler.envelopes) == 1, "sent once on the send day, not on the quiet day nor on the re-run"
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "scorecard@example.com"
    assert sorted(envelope.rcpt_tos) == sorted(recipients)
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"].startswith(f"Hypercare scorecard {SEND_DAY} (day 5)")
    assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None
    assert any(part.get_content_type() == "image/png" for part in message.walk())
