"""How the scorecard reads: the precision that decides a check, alert quality dated to the
scorecard's day, and a first day with nothing to compare against. Numbers read from the
generated month of test_scorecard, in its own database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from hypercare.scorecard.data import compile_data
from hypercare.scorecard.formats import decisive_digits, fmt, fmt_against, money, trend
from tests.test_scorecard import CONFIG, REVIEW_DAY, RULES, START, store  # noqa: F401 (fixtures)


def test_a_check_near_its_threshold_shows_the_digits_that_decide_it():
    assert fmt_against(0.1516, 0.15, "pct") == ("15.2%", "15.0%")
    assert fmt_against(0.10, 0.15, "pct") == ("10%", "15%")
    assert fmt_against(1.04, 1.0, "days") == ("1.04 bd", "1.00 bd")
    assert fmt_against(None, 0.15, "pct") == ("–", "15%")


def test_a_change_smaller_than_the_usual_precision_still_reads_as_a_change():
    small = trend(1.649, 1.551, "lower", "days")
    assert small["symbol"] == "▲" and small["good"] is False
    assert small["text"] == "0.10 bd (was 1.55 bd)"
    assert trend(0.5, 0.5, "higher", "pct")["symbol"] == "="


def test_amounts_carry_their_currency():
    assert money(34_400_000, "USD") == "$34.4M"
    assert money(652_000, "EUR") == "€652k"
    assert money(900, "CHF") == "900 CHF"
    assert fmt(1_500_000, "money", currency="GBP") == "£1.5M"


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_shares_that_differ_by_a_thousandth_of_a_point_never_read_alike(a, b):
    shown_a, shown_b = fmt_against(a, b, "pct")
    if abs(a - b) >= 1e-5:
        assert shown_a != shown_b
    assert decisive_digits([a, b], "pct") <= 3


def _compile(conn, day: dt.date) -> dict:
    return compile_data(conn, day, RULES, CONFIG)


def test_first_day_has_nothing_to_compare_and_no_weak_answer_without_data(store):  # noqa: F811
    first = _compile(store, START)
    assert first["previous_as_of"] is None
    assert first["series"]["days"][0] == START.isoformat(), "nothing before go-live is drawn"
    assert "nothing to compare" in first["summary"]["changed"]
    growth = next(q for q in first["verdict"]["questions"] if q["number"] == 10)
    assert growth["answer"] == "not enough data yet" and not growth["strong"]
    assert first["verdict"]["weak"] == sum(q["answer"] == "weak" for q in first["verdict"]["questions"])
    assert first["verdict"]["unmeasured"] >= 1 and not first["verdict"]["expand_automation"]
    assert "None" not in repr(first["review"]) and "previous scorecard" not in repr(first["review"])
    widget = next(w for w in first["widgets"] if w["id"] == "exceptions_by_reason")
    assert "Previous" not in widget["table"]["columns"]


def test_owner_p90_in_the_duration_table_reads_at_the_precision_of_its_check(store):  # noqa: F811
    """A p90 a few thousandths under its threshold shows the decimals that decide it in the
    table too, not 1.0 beside the check's 1.01."""
    p90 = compile_data(store, REVIEW_DAY, RULES, CONFIG)
    p90 = next(w for w in p90["widgets"] if w["id"] == "time_to_owner_and_kickoff")["value"]
    assert p90 is not None
    threshold = p90 + 0.004
    near = dataclasses.replace(CONFIG, thresholds=CONFIG.thresholds | {"time_to_owner_p90_max": threshold})
    widget = next(
        w for w in compile_data(store, REVIEW_DAY, RULES, near)["widgets"] if w["id"] == "time_to_owner_and_kickoff"
    )
    digits = widget["table"]["digits"][widget["table"]["columns"].index("Owner p90")]
    assert digits >= decisive_digits([p90, threshold], "days") >= 1
    overall = next(row for row in widget["table"]["rows"] if row[2] == p90)
    shown, decisive = fmt(overall[2], "days", digits), fmt_against(p90, threshold, "days")[0]
    assert len(shown) >= len(decisive) > len(fmt(p90, "days")), "the table shows the decimals that decide"


def test_top_fixes_name_rule_owner_due_date_and_arr_with_currency(store):  # noqa: F811
    data = _compile(store, REVIEW_DAY)
    assert data["next_review"] == "2026-11-23"
    top = data["summary"]["fixes"]
    assert 1 <= len(top) <= 3
    for line, fix in zip(top, data["fixes"], strict=False):
        assert "." not in line["text"].split(" (")[0].split(": ")[0], "a plain name, not a rule id"
        assert line["owner"] and "_" not in line["owner"]
        assert line["due"] == "2026-11-23" and line["arr"].startswith("$")
        assert fix["accounts"] and len(fix["accounts"]) <= CONFIG.accounts_per_fix
        arrs = [a["arr"] for a in fix["accounts"]]
        assert arrs == sorted(arrs, reverse=True)
        assert fix["oldest_days"] <= (dt.date.fromisoformat(data["as_of"]) - START).days + 1


@pytest.fixture
def alerts_sent(store):  # noqa: F811
    """Every queued notice of the month marked sent at the end of its run's day; undone afterwards."""
    with store.transaction(force_rollback=True):
        store.execute(
            "update hypercare.alert_outbox set status = 'sent', "
            "sent_at = (coalesce(as_of, episode_on) + 1)::timestamptz"
        )
        yield store


def _add_repeat_of_a_first_day_episode(conn, **columns) -> None:
    """A repeat notice of an episode first alerted on day 1 (of a finding never silenced
    before), with `columns` set."""
    conn.execute(
        sql.SQL(
            "insert into hypercare.alert_outbox (notification_id, finding_id, kind, episode_on, step, rule_id, "
            "severity, owner_role, recipient, payload, {names}) "
            "select gen_random_uuid(), finding_id, 'repeat', episode_on, 1, rule_id, severity, owner_role, "
            "recipient, payload, {values} from hypercare.alert_outbox o where kind = 'firing' and as_of = %s "
            "and not exists (select 1 from hypercare.alert_outbox s where s.silenced and s.finding_id = o.finding_id) "
            "limit 1"
        ).format(
            names=sql.SQL(", ").join(map(sql.Identifier, columns)),
            values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        ),
        (*columns.values(), START),
    )


def test_alert_quality_counts_only_what_was_sent_up_to_the_scorecards_day(alerts_sent):
    counted = {}
    for day in (START, REVIEW_DAY):
        quality = _compile(alerts_sent, day)["alert_quality"]
        expected = alerts_sent.execute(
            "select count(*) filter (where kind = 'firing'), "
            "count(*) filter (where kind in ('firing', 'repeat', 'escalation')) "
            "from hypercare.alert_outbox where status = 'sent' and coalesce(as_of, episode_on) between %s and %s",
            (START, day),
        ).fetchone()
        (firing_episodes,) = alerts_sent.execute(
            "select count(*) from (select distinct rule_id, owner_role, finding_id, episode_on "
            "from hypercare.alert_outbox where kind = 'firing' and status = 'sent' "
            "and coalesce(as_of, episode_on) between %s and %s) x",
            (START, day),
        ).fetchone()
        assert quality["first_alerts"] == firing_episodes
        assert quality["sent"] == firing_episodes + expected[1] - expected[0]
        for key in ("sent", "first_alerts", "repeats", "reopened"):
            assert sum(r[key] for r in quality["rows"]) == quality[key], "shown rows add up to the total"
        assert len(quality["rows"]) <= 9
        counted[day] = quality["sent"]
    assert 0 < counted[START] < counted[REVIEW_DAY], "day 1 does not count alerts of later days"


def test_a_repeat_sent_after_the_scorecards_day_counts_only_from_the_day_it_was_sent(alerts_sent):
    """Repeats carry their episode's day, not a run's: a repeat of a day-1 episode sent on
    the review day is not in day 1's scorecard, compiled then or again later."""
    day_one, review = (_compile(alerts_sent, d)["alert_quality"]["repeats"] for d in (START, REVIEW_DAY))
    _add_repeat_of_a_first_day_episode(
        alerts_sent, status="sent", sent_at=dt.datetime.combine(REVIEW_DAY, dt.time(12), dt.UTC)
    )
    assert _compile(alerts_sent, START)["alert_quality"]["repeats"] == day_one
    assert _compile(alerts_sent, REVIEW_DAY)["alert_quality"]["repeats"] == review + 1


def test_a_repeat_silenced_after_the_scorecards_day_counts_only_from_the_day_it_was_held(alerts_sent):
    """A silence holds a notice at a dispatch: a repeat of a day-1 episode held on the
    review day is silenced in the review day's scorecard, not in day 1's."""
    day_one, review = (_compile(alerts_sent, d)["alert_quality"]["silenced"] for d in (START, REVIEW_DAY))
    _add_repeat_of_a_first_day_episode(
        alerts_sent, silenced=True, silenced_at=dt.datetime.combine(REVIEW_DAY, dt.time(12), dt.UTC)
    )
    assert _compile(alerts_sent, START)["alert_quality"]["silenced"] == day_one
    assert _compile(alerts_sent, REVIEW_DAY)["alert_quality"]["silenced"] == review + 1
