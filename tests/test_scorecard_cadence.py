"""Which days the scorecard is sent, relative to the go-live date, and its configuration."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from hypercare.ruleset import load_ruleset
from hypercare.scorecard.cadence import cadence_day, next_review_day, previous_send_day, send_days
from hypercare.scorecard.config import Cadence, scorecard_config
from hypercare.scorecard.health import HEALTH_AREAS

RULES = load_ruleset()
CALENDAR = RULES.calendar
MONDAY, THURSDAY = 0, 3


def cadence(go_live: dt.date, **overrides) -> Cadence:
    settings = {
        "go_live": go_live,
        "daily_business_days_only": True,
        "twice_weekly_on": (MONDAY, THURSDAY),
        "weekly_on": MONDAY,
        "after_day_30": "weekly",
    }
    return Cadence(**(settings | overrides))


def day_of(go_live: dt.date, number: int) -> dt.date:
    """The date of hypercare day `number` (day 1 is the go-live date)."""
    return go_live + dt.timedelta(days=number - 1)


def sends(rhythm: Cadence, go_live: dt.date, number: int) -> bool:
    return cadence_day(rhythm, CALENDAR, day_of(go_live, number)).send


def test_the_configured_cadence_over_the_first_five_weeks():
    go_live = dt.date(2026, 11, 2)
    rhythm = scorecard_config(RULES).cadence
    assert rhythm == cadence(go_live)
    sent = send_days(rhythm, CALENDAR, go_live - dt.timedelta(days=3), dt.date(2026, 12, 14))
    assert sent == [
        *(dt.date(2026, 11, d) for d in (2, 3, 4, 5, 6)),  # days 1-5, daily (Mon-Fri)
        dt.date(2026, 11, 9),  # day 8, Monday
        dt.date(2026, 11, 12),  # day 11, Thursday
        dt.date(2026, 11, 16),  # day 15, Monday
        dt.date(2026, 11, 23),  # day 22, weekly
        dt.date(2026, 11, 30),  # day 29, weekly
        dt.date(2026, 12, 7),  # day 36, after day 30: weekly
        dt.date(2026, 12, 14),
    ]


@pytest.mark.parametrize(
    ("go_live", "number", "expected"),
    [
        # Days 5/6: day 5 is daily; day 6 only on a twice-weekly weekday.
        (dt.date(2026, 11, 2), 5, True),  # Friday
        (dt.date(2026, 11, 2), 6, False),  # Saturday
        (dt.date(2026, 10, 29), 5, True),  # Monday
        (dt.date(2026, 10, 29), 6, False),  # Tuesday
        (dt.date(2026, 10, 28), 6, True),  # Monday, twice weekly
        # Days 15/16: Thursday still counts on day 15, no longer on day 16.
        (dt.date(2026, 10, 29), 15, True),  # Thursday
        (dt.date(2026, 10, 28), 16, False),  # Thursday, weekly phase
        (dt.date(2026, 11, 1), 15, False),  # Sunday
        (dt.date(2026, 11, 1), 16, True),  # Monday, weekly
        (dt.date(2026, 11, 2), 16, False),  # Tuesday
        # Days 30/31.
        (dt.date(2026, 11, 1), 30, True),  # Monday
        (dt.date(2026, 11, 1), 31, False),  # Tuesday
        (dt.date(2026, 10, 31), 31, True),  # Monday, after day 30, weekly
        (dt.date(2026, 10, 31), 30, False),  # Sunday
    ],
)
def test_phase_boundaries(go_live, number, expected):
    assert sends(cadence(go_live), go_live, number) is expected


def test_phase_names_follow_the_guide():
    go_live = dt.date(2026, 11, 2)
    phases = {n: cadence_day(cadence(go_live), CALENDAR, day_of(go_live, n)) for n in (0, 1, 5, 6, 15, 16, 30, 31)}
    assert [(n, d.phase, d.rhythm) for n, d in phases.items()] == [
        (0, "Before go-live", "none"),
        (1, "Days 1-5", "daily"),
        (5, "Days 1-5", "daily"),
        (6, "Days 6-15", "twice weekly"),
        (15, "Days 6-15", "twice weekly"),
        (16, "Days 16-30", "weekly"),
        (30, "Days 16-30", "weekly"),
        (31, "After day 30", "weekly"),
    ]
    assert not phases[0].send


def test_biweekly_after_day_30_counts_from_the_first_review_day():
    go_live = dt.date(2026, 11, 2)
    rhythm = cadence(go_live, after_day_30="biweekly")
    after = send_days(rhythm, CALENDAR, dt.date(2026, 12, 2), dt.date(2027, 1, 31))
    assert after == [dt.date(2026, 12, 7), dt.date(2026, 12, 21), dt.date(2027, 1, 4), dt.date(2027, 1, 18)]
    weekly = send_days(replace(rhythm, after_day_30="weekly"), CALENDAR, dt.date(2026, 12, 2), dt.date(2026, 12, 31))
    assert weekly == [dt.date(2026, 12, 7), dt.date(2026, 12, 14), dt.date(2026, 12, 21), dt.date(2026, 12, 28)]


def test_daily_phase_skips_weekends_and_holidays_unless_configured_not_to():
    go_live = dt.date(2026, 11, 25)  # Wed; 26-27 Nov are holidays, 28-29 the weekend
    business = send_days(cadence(go_live), CALENDAR, go_live, day_of(go_live, 5))
    assert business == [dt.date(2026, 11, 25)]
    every_day = send_days(cadence(go_live, daily_business_days_only=False), CALENDAR, go_live, day_of(go_live, 5))
    assert len(every_day) == 5


def test_review_pack_on_every_twice_weekly_send_and_the_weekly_review_weekday():
    go_live = dt.date(2026, 11, 2)
    days = [cadence_day(cadence(go_live), CALENDAR, go_live + dt.timedelta(days=i)) for i in range(40)]
    reviews = [d.day for d in days if d.review_pack]
    assert all(d.send for d in days if d.review_pack)
    assert cadence_day(cadence(go_live), CALENDAR, dt.date(2026, 11, 12)).review_pack  # day 11, Thursday send
    assert {d.weekday() for d in reviews if d > dt.date(2026, 11, 16)} == {MONDAY}
    assert not cadence_day(cadence(go_live), CALENDAR, dt.date(2026, 11, 3)).review_pack  # daily phase, Tuesday
    assert next_review_day(cadence(go_live), CALENDAR, dt.date(2026, 11, 9)) == dt.date(2026, 11, 12)
    assert next_review_day(cadence(go_live), CALENDAR, dt.date(2026, 11, 16)) == dt.date(2026, 11, 23)


def test_previous_period_is_the_previous_send_day():
    rhythm = cadence(dt.date(2026, 11, 2))
    assert previous_send_day(rhythm, CALENDAR, dt.date(2026, 11, 2)) is None
    assert previous_send_day(rhythm, CALENDAR, dt.date(2026, 11, 3)) == dt.date(2026, 11, 2)
    assert previous_send_day(rhythm, CALENDAR, dt.date(2026, 11, 9)) == dt.date(2026, 11, 6)
    assert previous_send_day(rhythm, CALENDAR, dt.date(2026, 11, 16)) == dt.date(2026, 11, 12)
    assert previous_send_day(rhythm, CALENDAR, dt.date(2026, 11, 19)) == dt.date(2026, 11, 16)


def test_without_a_go_live_date_nothing_is_sent():
    day = cadence_day(cadence(None), CALENDAR, dt.date(2026, 11, 2))
    assert not day.send and day.hypercare_day is None


def test_every_rule_has_one_kind_of_fix_and_one_health_area():
    config = scorecard_config(RULES)
    assert len(config.fix_kinds) == 5
    for rule_id in RULES.rules:
        assert config.fix_kind(rule_id) in config.fix_kinds
        assert sum(area.covers(rule_id) for area in HEALTH_AREAS) == 1, rule_id
    assert len(HEALTH_AREAS) == 12
    assert config.all_recipients and all("@" in address for address in config.all_recipients)


def test_bad_cadence_settings_are_refused():
    content = RULES.content | {"scorecard": RULES.content["scorecard"] | {"cadence": {"after_day_30": "monthly"}}}
    with pytest.raises(ValueError, match="after_day_30"):
        scorecard_config(replace(RULES, content=content))
    content = RULES.content | {"scorecard": RULES.content["scorecard"] | {"cadence": {"weekly_on": "funday"}}}
    with pytest.raises(ValueError, match="weekday"):
        scorecard_config(replace(RULES, content=content))
