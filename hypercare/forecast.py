"""Breach forecast: what will open by the end of the next business day if nothing changes.

The rules' own clocks decide it: snapshot D is evaluated again as of the next business
day after D (the same data, a later as-of) and compared with D's findings. What occurs
then and not on D would open on that day (opened, or reopened), what occurs on D and not
then would clear. Only clock-driven rules can differ, since the data is the same. So a
forecast for D equals the findings that open on the next business day when that day's
snapshot holds nothing new (tests/test_forecast.py checks exactly that).

The cross-cutting backlog ages the other areas' findings: its forecast reads the findings
the next business day would hold (D's, minus those the other areas' forecasts clear,
plus those they open, whose episode opens that day).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg

from hypercare.areas import REGISTERED
from hypercare.calendar import BusinessCalendar
from hypercare.db import copy_out_frame, named_queries, stage_frame
from hypercare.findings import FINDING_SCHEMA
from hypercare.ruleset import RuleSet
from hypercare.snapshot import STORE_VIEWS, Snapshot

FORECAST_SCHEMA: dict[str, pl.DataType] = {"change": pl.String, **FINDING_SCHEMA}
_KEYS = ["rule_id", "subject_key"]
# Areas that read the store's findings of the day (and so the other areas' forecasts).
FORECAST_READS_STORE = {"backlog"}


def horizon(calendar: BusinessCalendar, as_of: dt.date) -> dt.date:
    """The next business day after `as_of`: the forecast looks to its end."""
    day = as_of + dt.timedelta(days=1)
    while not calendar.is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def forecast_area(
    conn: psycopg.Connection, snapshot: Snapshot, as_of: dt.date, area: str, ruleset: RuleSet, today: pl.DataFrame
) -> pl.DataFrame:
    """The area's findings that would open, or clear, by the end of the next business day.

    `today` holds the area's findings on `as_of`; the other areas' forecasts for the day
    must be written before the backlog's.
    """
    until = horizon(ruleset.calendar, as_of)
    if area in FORECAST_READS_STORE:
        snapshot = snapshot.with_store({"findings": _findings_at_horizon(conn, snapshot, as_of, area, until)})
    later = REGISTERED[area].findings_later(snapshot, until, ruleset, today)
    opens = later.join(today.select(_KEYS), on=_KEYS, how="anti").with_columns(pl.lit("opens").alias("change"))
    clears = today.join(later.select(_KEYS), on=_KEYS, how="anti").with_columns(pl.lit("resolves").alias("change"))
    return pl.concat([opens, clears]).select(list(FORECAST_SCHEMA)).cast(FORECAST_SCHEMA)


def _findings_at_horizon(
    conn: psycopg.Connection, snapshot: Snapshot, as_of: dt.date, area: str, until: dt.date
) -> pl.DataFrame:
    """The store's findings view as the horizon day would hold it if nothing changes.

    A finding still open keeps its episode, one that opens starts its episode on the
    horizon day. Severity and high value of a finding still open are the day's: no rule
    escalates a finding from info, the only severity the backlog leaves out.
    """
    schema = STORE_VIEWS["findings"][1]
    today = snapshot.store("findings")
    rows = conn.execute(named_queries("forecast")["other_areas"], {"as_of": as_of, "area": area}).fetchall()
    changes = pl.DataFrame(
        rows,
        schema={"change": pl.String, **{k: v for k, v in schema.items() if k != "episode_opened_on"}},
        orient="row",
    )
    opening = changes.filter(pl.col("change") == "opens").drop("change")
    return pl.concat(
        [
            today.join(changes.select(_KEYS), on=_KEYS, how="anti"),
            opening.with_columns(pl.lit(until).alias("episode_opened_on")).select(list(schema)).cast(schema),
        ]
    )


def write_forecast(
    conn: psycopg.Connection, as_of: dt.date, area: str, ruleset: RuleSet, forecast: pl.DataFrame
) -> None:
    """Replace the (as_of, area) forecast; the caller owns the transaction (the run's)."""
    queries = named_queries("forecast")
    params = {
        "as_of": as_of,
        "area": area,
        "horizon": horizon(ruleset.calendar, as_of),
        "rule_version": ruleset.version,
    }
    conn.execute(queries["delete_area"], params)
    if forecast.is_empty():
        return
    stage_frame(conn, "stage_forecast", FORECAST_SCHEMA, forecast)
    conn.execute(queries["insert_staged"], params)


def delete_forecast(conn: psycopg.Connection, as_of: dt.date, area: str) -> None:
    """A day without verdict has no forecast either."""
    conn.execute(named_queries("forecast")["delete_area"], {"as_of": as_of, "area": area})


DUE_SCHEMA: dict[str, pl.DataType] = {
    "owner_role": pl.String,
    "finding_id": pl.String,
    "rule_id": pl.String,
    "subject_key": pl.String,
    "severity": pl.String,
    "alert": pl.Boolean,
    "horizon": pl.Date,
    "onboarding_id": pl.String,
    "opportunity_id": pl.String,
    "segment": pl.String,
    "high_value": pl.Boolean,
    "account_id": pl.String,
    "account_name": pl.String,
    "arr": pl.Float64,
    "sales_owner": pl.String,
}


def due_frame(conn: psycopg.Connection, as_of: dt.date) -> pl.DataFrame:
    """The findings that open by the horizon, one row per finding and owner role, with the
    customer facts the scorecard and the daily digest show (include/sql/queries/forecast.sql),
    ordered by role, then largest ARR first (text in code point order)."""
    query = named_queries("forecast")["due_soon"].rstrip(";")
    return copy_out_frame(conn, query, DUE_SCHEMA, {"as_of": as_of}).sort(
        "owner_role", "arr", "rule_id", "subject_key", descending=[False, True, False, False], nulls_last=True
    )


def due_groups(due: pl.DataFrame, by: list[str], items: int) -> list[dict]:
    """What falls due per group of `by` (an owner role, or a role's recipient), groups in
    order of their first row in `due`: the findings, how many would page, the customers and
    the ARR behind them (each deal once), and the group's first `items` rows as dicts."""
    customer = pl.coalesce("onboarding_id", "opportunity_id", "subject_key")
    # Each deal once, added up in the order of `due` one after the other, as a reader adds
    # the listed amounts (polars' own sum may add in another order, off in the last digits).
    arr = (
        due.filter(pl.col("opportunity_id").is_not_null() & pl.col("arr").is_not_null())
        .unique([*by, "opportunity_id"], keep="first", maintain_order=True)
        .group_by(by)
        .agg(arr=pl.col("arr").cum_sum().last())
    )
    groups = (
        due.group_by(by, maintain_order=True)
        .agg(findings=pl.len(), alerts=pl.col("alert").sum(), customers=customer.n_unique())
        .join(arr, on=by, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(pl.col("arr").fill_null(0.0))
    )
    first_rows: dict[tuple, list[dict]] = {}
    for row in due.group_by(by, maintain_order=True).head(items).iter_rows(named=True):
        first_rows.setdefault(tuple(row[name] for name in by), []).append(row)
    return [group | {"rows": first_rows[tuple(group[name] for name in by)]} for group in groups.iter_rows(named=True)]
