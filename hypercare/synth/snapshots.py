"""Snapshot D: every entity as it stands at the end of day D, typed and as contract text.

A record appears once the instant it first exists is before the as-of end (an archived
customer task leaves the export again); every event column shows its instant only once it
has happened, and status columns are derived from the events so far. Planned instants
(`PLANNED_COLUMNS`) describe the future by nature and may lie after the as-of end. Typed
frames feed the oracle; text frames are what the files hold, written the way the contract
describes (ISO-8601 with `Z` or an offset, `true` / `false`, `;`-separated lists, empty
for null).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hypercare.calendar import DAY_SECONDS
from hypercare.contract import Contract, load_contract
from hypercare.synth.clock import NEVER
from hypercare.synth.model import World
from hypercare.synth.people import kickoff_state, last_response

ENTITIES = (
    "deals",
    "onboarding_projects",
    "handoff_fields",
    "billing_accounts",
    "provisioning_items",
    "customer_tasks",
    "milestones",
    "ai_suggestions",
    "writebacks",
    "system_records",
)
EXTRA_COLUMNS = {"deals": ("crm_region",)}
PLANNED_COLUMNS = frozenset({"kickoff_scheduled_for", "due_at", "target_at"})
OFFSET = "_offset"
REMINDER_EVERY = 2 * DAY_SECONDS


def happened(column: str, end: int) -> pl.Expr:
    return pl.col(column) < end


def instant(column: str, end: int | None, alias: str | None = None, also: pl.Expr | None = None) -> pl.Expr:
    """The hidden instant as a UTC timestamp, null until it happened (or if `also` fails).
    `end=None` shows a planned instant whatever the as-of."""
    shown = pl.col(column) < (end if end is not None else NEVER)
    if also is not None:
        shown = shown & also
    seconds = pl.when(shown).then(pl.col(column))
    return pl.from_epoch(seconds, time_unit="s").dt.replace_time_zone("UTC").alias(alias or column)


def shown_if(column: str, condition: pl.Expr) -> pl.Expr:
    return pl.when(condition).then(pl.col(column)).alias(column)


def deals_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    won, lost = happened("closed_won_at", end), happened("closed_lost_at", end)
    contract_state = (
        pl.when(happened("contract_cancelled_at", end))
        .then(pl.lit("cancelled"))
        .when(happened("countersigned_at", end))
        .then(pl.lit("countersigned"))
        .when(happened("signed_at", end))
        .then(pl.lit("signed"))
        .when(happened("contract_sent_at", end))
        .then(pl.lit("sent"))
        .otherwise(pl.lit("none"))
    )
    return (
        hidden.filter(pl.col("in_crm") & happened("visible_at", end))
        .select(
            "opportunity_id",
            "account_id",
            "account_name",
            "segment",
            "strategic",
            "arr",
            "sales_owner",
            "sales_team",
            pl.when(won)
            .then(pl.lit("closed_won"))
            .when(lost)
            .then(pl.lit("closed_lost"))
            .otherwise(pl.lit("open"))
            .alias("stage"),
            instant("closed_won_at", end),
            contract_state.alias("contract_state"),
            instant("signed_at", end, "contract_signed_at"),
            "payment_condition",
            instant("payment_received_at", end),
            "excluded_reason",
            "package",
            "seats",
            "modules",
            "contracted_services",
            "promised_go_live",
            "non_standard_terms",
            "crm_region",
            OFFSET,
        )
        .sort("opportunity_id")
    )


def project_status(end: int, prefix: str = "", lag: pl.Expr | int = 0) -> pl.Expr:
    """Status from the project's events; `lag` lets a downstream system see them late."""

    def seen(name: str) -> pl.Expr:
        return (pl.col(prefix + name) + lag) < end

    return (
        pl.when(seen("cancelled_at"))
        .then(pl.lit("cancelled"))
        .when(seen("completed_at"))
        .then(pl.lit("completed"))
        .when(seen("paused_at") & ~seen("resumed_at"))
        .then(pl.lit("paused"))
        .otherwise(pl.lit("active"))
    )


def projects_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    paused = project_status(end) == "paused"
    kickoff = kickoff_state(end)
    return hidden.filter(happened("created_at", end)).select(
        "project_id",
        "onboarding_id",
        shown_if("opportunity_id", happened("link_at", end)),
        "account_id",
        instant("created_at", end),
        pl.when(pl.col("manual")).then(pl.lit("manual")).otherwise(pl.lit("automation")).alias("created_by"),
        "template",
        project_status(end).alias("status"),
        shown_if("paused_reason", paused),
        instant("paused_at", end, also=paused),
        instant("handoff_submitted_at", end),
        instant("handoff_accepted_at", end),
        instant("handoff_rejected_at", end),
        shown_if("onboarding_owner", happened("owner_assigned_at", end)),
        instant("owner_assigned_at", end),
        shown_if("csm_owner", happened("csm_at", end)),
        shown_if("technical_owner", happened("technical_at", end)),
        shown_if("finance_owner", happened("finance_at", end)),
        instant("kickoff_task_created_at", end),
        instant("kickoff_scheduled_at", end),
        kickoff["kickoff_scheduled_for"].alias("kickoff_scheduled_for"),
        instant("kickoff_completed_at", end),
        kickoff["kickoff_no_shows"].alias("kickoff_no_shows"),
        kickoff["kickoff_reschedules"].alias("kickoff_reschedules"),
        "package",
        "scope",
        OFFSET,
    )


def handoff_fields_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    filled, corrected = happened("filled_at", end), happened("corrected_at", end)
    return hidden.filter(happened("appear_at", end)).select(
        "onboarding_id",
        "field",
        instant("filled_at", end),
        shown_if("filled_by", filled),
        instant("corrected_at", end),
        shown_if("corrected_by", corrected),
        OFFSET,
    )


def customer_tasks_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    open_task = ~happened("completed_at", end)
    overdue_seconds = pl.min_horizontal(pl.col("completed_at"), pl.lit(end)) - pl.col("due_at")
    reminders = pl.when(overdue_seconds > 0).then(overdue_seconds // REMINDER_EVERY + 1).otherwise(0)
    return hidden.filter(happened("created_at", end) & ~happened("archived_at", end)).select(
        "task_id",
        "onboarding_id",
        "task_type",
        "customer_owner",
        "internal_owner",
        instant("created_at", end),
        instant("due_at", None),
        instant("completed_at", end),
        reminders.cast(pl.Int64).alias("reminders_sent"),
        last_response(end).alias("last_customer_response_at"),
        "blocks_first_value",
        shown_if("stall_reason", open_task & happened("reason_at", end)).alias("reason_code"),
        OFFSET,
    )


def milestones_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    completed = happened("completed_at", end)
    return hidden.filter(happened("appear_at", end)).select(
        "onboarding_id",
        "milestone",
        instant("target_at", None),
        instant("completed_at", end),
        "owner",
        shown_if("evidence", completed & (pl.col("milestone") == "first_value") & happened("evidence_at", end)),
        shown_if("stall_reason", ~completed & happened("reason_at", end)).alias("reason_code"),
        OFFSET,
    )


STATE = {
    "deals": deals_state,
    "onboarding_projects": projects_state,
    "handoff_fields": handoff_fields_state,
    "customer_tasks": customer_tasks_state,
    "milestones": milestones_state,
}


def hidden_table(world: World, entity: str) -> pl.DataFrame:
    if entity == "deals":
        return world.deals
    if entity == "onboarding_projects":
        return world.projects
    return world.tables[entity]


def snapshot(world: World, entity: str, end: int) -> pl.DataFrame:
    """The typed state of one entity at the as-of instant `end` (epoch seconds); the
    system entities have their projections in `systems.py`."""
    return STATE[entity](hidden_table(world, entity), end)


# -- contract text ---------------------------------------------------------------------
_OFFSET_SUFFIX = {60: "+01:00", -300: "-05:00", 330: "+05:30"}


def format_instant(column: str) -> pl.Expr:
    """ISO-8601: `Z` for most rows, the row's local offset for a few (the same instant)."""
    local = (pl.col(column) + pl.duration(minutes=pl.col(OFFSET))).dt.strftime("%Y-%m-%dT%H:%M:%S")
    suffix = pl.col(OFFSET).replace_strict(_OFFSET_SUFFIX, default="Z", return_dtype=pl.String)
    return (local + suffix).alias(column)


def format_value(column: str, kind: str) -> pl.Expr:
    if kind == "ts":
        return format_instant(column)
    if kind == "date":
        return pl.col(column).dt.strftime("%Y-%m-%d").alias(column)
    if kind == "decimal" and column == "arr":
        return pl.col(column).round(0).cast(pl.Int64).cast(pl.String).alias(column)
    return pl.col(column).cast(pl.String).alias(column)


def to_text(typed: pl.DataFrame, entity: str, contract: Contract | None = None) -> pl.DataFrame:
    """Every cell as the contract's text form (strings, null for empty)."""
    spec = (contract or load_contract())[entity]
    columns = [format_value(c.name, c.type) for c in spec.columns]
    columns += [pl.col(c).cast(pl.String) for c in EXTRA_COLUMNS.get(entity, ())]
    return typed.select(columns)


def write_text(frame: pl.DataFrame, folder: Path, entity: str, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path = folder / f"{entity}.csv"
        frame.write_csv(path)
    elif fmt == "parquet":
        path = folder / f"{entity}.parquet"
        frame.write_parquet(path, statistics=False)
    else:
        raise ValueError(f"unknown format {fmt!r}: use csv or parquet")
    return path
