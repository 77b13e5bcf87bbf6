"""Breach forecast: a forecast for day D is what opens on the next business day when that
day's snapshot holds nothing new."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.webhook import WebhookClient

from hypercare.alerts.dispatch import dispatch
from hypercare.alerts.messages import Notice, render_messages
from hypercare.alerts.senders import SlackWebhookSender, SmtpSender
from hypercare.areas import REGISTERED
from hypercare.evaluate import evaluate_day
from hypercare.forecast import DUE_SCHEMA, due_groups, horizon
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.snapshot import Snapshot
from hypercare.synth import generate
from tests.loopback import MailSink, SlackStandIn

START = dt.date(2026, 11, 2)
FRIDAY = dt.date(2026, 11, 6)
RULES = load_ruleset()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Monday to Friday of a generated world, and Friday's export copied as Monday's."""
    out = tmp_path_factory.mktemp("world")
    generate(out, start=START, days=5, customers=300, seed=7, ruleset=RULES)
    monday = horizon(RULES.calendar, FRIDAY)
    shutil.copytree(out / FRIDAY.isoformat(), out / monday.isoformat())
    manifest = out / monday.isoformat() / "_manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"snapshot_date": monday.isoformat()}))
    return out, monday


def _forecast(conn, day, change="opens"):
    return set(
        conn.execute(
            "select rule_id, subject_key from hypercare.finding_forecasts where as_of = %s and change = %s",
            (day, change),
        ).fetchall()
    )


def test_forecast_equals_what_opens_next_business_day_on_unchanged_data(conn, world):
    out, monday = world
    assert monday == dt.date(2026, 11, 9)
    for offset in range(5):
        day = START + dt.timedelta(days=offset)
        load_snapshot(conn, out, day)
        evaluate_day(conn, day, RULES)
    forecast, clearing = _forecast(conn, FRIDAY), _forecast(conn, FRIDAY, "resolves")
    assert conn.execute(
        "select count(distinct horizon), min(horizon) from hypercare.finding_forecasts where as_of = %s", (FRIDAY,)
    ).fetchone() == (1, monday)

    load_snapshot(conn, out, monday)
    evaluate_day(conn, monday, RULES)
    opened = set(
        conn.execute(
            "select s.rule_id, s.subject_key from hypercare.finding_events e "
            "join hypercare.finding_state s using (finding_id) "
            "where e.event_on = %s and e.event in ('opened', 'reopened')",
            (monday,),
        ).fetchall()
    )
    resolved = set(
        conn.execute(
            "select s.rule_id, s.subject_key from hypercare.finding_events e "
            "join hypercare.finding_state s using (finding_id) where e.event_on = %s and e.event = 'resolved'",
            (monday,),
        ).fetchall()
    )
    assert sorted(forecast - opened)[:10] == []
    assert sorted(opened - forecast)[:10] == []
    assert sorted(clearing ^ resolved)[:10] == []
    # The clocks the issue names all move over a weekend of unchanged data.
    rules = {rule for rule, _ in forecast}
    assert len(forecast) >= 20, forecast
    assert {"ownership.no_owner", "customer.milestone_aged", "backlog.aged_high_value"} <= rules, sorted(rules)
    _clock_free_rules_do_not_move_with_the_as_of(conn)


def _clock_free_rules_do_not_move_with_the_as_of(conn):
    """Rules declared clock=False give the same findings on the same snapshot at any later as-of."""
    snapshot = Snapshot.from_db(conn, FRIDAY)
    for name, area in REGISTERED.items():
        clock_free = [rule_id for rule_id, rule in area.rules.items() if not rule.clock]
        if not clock_free:
            continue
        today = area.evaluate(snapshot, FRIDAY, RULES).findings.filter(pl.col("rule_id").is_in(clock_free))
        for days in (1, 3, 10, 40):
            later = area.evaluate(snapshot, FRIDAY + dt.timedelta(days=days), RULES).findings
            later = later.filter(pl.col("rule_id").is_in(clock_free))
            assert (
                today.select("rule_id", "subject_key")
                .sort("*")
                .equals(later.select("rule_id", "subject_key").sort("*"))
            ), (name, days)


def test_rerunning_a_day_leaves_the_same_forecast(conn, world):
    out, _ = world
    load_snapshot(conn, out, FRIDAY)
    evaluate_day(conn, FRIDAY, RULES)
    first = conn.execute("select * from hypercare.finding_forecasts order by 1, 5, 6").fetchall()
    evaluate_day(conn, FRIDAY, RULES)
    assert conn.execute("select * from hypercare.finding_forecasts order by 1, 5, 6").fetchall() == first
    assert first


# -- the daily "due soon" digest --------------------------------------------------------
@pytest.fixture
def channels():
    with SlackStandIn() as slack, MailSink() as mail:
        senders = {
            "slack": SlackWebhookSender(WebhookClient(f"{slack.base}/webhook", timeout=5)),
            "email": SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com"),
        }
        yield slack, mail, senders


def _digest_posts(slack, mail):
    posts = [p for p in slack.webhook_posts if p["text"].startswith("[Due soon]")]
    mails = [m for m in mail.messages if m["Subject"].startswith("Hypercare: due by")]
    return posts, mails


def test_one_digest_per_role_and_route_a_day_never_resent(conn, world, channels):
    out, _ = world
    slack, mail, senders = channels
    for offset in range(5):
        day = START + dt.timedelta(days=offset)
        load_snapshot(conn, out, day)
        evaluate_day(conn, day, RULES)
    now = RULES.calendar.as_of_end(FRIDAY).astimezone(dt.UTC)
    dispatch(conn, RULES, senders, now=now)
    posts, mails = _digest_posts(slack, mail)
    per_role = dict(
        conn.execute(
            "select role, count(*) from hypercare.finding_forecasts f, unnest(f.owner_roles) role "
            "where f.as_of = %s and f.change = 'opens' group by role",
            (FRIDAY,),
        ).fetchall()
    )
    routes = RULES.content["alerting"]["routes"]
    expected_slack = sorted(routes[r]["slack"] for r in per_role if routes.get(r, {}).get("slack"))
    # Enterprise findings of onboarding_lead go to its enterprise route: a digest of their own.
    assert sorted({p["channel"] for p in posts}) == sorted(set(expected_slack) | {"#enterprise-onboarding"})
    # Each digest is one message of its own, not mixed with alert notices.
    for post in posts:
        assert post["text"].count("[Due soon]") == 1 and "[New]" not in post["text"]
    revops = next(p for p in posts if p["channel"] == "#revops-alerts")
    assert f"revops: {per_role['revops']} finding(s)" in revops["text"]
    assert f"by {horizon(RULES.calendar, FRIDAY)}" in mails[0]["Subject"]
    # Earlier days' digests were never sent: each was replaced by the next day's before delivery.
    sent_days = {
        d
        for (d,) in conn.execute(
            "select distinct as_of from hypercare.alert_outbox where kind = 'digest' and status = 'sent'"
        )
    }
    assert sent_days == {FRIDAY}

    evaluate_day(conn, FRIDAY, RULES)  # a re-run
    dispatch(conn, RULES, senders, now=now + dt.timedelta(hours=1))
    assert _digest_posts(slack, mail) == (posts, mails)


def test_digest_escapes_source_values_and_fits_one_message():
    payload = {
        "rule_id": "forecast.due_soon",
        "owner_role": "revops",
        "as_of": "2026-11-06",
        "horizon": "2026-11-09",
        "findings": 45,
        "alerts": 3,
        "customers": 30,
        "arr": 1_234_567.0,
        "currency": "USD",
        "items": [
            {
                "rule_id": "ownership.no_owner",
                "severity": "high",
                "alert": True,
                "subject_key": "ONB-1",
                "account_name": "<!channel> <https://evil.example|click> & jane@example.com " + "x" * 5000,
                "segment": "smb",
                "arr_band": "100k-250k",
                "journey_link": "http://localhost:8080/hypercare/journeys/ONB-1",
            }
        ]
        * 20,
    }
    notice = Notice("00000000-0000-0000-0000-000000000001", "digest", payload)
    slack_messages = render_messages("slack", [notice], dt.datetime(2026, 11, 7, tzinfo=dt.UTC))
    email_messages = render_messages("email", [notice], dt.datetime(2026, 11, 7, tzinfo=dt.UTC))
    assert len(slack_messages) == 1 and len(email_messages) == 1
    blocks = json.dumps(slack_messages[0].blocks)
    assert "<!channel>" not in blocks and "&lt;!channel&gt;" in blocks and "jane@example.com" not in blocks
    assert len(slack_messages[0].blocks) <= 50 and all(
        len(b["text"]["text"]) <= 3000 for b in slack_messages[0].blocks if b["type"] == "section"
    )
    assert "<!channel>" not in email_messages[0].html and "&lt;!channel&gt;" in email_messages[0].html
    assert "and 25 more" in email_messages[0].text


_DUE_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["finance", "onboarding"]),
        st.sampled_from(["r1", "r2"]),
        st.integers(0, 6),
        st.booleans(),
        st.sampled_from([None, "o1", "o2"]),
        st.sampled_from([None, "d1", "d2", "d3", "d4", "d5", "d6"]),
    ),
    max_size=25,
    unique_by=lambda row: (row[0], row[1], row[2]),
)
# Amounts whose sum depends on the order they are added in.
_DEAL_ARR = {"d1": 0.1, "d2": None, "d3": 1e16, "d4": 0.7, "d5": 3.3, "d6": 2.0}


@given(_DUE_ROWS)
def test_due_groups_count_each_finding_customer_and_deal_as_the_definition_says(rows):
    """Per role: one finding per row, a customer per onboarding (else deal, else subject),
    each deal's ARR once, added in the due order, and the role's first rows in that order."""
    due = pl.DataFrame(
        [
            {
                "owner_role": role,
                "rule_id": rule,
                "subject_key": f"s{subject}",
                "alert": alert,
                "onboarding_id": onboarding,
                "opportunity_id": deal,
                "arr": _DEAL_ARR.get(deal),
            }
            for role, rule, subject, alert, onboarding, deal in rows
        ],
        schema={
            name: DUE_SCHEMA[name]
            for name in ["owner_role", "rule_id", "subject_key", "alert", "onboarding_id", "opportunity_id", "arr"]
        },
        orient="row",
    ).sort("owner_role", "arr", "rule_id", "subject_key", descending=[False, True, False, False], nulls_last=True)
    groups = due_groups(due, ["owner_role"], items=2)

    ordered = due.rows(named=True)
    roles = list(dict.fromkeys(row["owner_role"] for row in ordered))
    assert [g["owner_role"] for g in groups] == roles
    for group in groups:
        mine = [row for row in ordered if row["owner_role"] == group["owner_role"]]
        deals = {row["opportunity_id"]: row["arr"] for row in mine if row["opportunity_id"] and row["arr"] is not None}
        assert group["findings"] == len(mine)
        assert group["alerts"] == sum(row["alert"] for row in mine)
        assert group["customers"] == len(
            {row["onboarding_id"] or row["opportunity_id"] or row["subject_key"] for row in mine}
        )
        assert group["arr"] == sum(deals.values())
        assert group["rows"] == mine[:2]
