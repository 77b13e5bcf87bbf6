"""Business-day clocks in the configured business timezone.

A business-day clock counts time only on business days (Monday to Friday minus the
configured holidays, whole calendar days in the business timezone). "N business days
after T" is reached once the clock has covered N full business days since T: a deal
eligible Friday 16:00 reaches one business day on Monday 16:00, not on Saturday.

The clock is expressed as cumulative business seconds since a fixed epoch, so the
elapsed time between two instants is a subtraction and works on whole columns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl

DAY_SECONDS = 86_400
_EPOCH = dt.date(2000, 1, 3)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class BusinessCalendar:
    """Timezone, weekend and holidays that every SLA clock runs on."""

    timezone: str = "UTC"
    weekend: tuple[str, ...] = ("saturday", "sunday")
    holidays: tuple[dt.date, ...] = ()

    @classmethod
    def from_config(cls, cfg: dict) -> BusinessCalendar:
        weekend = tuple(day.lower() for day in cfg.get("weekend", ("saturday", "sunday")))
        unknown = set(weekend) - set(_WEEKDAYS)
        if unknown:
            raise ValueError(f"calendar.weekend: unknown day(s) {sorted(unknown)}")
        holidays = tuple(sorted(dt.date.fromisoformat(str(h)) for h in cfg.get("holidays", ())))
        ZoneInfo(cfg.get("timezone", "UTC"))
        return cls(timezone=cfg.get("timezone", "UTC"), weekend=weekend, holidays=holidays)

    @property
    def week_mask(self) -> tuple[bool, ...]:
        return tuple(day not in self.weekend for day in _WEEKDAYS)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # -- scalar helpers ---------------------------------------------------------------
    def is_business_day(self, day: dt.date) -> bool:
        return self.week_mask[day.weekday()] and day not in self.holidays

    def day_start(self, day: dt.date) -> dt.datetime:
        """Midnight at the start of `day` in the business timezone, as an aware datetime."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.tz)

    def as_of_end(self, day: dt.date) -> dt.datetime:
        """The instant a run for `day` evaluates at: the end of that day, business time."""
        return self.day_start(day + dt.timedelta(days=1))

    def add_business_days(self, since: dt.datetime, days: int) -> dt.datetime:
        """The instant the business clock started at `since` reaches `days` full days."""
        local = since.astimezone(self.tz)
        day, clock = local.date(), local.time()
        if not self.is_business_day(day):
            clock = dt.time()
            while not self.is_business_day(day):
                day += dt.timedelta(days=1)
        for _ in range(days):
            day += dt.timedelta(days=1)
            while not self.is_business_day(day):
                day += dt.timedelta(days=1)
        return dt.datetime.combine(day, clock, tzinfo=self.tz)

    def business_days_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Business days from `start` to `end`, the scalar twin of `business_seconds`.

        Plain Python: the dispatcher asks this once per open alert, where building a
        one-row dataframe per call cost milliseconds each.
        """
        return (self._business_seconds_scalar(end) - self._business_seconds_scalar(start)) / DAY_SECONDS

    def _business_seconds_scalar(self, ts: dt.datetime) -> float:
        local = ts.astimezone(self.tz)
        day = local.date()
        time_of_day = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1_000_000
        seconds = self._business_day_count(_EPOCH, day) * DAY_SECONDS
        return seconds + (time_of_day if self.is_business_day(day) else 0)

    def _business_day_count(self, start: dt.date, end: dt.date) -> int:
        """Business days in [start, end) (negative when end is before start), as polars counts them."""
        if end < start:
            return -self._business_day_count(end, start)
        mask = self.week_mask
        weeks, rest = divmod((end - start).days, 7)
        count = weeks * sum(mask) + sum(mask[(start.weekday() + i) % 7] for i in range(rest))
        return count - sum(1 for h in set(self.holidays) if start <= h < end and mask[h.weekday()])

    # -- column expressions -----------------------------------------------------------
    def business_seconds(self, ts: pl.Expr) -> pl.Expr:
        """Cumulative business seconds from the epoch to each timestamp (aware, any zone)."""
        local = ts.dt.convert_time_zone(self.timezone)
        day = local.dt.date()
        days_before = pl.business_day_count(pl.lit(_EPOCH), day, week_mask=self.week_mask, holidays=list(self.holidays))
        time_of_day = (
            local.dt.hour().cast(pl.Int64) * 3600
            + local.dt.minute().cast(pl.Int64) * 60
            + local.dt.second().cast(pl.Int64)
            + local.dt.microsecond().cast(pl.Int64) / 1_000_000
        )
        in_business_day = day.dt.is_business_day(week_mask=self.week_mask, holidays=list(self.holidays))
        return days_before.cast(pl.Int64) * DAY_SECONDS + pl.when(in_business_day).then(time_of_day).otherwise(0)

    def business_seconds_at_day_end(self, day: dt.date) -> int:
        """Business seconds on the clock at the end of `day` (the as-of instant)."""
        count = pl.select(
            pl.business_day_count(
                pl.lit(_EPOCH),
                pl.lit(day + dt.timedelta(days=1)),
                week_mask=self.week_mask,
                holidays=list(self.holidays),
            )
        ).item()
        return int(count) * DAY_SECONDS

    def business_days_elapsed(self, since: pl.Expr, as_of: dt.date) -> pl.Expr:
        """Business days from `since` to the end of `as_of`; null where `since` is null."""
        return (pl.lit(self.business_seconds_at_day_end(as_of)) - self.business_seconds(since)) / DAY_SECONDS

    def calendar_days_elapsed(self, since: pl.Expr, as_of: dt.date) -> pl.Expr:
        end = self.as_of_end(as_of).astimezone(dt.UTC)
        return (
            pl.lit(end).dt.convert_time_zone("UTC") - since.dt.convert_time_zone("UTC")
        ).dt.total_seconds() / DAY_SECONDS

    def local_date(self, ts: pl.Expr) -> pl.Expr:
        return ts.dt.convert_time_zone(self.timezone).dt.date()
