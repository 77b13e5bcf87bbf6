"""Ground truth for the billing, provisioning, AI, writeback, audit and backlog rules.

Each function reads the snapshot as the monitor sees it (quarantined rows absent) and the
thresholds of the rule set, and implements the rule text of `include/rules.yaml`
directly. Shared readings: the considered project of an onboarding is its non-cancelled
project created first (then the smallest project id); an open project is active or
paused; a project's deal is the present deal of its opportunity_id. Columns are cast on
read, so the functions work both on the generator's typed frames and on frames parsed
back from the written files (where numbers and dates are still text).

Two rules look back over the run: `audit.trace_gap` needs the trace events of every
earlier snapshot and `backlog.aged_high_value` the earlier days' findings. Both read a
`Trail`, the generator's stand-in for the monitor's audit store, and the backlog reads
the same day's rows of every rule registered before it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from hypercare.calendar import DAY_SECONDS
from hypercare.ruleset import RuleSet

if TYPE_CHECKING:
    from hypercare.synth.truth import Oracle, SnapshotView

OPEN = ("active", "paused")
SIGNED = ("signed", "countersigned")
ALERTING = ("warn", "high", "critical")
DEAL_COLUMNS = (
    "opportunity_id",
    "account_id",
    "account_name",
    "segment",
    "strategic",
    "arr",
    "sales_owner",
    "sales_team",
    "stage",
    "closed_won_at",
    "contract_state",
    "contract_signed_at",
    "payment_condition",
    "payment_received_at",
    "excluded_reason",
    "package",
    "seats",
    "modules",
    "contracted_services",
    "promised_go_live",
    "non_standard_terms",
)
# Rules whose finding on a day depends on the earlier evaluated days.
LOOKBACK_RULES = ("audit.trace_gap", "backlog.aged_high_value")
# Trigger findings keyed by the deal itself rather than by a project or onboarding.
DEAL_KEYED = (
    "trigger.missed_eligible",
    "trigger.duplicate_project",
    "trigger.stuck_before_eligible",
    "trigger.signed_not_closed",
)
EMPTY_FINDINGS = {"subject_key": pl.String, "severity": pl.String}


# -- shared readings -------------------------------------------------------------------------
def per_snapshot(func: Callable[..., pl.DataFrame]) -> Callable[..., pl.DataFrame]:
    """Reuse a reading across the rules of one snapshot: truth_for hands every rule the same
    frames, so the last result is kept and returned while the frames and arguments are the
    same objects (they are held with it, so their identity cannot be reused meanwhile)."""
    last: dict[str, tuple] = {}

    @functools.wraps(func)
    def cached(view: SnapshotView, *args: object) -> pl.DataFrame:
        hit = last.get("entry")
        if (
            hit is not None
            and hit[0] is view.frames
            and hit[1] == view.day
            and len(hit[2]) == len(args)
            and all(a is b for a, b in zip(hit[2], args, strict=True))
        ):
            return hit[3]
        result = func(view, *args)
        last["entry"] = (view.frames, view.day, args, result)
        return result

    return cached


def _emit(frame: pl.DataFrame, subject: str, severity: str | pl.Expr) -> pl.DataFrame:
    severity_expr = pl.lit(severity) if isinstance(severity, str) else severity
    return frame.select(pl.col(subject).cast(pl.String).alias("subject_key"), severity_expr.alias("severity"))


def _as_of_end(view: SnapshotView, ruleset: RuleSet) -> dt.datetime:
    return ruleset.calendar.as_of_end(view.day).astimezone(dt.UTC)


def _num(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def _date(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.to_date("%Y-%m-%d", strict=False)


def _text(column: str) -> pl.Expr:
    """Trimmed, lower-cased text; null when the cell is null."""
    return pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()


def _missing(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column).cast(pl.String).str.strip_chars() == "")


@per_snapshot
def considered_projects(view: SnapshotView) -> pl.DataFrame:
    """One non-cancelled project per onboarding: created first, then the smallest project id."""
    return (
        view["onboarding_projects"]
        .filter(pl.col("status") != "cancelled")
        .sort("created_at", "project_id", nulls_last=True)
        .unique("onboarding_id", keep="first", maintain_order=True)
    )


def _high_value(ruleset: RuleSet) -> pl.Expr:
    return pl.col("strategic").fill_null(False) | (_num("arr") >= ruleset.high_value_arr).fill_null(False)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=EMPTY_FINDINGS)


# -- billing readiness --------------------------------------------------------------------------
BILLING_FLAGS = (
    "missing_bill_to",
    "invalid_address",
    "tax_id_missing",
    "po_missing",
    "terms_conflict",
    "unreviewed_change",
)


@per_snapshot
def billing_readiness(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """Billing rows of accounts with an open project, tied to the account's earliest open
    onboarding, with one boolean column per billing rule plus the urgency columns."""
    earliest = (
        considered_projects(view)
        .filter(pl.col("status").is_in(OPEN))
        .sort("created_at", "project_id", nulls_last=True)
        .unique("account_id", keep="first", maintain_order=True)
        .select("account_id", "onboarding_id", "opportunity_id", "kickoff_scheduled_for")
    )
    deals = view["deals"].select("opportunity_id", deal_package="package", deal_seats="seats")
    launch = (
        view["milestones"]
        .filter(pl.col("milestone") == "launch")
        .select("onboarding_id", launch_target="target_at", launch_done="completed_at")
    )
    rows = (
        view["billing_accounts"]
        .join(earliest, on="account_id", how="inner")
        .join(deals, on="opportunity_id", how="left")
        .join(launch, on="onboarding_id", how="left")
    )
    sources = ruleset.rule("billing.unreviewed_change").param("unreviewed_sources")
    bill_to_days = ruleset.rule("billing.missing_bill_to").param("invoice_within_days")
    block_days = ruleset.rule("billing.blocks_invoice_or_launch").param("within_days")
    invoice_in = (_date("first_invoice_date") - pl.lit(view.day)).dt.total_days()
    kickoff_day = ruleset.calendar.local_date(pl.col("kickoff_scheduled_for"))
    plan, package = _text("plan"), _text("deal_package")
    seats, deal_seats = _num("seats"), _num("deal_seats")
    launch_due = pl.lit(_as_of_end(view, ruleset) + dt.timedelta(days=block_days))
    flags = rows.with_columns(
        missing_bill_to=_missing("bill_to_contact"),
        invalid_address=pl.any_horizontal(*(_missing(c) for c in ("address_line1", "city", "postal_code", "country")))
        | (pl.col("address_validated") == False).fill_null(False),  # noqa: E712
        tax_id_missing=pl.col("tax_id_required").fill_null(False)
        & pl.col("tax_id_status").is_in(["missing", "invalid"]).fill_null(False),
        po_missing=pl.col("po_required").fill_null(False) & _missing("po_number"),
        terms_conflict=((plan != package).fill_null(False) | (seats != deal_seats).fill_null(False)),
        unreviewed_change=pl.col("update_source").is_in(sources).fill_null(False) & _missing("reviewed_by"),
        bill_to_urgent=(invoice_in <= bill_to_days).fill_null(False)
        | (_date("first_invoice_date") < kickoff_day).fill_null(False),
        invoice_soon=(invoice_in <= block_days).fill_null(False),
        launch_soon=(pl.col("launch_done").is_null() & (pl.col("launch_target") <= launch_due)).fill_null(False),
    )
    return flags.with_columns(
        blocks_invoice_or_launch=pl.any_horizontal(*BILLING_FLAGS) & (pl.col("invoice_soon") | pl.col("launch_soon"))
    )


def _billing_rule(name: str) -> Oracle:
    def oracle(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
        rule = ruleset.rule(f"billing.{name}")
        flagged = billing_readiness(view, ruleset).filter(pl.col(name))
        severity: str | pl.Expr = rule.severity
        if name == "missing_bill_to":
            urgent = rule.extra.get("severity_when_urgent", rule.severity)
            severity = pl.when(pl.col("bill_to_urgent")).then(pl.lit(urgent)).otherwise(pl.lit(rule.severity))
        return _emit(flagged, "account_id", severity)

    oracle.__name__ = name
    oracle.__doc__ = f"billing.{name} over the accounts with an open project."
    return oracle


# -- provisioning -------------------------------------------------------------------------------
@per_snapshot
def _items(view: SnapshotView) -> pl.DataFrame:
    """Items of onboardings whose considered project is open or absent, with its kickoff."""
    projects = considered_projects(view).select("onboarding_id", "status", kickoff="kickoff_completed_at")
    items = view["provisioning_items"].join(projects, on="onboarding_id", how="left", suffix="_project")
    return items.filter(pl.col("status_project").is_null() | pl.col("status_project").is_in(OPEN))


def _not_done() -> pl.Expr:
    return (pl.col("status") != "done").fill_null(True)


def entitlement_mismatch(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.entitlement_mismatch")
    items = _items(view).filter(
        (pl.col("item_type") == "entitlement")
        & pl.col("expected_value").is_not_null()
        & pl.col("configured_value").is_not_null()
        & (pl.col("expected_value") != pl.col("configured_value"))
    )
    return _emit(items, "item_id", rule.severity)


def workspace_late(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.workspace_late")
    items = _items(view).filter(
        (pl.col("item_type") == "workspace")
        & pl.col("kickoff").is_not_null()
        & (_not_done() | (pl.col("completed_at") > pl.col("kickoff")).fill_null(False))
    )
    return _emit(items, "item_id", rule.severity)


def identity_late(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.identity_late")
    limit = rule.param("business_days")
    calendar = ruleset.calendar
    waited = calendar.business_days_elapsed(pl.col("kickoff"), view.day) >= limit
    took = (
        calendar.business_seconds(pl.col("completed_at")) - calendar.business_seconds(pl.col("kickoff"))
    ) / DAY_SECONDS >= limit
    items = _items(view).filter(
        (pl.col("item_type") == "identity")
        & pl.col("kickoff").is_not_null()
        & ((_not_done() & waited) | (~_not_done() & took.fill_null(False)))
    )
    return _emit(items, "item_id", rule.severity)


def integration_unowned(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.integration_unowned")
    items = _items(view).filter(
        (pl.col("item_type") == "integration") & _not_done() & (_missing("internal_owner") | _missing("customer_owner"))
    )
    return _emit(items, "item_id", rule.severity)


def provisioning_failed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.failed")
    attempts = pl.col("attempts").cast(pl.Int64, strict=False)
    items = _items(view).filter(
        (pl.col("status") == "failed") | ((attempts >= rule.param("max_attempts")).fill_null(False) & _not_done())
    )
    return _emit(items, "item_id", rule.severity)


def override_unapproved(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.override_unapproved")
    items = _items(view).filter(pl.col("manual_override").fill_null(False) & _missing("override_approved_by"))
    return _emit(items, "item_id", rule.severity)


def provisioning_overdue(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.overdue")
    items = _items(view).filter(_not_done() & (pl.col("due_at") < pl.lit(_as_of_end(view, ruleset))).fill_null(False))
    return _emit(items, "item_id", rule.severity)


def support_handoff_missing(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("provisioning.support_handoff_missing")
    launched = view["milestones"].filter((pl.col("milestone") == "launch") & pl.col("completed_at").is_not_null())[
        "onboarding_id"
    ]
    handed = view["provisioning_items"].filter(
        (pl.col("item_type") == "support_handoff") & (pl.col("status") == "done")
    )["onboarding_id"]
    onboardings = considered_projects(view).filter(
        pl.col("onboarding_id").is_in(launched.implode()) & ~pl.col("onboarding_id").is_in(handed.implode())
    )
    return _emit(onboardings, "onboarding_id", rule.severity)


# -- AI behaviour -------------------------------------------------------------------------------
def low_confidence_routed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.low_confidence_routed")
    threshold = pl.col("kind").replace_strict(
        dict(rule.param("threshold_by_kind")), default=rule.param("default_threshold"), return_dtype=pl.Float64
    )
    rows = view["ai_suggestions"].filter((_num("confidence") < threshold) & (pl.col("routing") == "auto_applied"))
    return _emit(rows, "suggestion_id", rule.severity)


def _deal_values(view: SnapshotView, targets: pl.Series) -> pl.DataFrame:
    """The present deals' values of the targeted columns as text, one row per (deal, column)."""
    wanted = set(targets.drop_nulls().to_list())
    columns = [c for c in DEAL_COLUMNS if c in wanted and c in view["deals"].columns and c != "opportunity_id"]
    return (
        view["deals"]
        .select("opportunity_id", *(pl.col(c).cast(pl.String).alias(c) for c in columns))
        .unpivot(index="opportunity_id", variable_name="target", value_name="deal_value")
    )


def conflicts_with_source(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.conflicts_with_source")
    defaults = dict(rule.param("default_field_by_kind"))
    onboarding_deal = considered_projects(view).select("onboarding_id", "opportunity_id")
    target = pl.coalesce(pl.col("field"), pl.col("kind").replace_strict(defaults, default=None, return_dtype=pl.String))
    rows = (
        view["ai_suggestions"]
        .filter(pl.col("kind").is_in(rule.param("kinds")) & (pl.col("review_decision") != "rejected").fill_null(True))
        .with_columns(target.alias("target"))
        .join(onboarding_deal, on="onboarding_id", how="inner")
    )
    rows = rows.join(_deal_values(view, rows["target"]), on=["opportunity_id", "target"], how="inner")
    said, sold = _text("suggested_value"), _text("deal_value")
    said_number, sold_number = said.cast(pl.Float64, strict=False), sold.cast(pl.Float64, strict=False)
    differs = (
        pl.when(said_number.is_not_null() & sold_number.is_not_null())
        .then(said_number != sold_number)
        .otherwise(said != sold)
    )
    rows = rows.filter(said.is_not_null() & sold.is_not_null() & differs)
    return _emit(rows, "suggestion_id", rule.severity)


def missing_evidence(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.missing_evidence")
    rows = view["ai_suggestions"].filter(
        pl.col("material_commitment").fill_null(False)
        & (pl.col("evidence_count").cast(pl.Int64, strict=False) == 0).fill_null(False)
        & ~pl.col("review_decision").is_in(["accepted", "corrected"]).fill_null(False)
    )
    return _emit(rows, "suggestion_id", rule.severity)


def customer_email_unreviewed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.customer_email_unreviewed")
    rows = view["ai_suggestions"].filter(
        pl.col("customer_facing").fill_null(False) & pl.col("sent_at").is_not_null() & _missing("reviewer")
    )
    return _emit(rows, "suggestion_id", rule.severity)


def sensitive_change_unapproved(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.sensitive_change_unapproved")
    applied = (pl.col("routing") == "auto_applied") | pl.col("review_decision").is_in(["accepted", "corrected"])
    rows = view["ai_suggestions"].filter(
        pl.col("kind").is_in(rule.param("kinds")) & applied.fill_null(False) & _missing("approved_by")
    )
    return _emit(rows, "suggestion_id", rule.severity)


def sensitive_access_unlogged(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("ai.sensitive_access_unlogged")
    rows = view["ai_suggestions"].filter(pl.col("sensitive_data").fill_null(False) & _missing("access_scope"))
    return _emit(rows, "suggestion_id", rule.severity)


# -- writebacks and drift -----------------------------------------------------------------------
def writeback_failed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("writeback.failed")
    stuck_since = _as_of_end(view, ruleset) - dt.timedelta(hours=rule.param("stuck_hours"))
    rows = view["writebacks"].filter(
        (pl.col("status") == "failed")
        | (pl.col("status").is_in(["pending", "retrying"]) & (pl.col("requested_at") <= pl.lit(stuck_since)))
    )
    return _emit(rows, "writeback_id", rule.severity)


def retry_storm(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("writeback.retry_storm")
    attempts = pl.col("attempts").cast(pl.Int64, strict=False)
    rows = view["writebacks"].filter((attempts >= rule.param("min_attempts")).fill_null(False))
    return _emit(rows, "writeback_id", rule.severity)


def no_idempotency_key(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("writeback.no_idempotency_key")
    return _emit(view["writebacks"].filter(_missing("idempotency_key")), "writeback_id", rule.severity)


@per_snapshot
def _disagreeing(view: SnapshotView) -> pl.DataFrame:
    """(onboarding_id, field) pairs whose systems hold more than one distinct value: nulls
    ignored, text trimmed and lower-cased, scope as a set of ";"-separated items. Only
    pairs whose raw values differ are normalised, which is nearly none of them."""
    records = view["system_records"].filter(pl.col("value").is_not_null())
    raw = (
        records.group_by("onboarding_id", "field")
        .agg(pl.col("value").n_unique().alias("raw"))
        .filter(pl.col("raw") > 1)
        .drop("raw")
    )
    candidates = records.join(raw, on=["onboarding_id", "field"], how="semi")
    plain = (
        candidates.filter(pl.col("field") != "scope")
        .group_by("onboarding_id", "field")
        .agg(_text("value").n_unique().alias("values"))
        .filter(pl.col("values") > 1)
    )
    scope = candidates.filter(pl.col("field") == "scope").with_columns(
        _text("value")
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
        .list.unique()
        .list.sort()
        .list.join(";")
        .alias("normal")
    )
    sets = (
        scope.group_by("onboarding_id", "field")
        .agg(pl.col("normal").n_unique().alias("values"))
        .filter(pl.col("values") > 1)
    )
    return pl.concat([plain, sets]).select("onboarding_id", "field")


def _drift(rule_id: str) -> Oracle:
    def oracle(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
        rule = ruleset.rule(rule_id)
        drifting = (
            _disagreeing(view)
            .filter(pl.col("field").is_in(rule.param("fields")))
            .unique("onboarding_id")
            .sort("onboarding_id")
        )
        return _emit(drifting, "onboarding_id", rule.severity)

    oracle.__name__ = rule_id.split(".")[1]
    oracle.__doc__ = f"{rule_id}: systems disagree on one of the rule's fields (nulls ignored)."
    return oracle


# -- audit trace --------------------------------------------------------------------------------
TRACE_SCHEMA = {"onboarding_id": pl.String, "event": pl.String}


def trace_events(view: SnapshotView) -> pl.DataFrame:
    """The trace events one snapshot shows: trigger_received for the first project (by
    created_at, any status) of an eligible deal's opportunity, handoff_validated once the
    handoff is accepted, owner_assigned once an owner is assigned."""
    deals, projects = view["deals"], view["onboarding_projects"]
    prepayment = pl.col("payment_condition") == "prepayment"
    eligible = deals.filter(
        (pl.col("stage") == "closed_won")
        & pl.col("excluded_reason").is_null()
        & pl.col("contract_state").is_in(SIGNED)
        & (~prepayment | pl.col("payment_received_at").is_not_null())
    )["opportunity_id"]
    first = (
        projects.filter(pl.col("opportunity_id").is_not_null())
        .sort("created_at", "project_id", nulls_last=True)
        .unique("opportunity_id", keep="first", maintain_order=True)
    )
    parts = [
        first.filter(pl.col("opportunity_id").is_in(eligible.implode())).select(
            "onboarding_id", event=pl.lit("trigger_received")
        ),
        projects.filter(pl.col("handoff_accepted_at").is_not_null()).select(
            "onboarding_id", event=pl.lit("handoff_validated")
        ),
        projects.filter(pl.col("owner_assigned_at").is_not_null()).select(
            "onboarding_id", event=pl.lit("owner_assigned")
        ),
    ]
    return pl.concat(parts).unique()


@dataclass
class Trail:
    """What the monitor's audit store remembers from the earlier evaluated days: the trace
    events seen so far, and the day each finding of the previous day opened its episode.
    The generator feeds it every written day in order; a gap between days restarts the
    episodes, as a monitor that skipped a day would."""

    day: dt.date | None = None
    episodes: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"rule_id": pl.String, "subject_key": pl.String, "opened": pl.Date})
    )
    traced: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRACE_SCHEMA))

    def episodes_on(self, day: dt.date, rows: pl.DataFrame) -> pl.DataFrame:
        """Every finding of `day` with the first day of its run of consecutive days."""
        previous = self.episodes if self.day == day - dt.timedelta(days=1) else self.episodes.clear()
        return (
            rows.filter(~pl.col("rule_id").str.starts_with("backlog."))
            .select("rule_id", "subject_key")
            .unique()
            .join(previous, on=["rule_id", "subject_key"], how="left")
            .with_columns(pl.col("opened").fill_null(day))
        )

    def remember(self, view: SnapshotView, truth: pl.DataFrame) -> None:
        self.episodes = self.episodes_on(view.day, truth)
        self.traced = seen_events(view, self)
        self.day = view.day


@per_snapshot
def seen_events(view: SnapshotView, trail: Trail | None) -> pl.DataFrame:
    """The trace events of this snapshot and of every earlier one the trail remembers."""
    today = trace_events(view)
    return today if trail is None else pl.concat([trail.traced, today]).unique()


def trace_gap(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("audit.trace_gap")
    required = list(rule.param("required_events"))
    complete = (
        seen_events(view, view.trail)
        .filter(pl.col("event").is_in(required))
        .group_by("onboarding_id")
        .agg(pl.col("event").n_unique().alias("events"))
        .filter(pl.col("events") == len(required))
    )
    gaps = considered_projects(view).filter(
        pl.col("kickoff_completed_at").is_not_null()
        & ~pl.col("onboarding_id").is_in(complete["onboarding_id"].implode())
    )
    return _emit(gaps, "onboarding_id", rule.severity)


# -- backlog ------------------------------------------------------------------------------------
def _onboarding_deals(view: SnapshotView) -> pl.DataFrame:
    return considered_projects(view).select("onboarding_id", "opportunity_id")


def _record_subjects(view: SnapshotView, subjects: pl.Series) -> pl.DataFrame:
    """Which onboarding each of `subjects` (project, onboarding, task, milestone, item,
    suggestion or writeback keys) belongs to, and the deal whose value decides high value."""
    wanted = subjects.unique().implode()
    by_onboarding = _onboarding_deals(view)
    keyed = [
        view[entity]
        .select(pl.col(key).alias("subject_key"), "onboarding_id")
        .filter(pl.col("subject_key").is_in(wanted))
        for entity, key in (
            ("customer_tasks", "task_id"),
            ("provisioning_items", "item_id"),
            ("ai_suggestions", "suggestion_id"),
            ("writebacks", "writeback_id"),
        )
        if entity in view.frames
    ]
    if "milestones" in view.frames:
        keyed.append(
            view["milestones"]
            .select(pl.concat_str("onboarding_id", pl.lit(":"), "milestone").alias("subject_key"), "onboarding_id")
            .filter(pl.col("subject_key").is_in(wanted))
        )
    keyed.append(
        by_onboarding.select(pl.col("onboarding_id").alias("subject_key"), "onboarding_id").filter(
            pl.col("subject_key").is_in(wanted)
        )
    )
    records = pl.concat(keyed).join(by_onboarding, on="onboarding_id", how="left")
    projects = (
        view["onboarding_projects"]
        .select(pl.col("project_id").alias("subject_key"), "onboarding_id", "opportunity_id")
        .filter(pl.col("subject_key").is_in(wanted))
    )
    return pl.concat([projects, records], how="vertical_relaxed").unique(
        "subject_key", keep="first", maintain_order=True
    )


def _account_subjects(view: SnapshotView) -> pl.DataFrame:
    return (
        considered_projects(view)
        .filter(pl.col("status").is_in(OPEN))
        .sort("created_at", "project_id", nulls_last=True)
        .unique("account_id", keep="first", maintain_order=True)
        .select(pl.col("account_id").alias("subject_key"), "onboarding_id", "opportunity_id")
    )


def aged_high_value(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("backlog.aged_high_value")
    earlier = [part for part in view.earlier if len(part)]
    if not earlier:
        return _empty()
    rows = pl.concat(earlier).select("rule_id", "subject_key", "severity")
    trail = view.trail or Trail()
    opened = trail.episodes_on(view.day, rows)
    findings = rows.filter(
        pl.col("severity").is_in(ALERTING)
        & ~pl.col("rule_id").str.starts_with("backlog.")
        & (pl.col("rule_id") != "contract.violation")
    ).join(opened, on=["rule_id", "subject_key"], how="left")
    calendar = ruleset.calendar
    end = calendar.business_seconds_at_day_end(view.day)
    age = {
        day: (end - calendar.business_seconds_at_day_end(day)) / DAY_SECONDS
        for day in findings["opened"].unique().to_list()
    }
    aged = findings.filter(
        pl.col("opened").replace_strict(age, default=None, return_dtype=pl.Float64) >= rule.param("business_days")
    )
    by_deal = aged.filter(pl.col("rule_id").is_in(DEAL_KEYED)).select(
        "subject_key", backlog_key="subject_key", opportunity_id="subject_key"
    )
    by_account = (
        aged.filter(pl.col("rule_id").str.starts_with("billing."))
        .join(_account_subjects(view), on="subject_key", how="inner")
        .select("subject_key", backlog_key="onboarding_id", opportunity_id="opportunity_id")
    )
    other = (
        aged.filter(~pl.col("rule_id").is_in(DEAL_KEYED) & ~pl.col("rule_id").str.starts_with("billing."))
        .join(_record_subjects(view, aged["subject_key"]), on="subject_key", how="inner")
        .select("subject_key", backlog_key="onboarding_id", opportunity_id="opportunity_id")
    )
    deals = view["deals"].select("opportunity_id", _high_value(ruleset).alias("high_value"))
    flagged = (
        pl.concat([by_deal, by_account, other])
        .join(deals, on="opportunity_id", how="inner")
        .filter(pl.col("high_value") & pl.col("backlog_key").is_not_null())
        .unique("backlog_key")
        .sort("backlog_key")
    )
    return _emit(flagged, "backlog_key", rule.severity)


SYSTEM_ORACLES: dict[str, Oracle] = {
    **{f"billing.{name}": _billing_rule(name) for name in (*BILLING_FLAGS, "blocks_invoice_or_launch")},
    "provisioning.entitlement_mismatch": entitlement_mismatch,
    "provisioning.workspace_late": workspace_late,
    "provisioning.identity_late": identity_late,
    "provisioning.integration_unowned": integration_unowned,
    "provisioning.failed": provisioning_failed,
    "provisioning.override_unapproved": override_unapproved,
    "provisioning.overdue": provisioning_overdue,
    "provisioning.support_handoff_missing": support_handoff_missing,
    "ai.low_confidence_routed": low_confidence_routed,
    "ai.conflicts_with_source": conflicts_with_source,
    "ai.missing_evidence": missing_evidence,
    "ai.customer_email_unreviewed": customer_email_unreviewed,
    "ai.sensitive_change_unapproved": sensitive_change_unapproved,
    "ai.sensitive_access_unlogged": sensitive_access_unlogged,
    "writeback.failed": writeback_failed,
    "writeback.retry_storm": retry_storm,
    "writeback.no_idempotency_key": no_idempotency_key,
    "writeback.drift": _drift("writeback.drift"),
    "writeback.owner_or_status_drift": _drift("writeback.owner_or_status_drift"),
    "audit.trace_gap": trace_gap,
}
# Reads the day's rows of every rule registered before it: keep it last in ORACLES.
BACKLOG_ORACLES: dict[str, Oracle] = {"backlog.aged_high_value": aged_high_value}
