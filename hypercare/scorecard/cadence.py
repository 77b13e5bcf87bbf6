"""The hypercare review rhythm: which days the scorecard is sent and carries the review pack.

Day 1 is the configured go-live date. The guide's rhythm: daily on days 1-5, twice weekly
on days 6-15, weekly on days 16-30, then weekly or biweekly. Each twice-weekly send and
each send on the weekly review weekday carries the review pack. The scorecard is compiled
every day regardless; only sending follows the rhythm.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from hypercare.calendar import BusinessCalendar
from hypercare.scorecard.config import Cadence

PHASES = (
    (1, 5, "Days 1-5", "daily", "Are eligible customers captured, complete, assigned, and visible?"),
    (
        6,
        15,
        "Days 6-15",
        "twice weekly",
        "Which fields, owners, milestones, integrations, and customer tasks are breaking?",
    ),
    (16, 30, "Days 16-30", "weekly", "Are exceptions shrinking, SLAs improving, and customers reaching value sooner?"),
)
AFTER_DAY_30_QUESTION = "What should be tuned, expanded, paused, or handed to steady-state operations?"


@dataclass(frozen=True)
class CadenceDay:
    """Where one date sits in the hypercare rhythm."""

    day: dt.date
    hypercare_day: int | None
    phase: str
    rhythm: str
    question: str
    send: bool
    review_pack: bool

    def line(self) -> str:
        where = f"day {self.hypercare_day}" if self.hypercare_day is not None else "no go-live configured"
        what = "send" + (" with the weekly review pack" if self.review_pack else "") if self.send else "archive only"
        return f"{self.day} ({self.day.strftime('%a')}), {where}, {self.phase} ({self.rhythm}): {what}"


def hypercare_day(go_live: dt.date, day: dt.date) -> int:
    return (day - go_live).days + 1


def _biweekly_anchor(cadence: Cadence) -> dt.date:
    """The first review weekday after day 30: biweekly sends count two weeks from it."""
    day_31 = cadence.go_live + dt.timedelta(days=30)
    return day_31 + dt.timedelta(days=(cadence.weekly_on - day_31.weekday()) % 7)


def cadence_day(cadence: Cadence, calendar: BusinessCalendar, day: dt.date) -> CadenceDay:
    if cadence.go_live is None:
        return CadenceDay(day, None, "No go-live date", "none", AFTER_DAY_30_QUESTION, False, False)
    number = hypercare_day(cadence.go_live, day)
    if number < 1:
        return CadenceDay(day, number, "Before go-live", "none", PHASES[0][4], False, False)
    weekday = day.weekday()
    phase, rhythm, question = next(
        ((p, r, q) for first, last, p, r, q in PHASES if first <= number <= last),
        ("After day 30", cadence.after_day_30, AFTER_DAY_30_QUESTION),
    )
    if rhythm == "daily":
        send = calendar.is_business_day(day) or not cadence.daily_business_days_only
    elif rhythm == "twice weekly":
        send = weekday in cadence.twice_weekly_on
    else:
        send = weekday == cadence.weekly_on
        if send and rhythm == "biweekly":
            send = (day - _biweekly_anchor(cadence)).days % 14 == 0
    # Every twice-weekly send is a review, as is the weekly one: each carries the agenda.
    review = send and (rhythm == "twice weekly" or weekday == cadence.weekly_on)
    return CadenceDay(day, number, phase, rhythm, question, send, review)


def previous_send_day(cadence: Cadence, calendar: BusinessCalendar, day: dt.date) -> dt.date | None:
    """The last send day before `day` (the previous period's scorecard), if any since go-live."""
    if cadence.go_live is None:
        return None
    probe = day - dt.timedelta(days=1)
    while probe >= cadence.go_live:
        if cadence_day(cadence, calendar, probe).send:
            return probe
        probe -= dt.timedelta(days=1)
    return None


def next_review_day(cadence: Cadence, calendar: BusinessCalendar, day: dt.date) -> dt.date | None:
    """The first review (a send with the review pack) after `day`: when this review's fixes are due."""
    if cadence.go_live is None:
        return None
    probe = max(day, cadence.go_live - dt.timedelta(days=1))
    for _ in range(366):
        probe += dt.timedelta(days=1)
        if cadence_day(cadence, calendar, probe).review_pack:
            return probe
    return None


def send_days(cadence: Cadence, calendar: BusinessCalendar, start: dt.date, end: dt.date) -> list[dt.date]:
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return [d for d in days if cadence_day(cadence, calendar, d).send]
