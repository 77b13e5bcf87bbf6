"""The day's exceptions (warn and above) behind the scorecard's fixes and control loop.

At 100k customers a day holds about 300k exceptions. They are read once, each with its
episode's opening, into a frame beside the day's deals, and every answer the scorecard
needs from them is computed here: the fixes, the accounts behind each fix, how many were
reopened, and which journeys are stuck at their step of the control loop. Grouping and
ranking them in the server, once per answer, cost most of the scorecard's time; reading
them once costs a fraction (docs/benchmarks.md, eighth round).

Text is ordered by code point, as PostgreSQL orders it under the C and C.UTF-8 collations,
whatever the server's own collation: a scorecard reads the same on every server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import psycopg

from hypercare.db import copy_out_frame, named_queries
from hypercare.scorecard.config import SEVERITY_RANK

_EXCEPTION_SCHEMA = {
    "area": pl.String,
    "rule_id": pl.String,
    "reason_code": pl.String,
    "severity": pl.String,
    "subject_key": pl.String,
    "onboarding_id": pl.String,
    "opportunity_id": pl.String,
    "high_value": pl.Boolean,
    "owner_roles": pl.String,
    "opened_on": pl.Date,
    "reopened": pl.Boolean,
}
_DEAL_SCHEMA = {"opportunity_id": pl.String, "account_id": pl.String, "arr": pl.Float64}
_JOURNEY_SCHEMA = {"journey": pl.String, "stage": pl.String}
# DayExceptions.rows: each exception with its deal's account and ARR and its episode.
ROW_SCHEMA = {**_EXCEPTION_SCHEMA, "account_id": pl.String, "arr": pl.Float64}
_FIX = ["rule_id", "reason_code"]

# The areas that own each step of the control loop: a journey is stuck at its step when one
# of them has an exception on it that day. Journeys that reached value own no step.
STEP_AREAS = {
    "capture": ("trigger",),
    "validate": ("handoff", "trigger"),
    "assign": ("ownership",),
    "provision": ("provisioning", "billing"),
    "customer_tasks": ("customer",),
    "escalate": ("backlog",),
    "write_back": ("writeback",),
    "measure_value": ("customer",),
}


def read_frame(conn: psycopg.Connection, query: str, as_of: dt.date, schema: dict) -> pl.DataFrame:
    """One of the scorecard's named queries for `as_of`, as a frame of `schema`."""
    return copy_out_frame(conn, named_queries("scorecard")[query].rstrip(";"), schema, {"as_of": as_of})


def read_journeys(conn: psycopg.Connection, as_of: dt.date) -> pl.DataFrame:
    """Each open journey and the first step of the control loop it has not done."""
    return read_frame(conn, "loop_journeys", as_of, _JOURNEY_SCHEMA)


@dataclass(frozen=True)
class DayExceptions:
    """The exceptions of one day, each with its deal's account and ARR (when its deal
    landed that day) and its episode's opening."""

    as_of: dt.date
    rows: pl.DataFrame

    @classmethod
    def read(cls, conn: psycopg.Connection, as_of: dt.date) -> DayExceptions:
        """The day's exceptions with their episodes, joined to the deals landed that day."""
        exceptions = read_frame(conn, "day_exceptions", as_of, _EXCEPTION_SCHEMA)
        rows = exceptions.join(read_frame(conn, "day_deals", as_of, _DEAL_SCHEMA), on="opportunity_id", how="left")
        return cls(as_of, rows)

    def counts(self) -> tuple[int, int]:
        """How many exceptions, and how many of their findings had been reopened by the day."""
        return self.rows.height, int(self.rows["reopened"].sum())

    def fixes(self) -> list[tuple]:
        """The exceptions grouped into fixes by (rule, reason code), ordered so: how many,
        how many customers and onboardings, how many high value, the highest severity, how
        old the oldest open episode is (calendar days from the day it opened or reopened),
        its subject, the ARR of the affected deals (each deal once) and the owner roles."""
        rows = self.rows
        customer = pl.coalesce("onboarding_id", "opportunity_id", "subject_key")
        at_risk = (
            rows.select(*_FIX, "opportunity_id", "arr")
            .filter(pl.col("arr").is_not_null())
            .unique()
            .group_by(_FIX)
            .agg(arr_at_risk=pl.col("arr").sort_by("opportunity_id", "arr").sum())
        )
        fixes = (
            rows.group_by(_FIX)
            .agg(
                findings=pl.len(),
                customers=customer.n_unique(),
                high_value=pl.col("high_value").sum(),
                severity_rank=pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int64).max(),
                oldest_days=(pl.lit(self.as_of) - pl.col("opened_on")).dt.total_days().max(),
                oldest_subject=pl.col("subject_key").sort_by("opened_on", "subject_key", nulls_last=True).first(),
                owner_roles=pl.col("owner_roles").sort_by("subject_key").first(),
                onboardings=pl.col("onboarding_id").drop_nulls().n_unique(),
            )
            .join(at_risk, on=_FIX, how="left")
            .sort(_FIX)
        )
        return [
            (rule, reason, n, customers, high, severity, oldest or 0, subject, arr or 0.0, roles, onboardings)
            for rule, reason, n, customers, high, severity, oldest, subject, roles, onboardings, arr in fixes.rows()
        ]

    def accounts(self, per_fix: int) -> list[tuple]:
        """The accounts behind each fix, largest ARR first, at most `per_fix` per fix:
        (rule, reason code, account, onboarding, ARR) in order of fix and rank."""
        order = [*_FIX, "arr", "account_id", "onboarding_id"]
        behind = self.rows.select(order).filter(pl.col("account_id").is_not_null())
        # An account among a fix's first `per_fix` has fewer than `per_fix` larger ARRs
        # above it: only those candidates are sorted.
        candidates = behind.filter(pl.col("arr").rank("dense", descending=True).over(_FIX) <= per_fix).unique()
        ranked = candidates.sort(order, descending=[name == "arr" for name in order], nulls_last=True)
        top = ranked.group_by(_FIX, maintain_order=True).head(per_fix)
        return top.select(*_FIX, "account_id", "onboarding_id", "arr").rows()

    def control_loop(self, journeys: pl.DataFrame) -> list[tuple]:
        """(step, journeys at it, journeys stuck at it), for each step that has journeys."""
        touched = pl.concat(
            [
                self.rows.select(journey="onboarding_id", area="area"),
                self.rows.select(journey="opportunity_id", area="area"),
            ]
        ).drop_nulls()
        owners = pl.DataFrame(
            [(stage, area) for stage, areas in STEP_AREAS.items() for area in areas],
            schema={"stage": pl.String, "area": pl.String},
            orient="row",
        )
        stuck = touched.join(owners, on="area").select("journey", "stage").unique().with_columns(stuck=pl.lit(True))
        at_steps = (
            journeys.join(stuck, on=["journey", "stage"], how="left")
            .group_by("stage")
            .agg(customers=pl.len(), stuck=pl.col("stuck").fill_null(False).sum())
            .sort("stage")
        )
        return at_steps.rows()
