"""Alert delivery against real loopback servers: a Slack stand-in and an SMTP sink."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections import Counter

import polars as pl
import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from hypercare.alerts.actions import acknowledge, silence
from hypercare.alerts.dispatch import dispatch
from hypercare.alerts.messages import Notice, render_messages
from hypercare.alerts.senders import SlackApiSender, SlackWebhookSender, SmtpSender
from hypercare.findings import AreaResult, findings_from
from hypercare.ruleset import load_ruleset
from hypercare.store import register_ruleset, verify_audit, write_area_result
from tests.loopback import MailSink, SlackStandIn

RULES = load_ruleset()
MON, TUE, WED = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)
FRI, MON2 = dt.date(2026, 11, 6), dt.date(2026, 11, 9)


def end_of(day: dt.date, hours: float = 0) -> dt.datetime:
    return RULES.calendar.as_of_end(day).astimezone(dt.UTC) + dt.timedelta(hours=hours)


def onboarding(onboarding_id: str, **extra) -> dict:
    row = {
        "onboarding_id": onboarding_id,
        "segment": "mid_market",
        "strategic": False,
        "high_value": False,
        "project_id": f"P-{onboarding_id}",
        "created_at": dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC),
    }
    return row | extra


def area_result(rule_id: str, rows: list[dict], ruleset=RULES, **kwargs) -> AreaResult:
    rule = ruleset.rule(rule_id)
    frame = (
        pl.DataFrame(rows, infer_schema_length=None)
        if rows
        else pl.DataFrame(schema={"onboarding_id": pl.String, "project_id": pl.String})
    )
    evidence = [c for c in frame.columns if c not in ("segment", "strategic", "high_value")]
    return AreaResult(findings=findings_from(rule, frame, subject="onboarding_id", evidence=evidence, **kwargs))


def evaluate(conn, day, area, *results: AreaResult, ruleset=RULES):
    merged = AreaResult(findings=pl.concat([r.findings for r in results]))
    with conn.transaction():
        register_ruleset(conn, ruleset)
        write_area_result(conn, day, area, ruleset, merged)


@pytest.fixture
def slack():
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def mail():
    with MailSink() as sink:
        yield sink


@pytest.fixture
def senders(slack, mail):
    return {
        "slack": SlackWebhookSender(WebhookClient(f"{slack.base}/webhook", timeout=2)),
        "email": SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com"),
    }


def outbox(conn) -> list[tuple]:
    return conn.execute(
        "select rule_id, kind, owner_role, recipient, status from hypercare.alert_outbox order by 1, 2, 3, 4"
    ).fetchall()


def no_owner(*ids, **extra):
    return area_result("ownership.no_owner", [onboarding(i, **extra) for i in ids])


def test_only_alert_marked_findings_page_and_each_recipient_gets_one_grouped_message(conn, senders, slack, mail):
    dashboard_only = area_result("ownership.missing_role", [onboarding("N9")])
    evaluate(conn, MON, "ownership", no_owner("N1", "N2"), dashboard_only)
    report = dispatch(conn, RULES, senders, now=end_of(MON))
    # no_owner routes to revops (#revops-alerts) and onboarding_lead (#onboarding-leads + email).
    assert report.messages_sent == 3 and report.notifications_sent == 6
    assert report.drained  # six notices, fewer than a batch: nothing was left for another pass
    assert sorted(p["channel"] for p in slack.webhook_posts) == ["#onboarding-leads", "#revops-alerts"]
    assert all("N1" in p["text"] and "N2" in p["text"] for p in slack.webhook_posts)
    assert "missing role" not in json.dumps(slack.webhook_posts).lower()
    assert [m["To"] for m in mail.messages] == ["onboarding-leads@example.com"]


def test_reruns_never_duplicate(conn, senders, slack, mail):
    for _ in range(2):
        evaluate(conn, MON, "ownership", no_owner("N1"))
        dispatch(conn, RULES, senders, now=end_of(MON))
    dispatch(conn, RULES, senders, now=end_of(MON, 1))
    assert len(slack.webhook_posts) == 2 and len(mail.messages) == 1


def test_outage_and_rate_limit_delay_but_never_lose(conn, senders, slack, mail):
    evaluate(conn, MON, "ownership", no_owner("N1"))
    slack.plan.extend([("status", 500), ("rate_limit", 600)])
    first = dispatch(conn, RULES, senders, now=end_of(MON))
    assert len(first.failures) == 2 and slack.webhook_posts == []
    retry_at = conn.execute(
        "select recipient, next_attempt_at - %s from hypercare.alert_outbox where status = 'failed'", (end_of(MON),)
    ).fetchall()
    assert max(delay for _, delay in retry_at) >= dt.timedelta(seconds=600)  # Retry-After honoured
    # The failed pass still took everything due: another pass at the same time finds nothing,
    # so a loop of passes that stops at a drained one (the demo's) ends during an outage.
    assert first.drained
    again = dispatch(conn, RULES, senders, now=end_of(MON))
    assert again.drained and (again.messages_sent, again.failures) == (0, []) and slack.webhook_posts == []
    dispatch(conn, RULES, senders, now=end_of(MON, 1))
    assert sorted(p["channel"] for p in slack.webhook_posts) == ["#onboarding-leads", "#revops-alerts"]
    dispatch(conn, RULES, senders, now=end_of(MON, 2))
    assert len(slack.webhook_posts) == 2 and len(mail.messages) == 1


def test_a_webhook_timeout_resends_at_most_that_one_message_after_the_lease(conn, slack, mail):
    webhook = SlackWebhookSender(WebhookClient(f"{slack.base}/webhook", timeout=0.5))
    senders = {"slack": webhook, "email": SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com")}
    evaluate(conn, MON, "ownership", no_owner("N1", "N2"))
    slack.plan.append(("hang", 1))  # delivered, but the answer comes after the client's timeout
    first = dispatch(conn, RULES, senders, now=end_of(MON))
    assert first.unconfirmed == 2 and len(slack.webhook_posts) == 2
    dispatch(conn, RULES, senders, now=end_of(MON, 0.05))  # within the lease: the claim holds
    assert len(slack.webhook_posts) == 2
    dispatch(conn, RULES, senders, now=end_of(MON, 1))  # a webhook cannot be asked: sent again
    dispatch(conn, RULES, senders, now=end_of(MON, 2))
    received = Counter(slack.notice_ids())
    assert len(received) == 4 and sorted(received.values()) == [1, 1, 2, 2]  # one message's notices, twice
    assert conn.execute("select count(*) from hypercare.alert_outbox where status <> 'sent'").fetchone() == (0,)


def test_a_web_api_timeout_is_confirmed_from_the_channel_not_resent(conn, slack, mail):
    api = SlackApiSender(WebClient(token="xoxb-test-token", base_url=f"{slack.base}/api/", timeout=0.5))
    senders = {"slack": api, "email": SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com")}
    evaluate(conn, MON, "ownership", no_owner("N1", "N2"))
    slack.plan.extend([("hang", 1), ("drop",)])
    first = dispatch(conn, RULES, senders, now=end_of(MON))
    assert first.unconfirmed == 4 and len(slack.api_messages) == 2
    dispatch(conn, RULES, senders, now=end_of(MON, 1))
    dispatch(conn, RULES, senders, now=end_of(MON, 2))
    assert Counter(slack.notice_ids()) == Counter({nid: 1 for nid in set(slack.notice_ids())})
    assert len(slack.api_messages) == 2 and slack.history_calls >= 2
    assert conn.execute("select count(*) from hypercare.alert_outbox where status <> 'sent'").fetchone() == (0,)


class CrashAfterSend:
    """A sender whose process dies right after the message left: nothing is recorded."""

    def __init__(self, inner):
        self.inner, self.channel = inner, inner.channel

    def send(self, target, message, fingerprint):
        self.inner.send(target, message, fingerprint)
        raise SystemExit("killed between send and commit")

    def delivered(self, target, fingerprint):
        return self.inner.delivered(target, fingerprint)


def test_crash_after_send_is_confirmed_not_resent_with_the_web_api(conn, slack, mail):
    api = SlackApiSender(WebClient(token="xoxb-test", base_url=f"{slack.base}/api/", timeout=2))
    email = SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com")
    evaluate(conn, MON, "ownership", no_owner("N1"))
    with pytest.raises(SystemExit):
        dispatch(conn, RULES, {"slack": CrashAfterSend(api), "email": email}, now=end_of(MON))
    conn.rollback()
    assert len(slack.api_messages) == 1
    dispatch(conn, RULES, {"slack": api, "email": email}, now=end_of(MON, 0.05))  # within the lease
    dispatch(conn, RULES, {"slack": api, "email": email}, now=end_of(MON, 1))
    channels = sorted(m["channel"] for m in slack.api_messages)
    assert channels == ["#onboarding-leads", "#revops-alerts"]
    assert conn.execute("select count(*) from hypercare.alert_outbox where status <> 'sent'").fetchone() == (0,)


def test_email_resend_after_a_crash_keeps_its_message_id(conn, slack, mail):
    email = SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com")
    webhook = SlackWebhookSender(WebhookClient(f"{slack.base}/webhook", timeout=2))
    evaluate(conn, MON, "ownership", no_owner("N1"))
    with pytest.raises(SystemExit):
        dispatch(conn, RULES, {"slack": webhook, "email": CrashAfterSend(email)}, now=end_of(MON))
    conn.rollback()
    dispatch(conn, RULES, {"slack": webhook, "email": email}, now=end_of(MON, 1))
    ids = [m["Message-ID"] for m in mail.messages]
    assert len(ids) == 2 and len(set(ids)) == 1  # the receiving side sees one message, twice


def test_repeat_counts_business_hours_and_resolved_follows(conn, senders, slack):
    evaluate(conn, FRI, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(FRI, -7))  # Friday 17:00
    for day in (dt.date(2026, 11, 7), dt.date(2026, 11, 8)):
        evaluate(conn, day, "ownership", no_owner("N1"))
        dispatch(conn, RULES, senders, now=end_of(day))
    assert len(slack.webhook_posts) == 2  # the weekend adds no business hours
    evaluate(conn, MON2, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(MON2, -7))  # Monday 17:00: 24 business hours
    assert [p["text"].split("]")[0] for p in slack.webhook_posts[2:]] == ["[Still open", "[Still open"]
    evaluate(conn, dt.date(2026, 11, 10), "ownership", no_owner())
    dispatch(conn, RULES, senders, now=end_of(dt.date(2026, 11, 10)))
    resolved = [p for p in slack.webhook_posts if p["text"].startswith("[Resolved]")]
    assert sorted(p["channel"] for p in resolved) == ["#onboarding-leads", "#revops-alerts"]


def test_acknowledged_alerts_stop_repeating_and_are_audited(conn, senders, slack):
    evaluate(conn, MON, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(MON))
    finding_id = conn.execute("select finding_id::text from hypercare.finding_state").fetchone()[0]
    acknowledge(conn, finding_id, by="lead@example.com", note="assigning now", at=end_of(MON, 1))
    evaluate(conn, TUE, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(WED))
    assert len(slack.webhook_posts) == 2
    status = conn.execute("select status from hypercare.findings").fetchone()[0]
    assert status == "acknowledged"
    assert verify_audit(conn)[0]
    assert conn.execute("select action from hypercare.audit_log where action = 'acknowledge'").fetchall()


def test_inhibition_holds_kickoff_alerts_while_no_owner_is_open(conn, senders, slack):
    kickoff_rule = "ownership.kickoff_not_scheduled"
    high_value = onboarding("N1", high_value=True, strategic=True)
    kickoff = area_result(kickoff_rule, [high_value], severity=pl.lit("high"), alert=pl.lit(True))
    evaluate(conn, MON, "ownership", no_owner("N1"), kickoff)
    dispatch(conn, RULES, senders, now=end_of(MON))
    assert all("kickoff" not in p["text"].lower() for p in slack.webhook_posts)
    evaluate(conn, TUE, "ownership", kickoff)  # owner assigned; kickoff still late
    dispatch(conn, RULES, senders, now=end_of(TUE))
    assert any("Ownership: kickoff not scheduled" in p["text"] for p in slack.webhook_posts)


def test_silence_holds_until_it_expires(conn, senders, slack):
    silence(
        conn,
        author="ops@example.com",
        reason="routing fix deploying",
        rule_id="ownership.no_owner",
        starts_at=end_of(MON, -12),
        ends_at=end_of(MON, 6),
    )
    evaluate(conn, MON, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(MON))
    assert slack.webhook_posts == []
    dispatch(conn, RULES, senders, now=end_of(MON, 7))
    assert len(slack.webhook_posts) == 2
    held = conn.execute("select distinct silenced_at from hypercare.alert_outbox where silenced").fetchall()
    assert held == [(end_of(MON),)], "held when the first dispatch met the silence, and stays so once sent"
    assert conn.execute("select count(*) from hypercare.audit_log where action = 'silence'").fetchone() == (1,)


def test_a_notice_held_by_two_silences_in_turn_counts_as_silenced_from_the_first(conn, senders, slack):
    for start, end in ((-12, 6), (5, 12)):
        silence(
            conn,
            author="ops@example.com",
            reason="routing fix deploying",
            rule_id="ownership.no_owner",
            starts_at=end_of(MON, start),
            ends_at=end_of(MON, end),
        )
    evaluate(conn, MON, "ownership", no_owner("N1"))
    for hours in (0, 7):  # the first silence holds it, then the second
        dispatch(conn, RULES, senders, now=end_of(MON, hours))
    assert slack.webhook_posts == []
    held = conn.execute("select distinct silenced_at from hypercare.alert_outbox where silenced").fetchall()
    assert held == [(end_of(MON),)]
    dispatch(conn, RULES, senders, now=end_of(MON, 13))
    assert len(slack.webhook_posts) == 2


def test_unacknowledged_critical_alerts_escalate_along_the_chain(conn, senders, slack, mail):
    rule = dataclasses.replace(RULES.rule("ownership.no_owner"), severity="critical")
    critical = dataclasses.replace(RULES, rules=RULES.rules | {"ownership.no_owner": rule})
    evaluate(
        conn,
        MON,
        "ownership",
        area_result("ownership.no_owner", [onboarding("N1")], ruleset=critical),
        ruleset=critical,
    )
    dispatch(conn, critical, senders, now=end_of(MON))
    dispatch(conn, critical, senders, now=end_of(MON, 4.1))
    dispatch(conn, critical, senders, now=end_of(MON, 8.1))
    dispatch(conn, critical, senders, now=end_of(MON, 12.1))
    escalations = conn.execute(
        "select step, owner_role, recipient from hypercare.alert_outbox where kind = 'escalation' order by 1, 3"
    ).fetchall()
    assert escalations == [
        (1, "onboarding_lead", "email:onboarding-leads@example.com"),
        (1, "onboarding_lead", "slack:#onboarding-leads"),
        (2, "workflow_owner", "email:workflow-owner@example.com"),
        (2, "workflow_owner", "slack:#hypercare"),
    ]


def test_messages_carry_no_sensitive_values(conn, senders, slack, mail):
    leaky = onboarding(
        "N1", bill_to_contact="jane.doe@customer.com", note="call jane.doe@customer.com", tax_id="DE123456789"
    )
    evaluate(conn, MON, "ownership", area_result("ownership.no_owner", [leaky]))
    dispatch(conn, RULES, senders, now=end_of(MON))
    texts = [json.dumps(p) for p in slack.webhook_posts] + [m.as_string() for m in mail.messages]
    assert texts
    for text in texts:
        assert "jane.doe" not in text and "DE123456789" not in text
        assert "Assign a named onboarding owner" in text or "Assign a named onboarding owner" in text.replace("=\n", "")


def test_email_is_a_real_mime_message(conn, senders, mail):
    evaluate(conn, MON, "ownership", no_owner("N1"))
    dispatch(conn, RULES, senders, now=end_of(MON))
    (message,) = mail.messages
    assert message.is_multipart()
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"].endswith("@hypercare>")
    assert "Ownership: no owner" in message.get_body(("plain",)).get_content()


def test_rerunning_and_backfilling_days_never_drops_an_owed_alert(conn, senders, slack):
    days = [MON, TUE, WED]
    for _ in range(2):  # `evaluate --from MON --to WED`, twice
        for day in days:
            evaluate(conn, day, "ownership", no_owner("N1", *(["N2"] if day >= TUE else [])))
    pending = conn.execute(
        "select count(distinct finding_id) from hypercare.alert_outbox where status = 'pending' and kind = 'firing'"
    ).fetchone()[0]
    assert pending == 2
    evaluate(conn, MON, "ownership", no_owner("N1"))  # a backfill of an older day pages nobody about the past
    dispatch(conn, RULES, senders, now=end_of(WED))
    received = Counter(slack.notice_ids())
    assert len(received) == 4 and set(received.values()) == {1}  # N1 and N2, two channels each, once
    assert all("N1" in p["text"] and "N2" in p["text"] for p in slack.webhook_posts)


def test_a_thousand_notices_arrive_whole_within_slack_and_email_limits(conn, senders, slack, mail):
    ids = [f"N{i:04d}" for i in range(1000)]
    long_name = "Very Long Customer Name & Partners <GmbH> " * 20
    evaluate(conn, MON, "ownership", no_owner(*ids, legal_note=long_name))
    passes = 1
    while not dispatch(conn, RULES, senders, now=end_of(MON)).drained:  # batches of 500
        passes += 1
    assert passes == 7
    expected = {nid for (nid,) in conn.execute("select notification_id::text from hypercare.alert_outbox")}
    assert len(expected) == 3000
    assert sorted(Counter(slack.notice_ids()).values()) == [1] * 2000
    assert set(slack.notice_ids()) | set(mail.notice_ids()) == expected and len(mail.notice_ids()) == 1000
    for post in slack.webhook_posts:
        assert len(post["blocks"]) <= 50 and len(post["text"]) <= 4000
        assert all(len(b["text"]["text"]) <= (150 if b["type"] == "header" else 3000) for b in post["blocks"])
    parts = Counter(p["channel"] for p in slack.webhook_posts)
    assert min(parts.values()) >= 1000 / 49 and len(mail.messages) == 20


def test_source_values_are_escaped_and_masked_on_every_channel(conn, senders, slack, mail):
    hostile = onboarding(
        "N1",
        project_id="<!channel> <https://evil.example|click> & jane@customer.com",
        last_error="sync failed for SSN 123-45-6789, VAT DE123456789, call +49 30 1234567",
        bill_to_contact="Jane Doe",
    )
    rule = dataclasses.replace(RULES.rule("ownership.no_owner"))
    evaluate(
        conn,
        MON,
        "ownership",
        AreaResult(
            findings=findings_from(
                rule,
                pl.DataFrame([hostile]),
                subject="project_id",
                evidence=["project_id", "last_error", "bill_to_contact"],
            )
        ),
    )
    dispatch(conn, RULES, senders, now=end_of(MON))
    slack_text = json.dumps(slack.webhook_posts)
    assert "<!channel>" not in slack_text and "<https://evil" not in slack_text
    assert "&lt;!channel&gt;" in slack_text and "&amp;" in slack_text
    mail_text = " ".join(
        m.get_body(("html",)).get_content() + m.get_body(("plain",)).get_content() for m in mail.messages
    )
    html_body = mail.messages[0].get_body(("html",)).get_content()
    assert "<!channel>" not in html_body and "&lt;!channel&gt;" in html_body and "<https://evil" not in html_body
    for text in (slack_text, mail_text):
        for secret in ("jane@customer.com", "123-45-6789", "DE123456789", "1234567", "Jane Doe"):
            assert secret not in text
        assert "1 more field(s) withheld" in text


def test_tokens_and_webhook_urls_never_reach_a_log(conn, slack, mail, caplog):
    caplog.set_level(logging.DEBUG)
    webhook_url = f"{slack.base}/webhook?secret=T000-B000-XXXXXXXX"
    webhook = SlackWebhookSender(WebhookClient(webhook_url, timeout=0.5))
    token = "xoxb-1234-5678-abcdefghijklmnop"
    api = SlackApiSender(WebClient(token=token, base_url=f"{slack.base}/api/", timeout=0.5))
    email = SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com", password="smtp-secret-pw")
    evaluate(conn, MON, "ownership", no_owner("N1"))
    slack.plan.extend([("status", 500), ("drop",), ("hang", 1)])
    dispatch(conn, RULES, {"slack": webhook, "email": email}, now=end_of(MON))
    dispatch(conn, RULES, {"slack": api, "email": email}, now=end_of(MON, 1))
    dispatch(conn, RULES, {"slack": api, "email": email}, now=end_of(MON, 2))
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "webhook" in logged.lower() or "slack" in logged.lower()  # the clients did log, at DEBUG
    for secret in (webhook_url, "T000-B000-XXXXXXXX", token, "smtp-secret-pw"):
        assert secret not in logged
    errors = " ".join(e or "" for (e,) in conn.execute("select last_error from hypercare.alert_outbox"))
    assert token not in errors and "T000-B000-XXXXXXXX" not in errors


def test_account_names_are_masked_and_escaped_in_every_rendering():
    payload = {
        "rule_id": "ownership.no_owner",
        "severity": "high",
        "account_name": "<!here> Acme (billing: ap@acme.example, +44 20 7946 0958) & Co",
        "segment": "smb",
        "arr_band": "<25k",
        "since": None,
        "as_of": "2026-11-02",
        "reason_code": "no_owner",
        "subject_key": "ONB-0000001",
        "evidence": {},
        "owner_roles": ["revops"],
        "next_action": "Assign an owner.",
        "run_link": "http://localhost:8080/dags/hypercare_ownership",
    }
    notice = Notice("00000000-0000-0000-0000-000000000001", "firing", payload)
    (slack_message,) = render_messages("slack", [notice], end_of(MON))
    (email,) = render_messages("email", [notice], end_of(MON))
    rendered = json.dumps([slack_message.text, slack_message.blocks]) + email.html + email.text
    assert "ap@acme.example" not in rendered and "7946" not in rendered
    assert "<!here>" not in json.dumps([slack_message.text, slack_message.blocks]) and "<!here>" not in email.html
    assert "&lt;!here&gt; Acme" in slack_message.text and "&amp; Co" in slack_message.blocks[1]["text"]["text"]
