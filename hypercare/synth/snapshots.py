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


def billing_accounts_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    tax_status = (
        pl.when(~pl.col("tax_id_required"))
        .then(pl.lit("not_required"))
        .when(happened("tax_verified_at", end))
        .then(pl.lit("verified"))
        .otherwise(pl.col("tax_unverified_status"))
    )
    updated = pl.max_horizontal(
        pl.col("created_at"),
        pl.when(happened("po_at", end)).then(pl.col("po_at")),
        pl.when(happened("tax_verified_at", end)).then(pl.col("tax_verified_at")),
    )
    return (
        hidden.filter(happened("created_at", end))
        .with_columns(updated.alias("updated_at"))
        .select(
            "account_id",
            "billing_entity",
            "bill_to_contact",
            "address_line1",
            "city",
            "postal_code",
            "country",
            "address_validated",
            "tax_id_required",
            tax_status.alias("tax_id_status"),
            "po_required",
            shown_if("po_number", happened("po_at", end)),
            "invoice_schedule",
            "first_invoice_date",
            "payment_terms",
            "contract_start_date",
            "plan",
            "seats",
            instant("updated_at", end),
            "updated_by",
            "update_source",
            "reviewed_by",
            OFFSET,
        )
        .sort("account_id")
    )


def provisioning_items_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    done, failed, started = happened("done_at", end), happened("failed_at", end), happened("started_at", end)
    status = (
        pl.when(done)
        .then(pl.lit("done"))
        .when(failed)
        .then(pl.lit("failed"))
        .when(started)
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("pending"))
    )
    attempts = pl.when(done | failed).then(pl.col("attempts_final")).when(started).then(1).otherwise(0)
    return hidden.filter(happened("created_at", end)).select(
        "item_id",
        "onboarding_id",
        "item_type",
        "target_system",
        "expected_value",
        shown_if("expected_value", started).alias("configured_value"),
        status.alias("status"),
        "internal_owner",
        "customer_owner",
        attempts.cast(pl.Int64).alias("attempts"),
        shown_if("last_error", failed),
        "manual_override",
        shown_if("override_approved_by", pl.col("manual_override")),
        instant("created_at", end),
        instant("due_at", None),
        instant("done_at", end, "completed_at"),
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


def ai_suggestions_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    reviewed = happened("reviewed_at", end)
    decision = (
        pl.when(pl.col("routing") == "auto_applied")
        .then(pl.col("final_decision"))
        .when(reviewed)
        .then(pl.col("final_decision"))
        .otherwise(pl.lit("pending"))
    )
    return hidden.filter(happened("created_at", end)).select(
        "suggestion_id",
        "onboarding_id",
        "kind",
        "field",
        "suggested_value",
        "confidence",
        "evidence_count",
        "material_commitment",
        "model",
        "prompt_version",
        instant("created_at", end),
        "routing",
        decision.alias("review_decision"),
        shown_if("reviewer", reviewed),
        instant("reviewed_at", end),
        shown_if("corrected_value", reviewed),
        shown_if("rejection_reason", reviewed),
        "customer_facing",
        instant("sent_at", end),
        pl.lit(None, dtype=pl.String).alias("approved_by"),
        "sensitive_data",
        "access_scope",
        OFFSET,
    )


def writebacks_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    completed, retrying = happened("completed_at", end), happened("retry_at", end)
    status = (
        pl.when(completed)
        .then(pl.lit("succeeded"))
        .when(retrying)
        .then(pl.lit("retrying"))
        .otherwise(pl.lit("pending"))
    )
    attempts = pl.when(completed).then(pl.col("final_attempts")).when(retrying).then(2).otherwise(1)
    return hidden.filter(happened("requested_at", end)).select(
        "writeback_id",
        "onboarding_id",
        "target_system",
        "record_id",
        "fields_changed",
        status.alias("status"),
        attempts.cast(pl.Int64).alias("attempts"),
        shown_if("error", retrying & ~completed),
        "idempotency_key",
        "actor",
        instant("requested_at", end),
        instant("completed_at", end),
        OFFSET,
    )


def system_records_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    lag = pl.col("lag")

    def seen_at(name: str) -> pl.Expr:
        at = pl.col("p_" + name) + lag
        return pl.when(at < end).then(at)

    owner_seen = seen_at("owner_assigned_at").is_not_null()
    value = (
        pl.when(pl.col("field") == "status")
        .then(project_status(end, "p_", lag))
        .when(pl.col("field") == "onboarding_owner")
        .then(pl.when(owner_seen).then(pl.col("p_onboarding_owner")))
        .otherwise(pl.col("static_value"))
    )
    status_seen = pl.max_horizontal(
        pl.col("observed_at"), *(seen_at(c) for c in ("paused_at", "resumed_at", "cancelled_at", "completed_at"))
    )
    observed = (
        pl.when(pl.col("field") == "status")
        .then(status_seen)
        .when(pl.col("field") == "onboarding_owner")
        .then(pl.max_horizontal(pl.col("observed_at"), seen_at("owner_assigned_at")))
        .otherwise(pl.col("observed_at"))
    )
    return (
        hidden.filter(happened("observed_at", end))
        .with_columns(observed.alias("seen_at"))
        .select(
            "onboarding_id",
            "system",
            "field",
            value.alias("value"),
            instant("seen_at", end, "observed_at"),
            OFFSET,
        )
    )


STATE = {
    "deals": deals_state,
    "onboarding_projects": projects_state,
    "handoff_fields": handoff_fields_state,
    "billing_accounts": billing_accounts_state,
    "provisioning_items": provisioning_items_state,
    "customer_tasks": customer_tasks_state,
    "milestones": milestones_state,
    "ai_suggestions": ai_suggestions_state,
    "writebacks": writebacks_state,
    "system_records": system_records_state,
}


def hidden_table(world: World, entity: str) -> pl.DataFrame:
    if entity == "deals":
        return world.deals
    if entity == "onboarding_projects":
        return world.projects
    return world.tables[entity]


def snapshot(world: World, entity: str, end: int) -> pl.DataFrame:
    """The typed state of one entity at the as-of instant `end` (epoch seconds)."""
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
