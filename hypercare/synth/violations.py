"""Contract-breaking rows: the bad cells real exports carry on a bad day.

Every third day one or two entities get a small share of broken rows (0.2-0.6%, at least
one row), and one day a little past mid-month one entity gets a burst above the
`contract.violation` high share. Each day's breakage is drawn from its own stream (seed,
day), so writing only the last day produces the same files as writing the whole month.
Every breakage is unambiguous under the contract (a value outside an enum, a timestamp
without offset, a negative count, `maybe` for a boolean, a null required cell, a bad
country code, a confidence above 1, completion before creation, a duplicated key), and
the caller learns exactly which rows the monitor will quarantine: every broken row and
every copy of a duplicated key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from hypercare.synth.model import stream

TS_FORMAT = "%Y-%m-%dT%H:%M:%S%#z"
BURST_ENTITIES = ("customer_tasks", "handoff_fields", "provisioning_items", "writebacks")
SMALL_SHARE = (0.002, 0.006)
# Deals and projects break a little more often: their quarantined rows move trigger findings.
ENTITY_WEIGHT = {"deals": 2.0, "onboarding_projects": 2.0}
BURST_SHARE = (0.012, 0.02)


@dataclass(frozen=True)
class Breakage:
    """One way to break a row: `value` replaces `column` (an expression over the text row);
    `needs` restricts it to rows where the break is meaningful (a cell to strip, say)."""

    kind: str
    column: str | None
    value: pl.Expr | None = None
    needs: pl.Expr | None = None


def _literal(text: str | None) -> pl.Expr:
    return pl.lit(text, dtype=pl.String)


def _strip_offset(column: str) -> Breakage:
    naive = pl.col(column).str.replace(r"(Z|[+-]\d{2}:\d{2})$", "")
    return Breakage("timestamp_without_offset", column, naive, pl.col(column).is_not_null())


def _before(column: str, reference: str) -> Breakage:
    earlier = pl.col(reference).str.to_datetime(TS_FORMAT, time_zone="UTC") - pl.duration(hours=3)
    return Breakage("completed_before_created", column, earlier.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _set(kind: str, column: str, text: str | None, needs: pl.Expr | None = None) -> Breakage:
    return Breakage(kind, column, _literal(text), needs)


DUPLICATE = Breakage("duplicate_key", None)

BREAKAGES: dict[str, tuple[Breakage, ...]] = {
    "deals": (
        _set("bad_enum", "stage", "won"),
        _set("non_boolean", "strategic", "maybe"),
        _set("negative", "seats", "-5", pl.col("seats").is_not_null()),
        _set("null_required", "sales_owner", None),
        _set("null_required", "closed_won_at", None, pl.col("stage") == "closed_won"),
        _strip_offset("closed_won_at"),
        DUPLICATE,
    ),
    "onboarding_projects": (
        _strip_offset("created_at"),
        _set("bad_enum", "created_by", "bot"),
        _before("kickoff_completed_at", "created_at"),
        _set("negative", "kickoff_reschedules", "-1", pl.col("kickoff_reschedules").is_not_null()),
        _set("null_required", "account_id", None),
        DUPLICATE,
    ),
    "handoff_fields": (
        _set("bad_enum", "filled_by", "intern", pl.col("filled_by").is_not_null()),
        _strip_offset("filled_at"),
        DUPLICATE,
    ),
    "billing_accounts": (
        _set("non_boolean", "tax_id_required", "maybe"),
        _set("bad_enum", "tax_id_status", "unknown"),
        _set("negative", "seats", "-10", pl.col("seats").is_not_null()),
        _set("null_required", "updated_at", None),
        _set("bad_pattern", "country", "Germany"),
        DUPLICATE,
    ),
    "provisioning_items": (
        _set("negative", "attempts", "-1"),
        _before("completed_at", "created_at"),
        _set("bad_enum", "status", "stalled"),
        DUPLICATE,
    ),
    "customer_tasks": (
        _set("non_boolean", "blocks_first_value", "maybe"),
        _before("completed_at", "created_at"),
        _set("negative", "reminders_sent", "-2"),
        _set("bad_enum", "task_type", "phone_call"),
    ),
    "milestones": (
        _set("bad_enum", "reason_code", "waiting_on_weather"),
        _strip_offset("target_at"),
        DUPLICATE,
    ),
    "ai_suggestions": (
        _set("out_of_range", "confidence", "1.7"),
        _set("non_boolean", "customer_facing", "maybe"),
        _before("reviewed_at", "created_at"),
        _set("null_required", "model", None),
    ),
    "writebacks": (
        _set("negative", "attempts", "-1"),
        _before("completed_at", "requested_at"),
        _set("bad_enum", "status", "done"),
        _set("null_required", "actor", None),
    ),
    "system_records": (
        _set("bad_enum", "system", "erp"),
        _strip_offset("observed_at"),
        _set("null_required", "observed_at", None),
        DUPLICATE,
    ),
}


@dataclass(frozen=True)
class DayPlan:
    """Which entities break on one day, and what share of their rows."""

    shares: dict[str, float]
    burst: tuple[str, float] | None


@dataclass(frozen=True)
class Broken:
    """A text file after breakage, and what the monitor will quarantine from it."""

    text: pl.DataFrame
    dropped: np.ndarray
    quarantined: int
    kinds: dict[str, int]


def plan_day(seed: int, start: dt.date, days: int, day: dt.date) -> DayPlan:
    """Breakage for `day`: every third day a small share of one or two entities' rows (at
    least one row), plus a burst above the high share in one entity a little past
    mid-month."""
    month = stream(seed, "violations", "month")
    phase, burst_entity = int(month.integers(0, 3)), str(month.choice(BURST_ENTITIES))
    index = (day - start).days
    rng = stream(seed, "violations", day.isoformat())
    shares: dict[str, float] = {}
    if index % 3 == phase:
        weights = np.array([ENTITY_WEIGHT.get(entity, 1.0) for entity in BREAKAGES])
        how_many = int(rng.integers(1, 3))
        chosen = rng.choice(list(BREAKAGES), how_many, replace=False, p=weights / weights.sum())
        for entity in chosen:
            shares[str(entity)] = float(rng.uniform(*SMALL_SHARE))
    burst_day = round(0.55 * (days - 1))
    burst = (burst_entity, float(rng.uniform(*BURST_SHARE))) if index == burst_day and days > 1 else None
    return DayPlan(shares, burst)


def break_rows(
    text: pl.DataFrame, entity: str, count: int, rng: np.random.Generator, used: np.ndarray
) -> tuple[pl.DataFrame, np.ndarray, str]:
    """Break up to `count` unused rows with one breakage kind. Returns the frame, the rows
    it broke and the kind; a duplicated key leaves the frame alone (the caller appends the
    copies once every other breakage is done)."""
    options = BREAKAGES[entity]
    breakage = options[int(rng.integers(0, len(options)))]
    candidates = (
        np.ones(len(text), dtype=bool)
        if breakage.needs is None
        else (text.select(breakage.needs.fill_null(False)).to_series().to_numpy())
    )
    pool = np.flatnonzero(candidates & ~used)
    rows = np.sort(rng.choice(pool, min(count, len(pool)), replace=False))
    used[rows] = True
    if breakage.value is None:
        return text, rows, breakage.kind
    chosen = pl.int_range(pl.len()).is_in(pl.Series(rows, dtype=pl.Int64).implode())
    broken = text.with_columns(
        pl.when(chosen).then(breakage.value).otherwise(pl.col(breakage.column)).alias(breakage.column)
    )
    return broken, rows, breakage.kind


def apply_day(seed: int, plan: DayPlan, day: dt.date, texts: dict[str, pl.DataFrame]) -> dict[str, Broken]:
    """Break the planned rows of each entity's text frame for `day`."""
    out: dict[str, Broken] = {}
    for entity, text in texts.items():
        rng = stream(seed, "violations", day.isoformat(), entity)
        used = np.zeros(len(text), dtype=bool)
        requests = [max(1, int(plan.shares[entity] * len(text)))] if entity in plan.shares else []
        if plan.burst and plan.burst[0] == entity:
            above_high_share = int(np.floor(plan.burst[1] * len(text))) + 1
            requests += [above_high_share // 2, above_high_share - above_high_share // 2]
        kinds: dict[str, int] = {}
        copies: list[np.ndarray] = []
        for count in requests:
            if len(text) == 0 or count <= 0:
                continue
            text, rows, kind = break_rows(text, entity, count, rng, used)
            if len(rows):
                kinds[kind] = kinds.get(kind, 0) + len(rows)
            if kind == DUPLICATE.kind:
                copies.append(rows)
        copied = np.concatenate(copies) if copies else np.array([], dtype=np.int64)
        out[entity] = Broken(
            text=pl.concat([text, text[copied]]) if len(copied) else text,
            dropped=used,
            quarantined=int(used.sum()) + len(copied),
            kinds=kinds,
        )
    return out
