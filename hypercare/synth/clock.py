"""Business-time arithmetic on numpy arrays of epoch seconds, for building timelines.

The generator places events "0.9 business days after eligibility" or "at 16:00 on the last
business day before a holiday" for whole columns at once. Instants are int64 UTC epoch
seconds; `NEVER` marks an event that does not happen within the horizon, and every helper
maps `NEVER` to `NEVER` so callers can chain them without masking.

The generator only aims with this clock; the oracle judges the instants it produced with
`BusinessCalendar`, so a DST day where wall-clock hours and elapsed seconds differ can
shift an aim by an hour but never makes the ground truth wrong.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from hypercare.calendar import DAY_SECONDS, BusinessCalendar

NEVER = np.int64(2**62)
HOUR = 3_600
MINUTE = 60


class Clock:
    """Local midnights, business-day flags and the business clock over a span of days."""

    def __init__(self, calendar: BusinessCalendar, first_day: dt.date, last_day: dt.date):
        self.calendar = calendar
        self.first_day = first_day
        self.dates = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 2)]
        self.midnight = np.array([int(calendar.day_start(d).timestamp()) for d in self.dates], dtype=np.int64)
        self.is_business = np.array([calendar.is_business_day(d) for d in self.dates], dtype=bool)
        self.business_before = np.concatenate(([0], np.cumsum(self.is_business)[:-1])).astype(np.int64)
        self.business_days = np.flatnonzero(self.is_business)
        self.horizon = self.midnight[-1]

    # -- days ----------------------------------------------------------------------------
    def day_index(self, day: dt.date) -> int:
        return (day - self.first_day).days

    def day_end(self, day: dt.date) -> int:
        """Epoch seconds of the as-of instant for `day` (midnight starting the next day)."""
        return int(self.midnight[self.day_index(day) + 1])

    def at(self, day_idx: np.ndarray, seconds_of_day: np.ndarray) -> np.ndarray:
        """The instant `seconds_of_day` after local midnight of each day index."""
        return self.midnight[day_idx] + np.asarray(seconds_of_day, dtype=np.int64)

    def day_of(self, ts: np.ndarray) -> np.ndarray:
        """Day index (local date) of each instant; NEVER maps to the last index."""
        clipped = np.minimum(ts, self.horizon - 1)
        return np.searchsorted(self.midnight, clipped, side="right") - 1

    def next_business_day(self, day_idx: np.ndarray, step: int = 1) -> np.ndarray:
        """The `step`-th business day after each day index (step 0: same day if business)."""
        position = np.searchsorted(self.business_days, day_idx, side="right" if step > 0 else "left")
        position = np.clip(position + max(step - 1, 0), 0, len(self.business_days) - 1)
        return self.business_days[position]

    # -- the business clock --------------------------------------------------------------
    def business_seconds(self, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.int64)
        day = self.day_of(ts)
        time_of_day = np.clip(ts - self.midnight[day], 0, DAY_SECONDS - 1)
        seconds = self.business_before[day] * DAY_SECONDS + np.where(self.is_business[day], time_of_day, 0)
        return np.where(ts >= self.horizon, NEVER, seconds)

    def from_business_seconds(self, seconds: np.ndarray) -> np.ndarray:
        seconds = np.asarray(seconds, dtype=np.int64)
        whole = np.clip(seconds // DAY_SECONDS, 0, len(self.business_days) - 1)
        ts = self.midnight[self.business_days[whole]] + seconds % DAY_SECONDS
        out_of_range = (seconds >= NEVER) | (seconds // DAY_SECONDS >= len(self.business_days))
        return np.where(out_of_range, NEVER, ts)

    def add_business_days(self, ts: np.ndarray, days: np.ndarray | float) -> np.ndarray:
        """The instant the business clock started at `ts` shows `days` (may be fractional)."""
        ts = np.asarray(ts, dtype=np.int64)
        offset = np.round(np.asarray(days, dtype=np.float64) * DAY_SECONDS).astype(np.int64)
        moved = self.from_business_seconds(np.maximum(self.business_seconds(ts) + offset, 0))
        return np.where(ts >= NEVER, NEVER, moved)

    def add_seconds(self, ts: np.ndarray, seconds: np.ndarray | int) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.int64)
        moved = ts + np.asarray(seconds, dtype=np.int64)
        return np.where((ts >= NEVER) | (moved >= self.horizon), NEVER, moved)


def later(*instants: np.ndarray) -> np.ndarray:
    """Element-wise latest instant (NEVER wins, as an event that never happens)."""
    return np.maximum.reduce([np.asarray(i, dtype=np.int64) for i in instants])


def earlier(*instants: np.ndarray) -> np.ndarray:
    return np.minimum.reduce([np.asarray(i, dtype=np.int64) for i in instants])
