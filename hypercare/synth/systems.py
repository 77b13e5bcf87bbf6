"""Billing, provisioning, AI, writeback and system-record faults, and how those tables look on a day.

The children tables follow a healthy process. Here each of these five tables gets the
hidden instants of things going wrong and being put right: a bill-to contact that arrives
a week late, an entitlement configured with the wrong package until someone notices, an
identity setup finished just before or just after five business days from kickoff, an AI
draft sent to the customer before anyone read it, a writeback stuck since 20:00, a CRM
that keeps showing an old go-live date. Every fault is a window between two instants
(`NEVER` when it is not put right within the horizon), so consecutive snapshots tell one
consistent story and findings open and resolve the way they would in production.

The state functions at the bottom project these hidden tables onto the contract columns
at an as-of instant, like `snapshots.py` does for the other entities. Nothing here knows
what the monitor should report; that is the oracle's job (`truth_systems.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from hypercare.synth.children import AI_KINDS, HANDOFF_FIELDS, ITEM_DUE_BUSINESS_DAYS, ITEM_TYPES
from hypercare.synth.clock import HOUR, MINUTE, NEVER, Clock, earlier, later
from hypercare.synth.model import PACKAGES, SEGMENTS, people, pick, stream
from hypercare.synth.response import NO_TEAM, TeamPlan
from hypercare.synth.snapshots import OFFSET, happened, instant, project_status, shown_if

DAY = 86_400

# The automation's own confidence gates (what it was configured to send to review).
AUTOMATION_GATE = {"package_classification": 0.9, "segment_classification": 0.9, "lane_classification": 0.9}
AUTOMATION_GATE_DEFAULT = 0.8
SENSITIVE_KINDS = ("billing_change", "entitlement_change", "access_change")
# Kinds the baseline does not produce, with the share of onboardings that get one.
EXTRA_AI_KINDS = {
    "segment_classification": 0.4,
    "lane_classification": 0.3,
    "billing_change": 0.12,
    "entitlement_change": 0.1,
    "access_change": 0.08,
}
ALL_AI_KINDS = (*AI_KINDS, *EXTRA_AI_KINDS)
LANES = ("high_touch", "standard", "tech_touch")
# Deal columns an extraction may target, next to the handoff elements it usually fills.
DEAL_TARGETS = ("package", "seats", "contracted_services", "non_standard_terms", "promised_go_live", "account_name")
WRITE_ERRORS = ("HTTP 503 from target", "HTTP 429 rate limited", "timeout after 30s", "HTTP 409 conflict")
ITEM_ERRORS = ("upstream timeout", "SCIM 401 unauthorized", "quota exceeded", "connector credentials expired")


class Draws:
    """Random draws for one table of `n` rows, aimed with the business clock.

    `intensity` scales each row's fault rates (the team's response, see `response.py`)
    by the instant the row came to be, `rate_at` gives it for another instant (a fault that
    shows at the kickoff), and `cleanup` is when the team puts a row's open fault right.
    Every draw takes the same random numbers whatever they are, so a response never
    reshuffles other rows.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        clock: Clock,
        n: int,
        intensity: np.ndarray | None = None,
        cleanup: np.ndarray | None = None,
        rate_at: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.rng, self.clock, self.n = rng, clock, n
        self.intensity = np.ones(n) if intensity is None else intensity
        self.cleanup = np.full(n, NEVER) if cleanup is None else cleanup
        self.rate_at = rate_at or (lambda ts: np.ones(len(ts)))

    def share(self, p: float) -> np.ndarray:
        return self.rng.random(self.n) < p

    def fault(self, p: float) -> np.ndarray:
        """A fault drawn at rate `p`, scaled by the row's intensity."""
        return self.rng.random(self.n) < p * self.intensity

    def roll(self) -> np.ndarray:
        return self.rng.random(self.n)

    def fault_roll(self, at: np.ndarray | None = None) -> np.ndarray:
        """A roll whose low end (below a fault's threshold) shrinks with the row's intensity
        (at the instant `at` when given: when the fault would show)."""
        intensity = self.intensity if at is None else self.rate_at(at)
        return self.rng.random(self.n) / np.maximum(intensity, 1e-9)

    def healthy_roll(self) -> np.ndarray:
        """A roll whose high end (above the healthy threshold) shrinks with the row's intensity."""
        return 1.0 - (1.0 - self.rng.random(self.n)) / np.maximum(self.intensity, 1e-9)

    def bdays(self, ts: np.ndarray, low: float, high: float) -> np.ndarray:
        """An instant `low`..`high` business days after each of `ts` (NEVER stays NEVER)."""
        return self.clock.add_business_days(ts, self.rng.uniform(low, high, self.n))

    def soon(self, ts: np.ndarray, low: float, high: float) -> np.ndarray:
        """`bdays`, the wait shrinking with the intensity at `ts`: once the team has made a
        step part of the process, it happens with the event that needs it."""
        wait = self.rng.uniform(low, high, self.n) * np.minimum(self.rate_at(ts), 1.0)
        return self.clock.add_business_days(ts, wait)

    def kind(self, shares: tuple[float, ...]) -> np.ndarray:
        """One of `len(shares)` outcomes per row; the faulty ones (all but the first) shrink
        with the row's intensity and the first takes what they give up."""
        p = np.asarray(shares, dtype=np.float64) / sum(shares)
        faulty = np.minimum(self.intensity, 1.0)[:, None] * p[None, 1:]
        cumulative = np.cumsum(np.column_stack([1.0 - faulty.sum(axis=1), faulty]), axis=1)
        return np.minimum((self.rng.random(self.n)[:, None] > cumulative).sum(axis=1), len(p) - 1)

    def seconds(self, ts: np.ndarray, low: float, high: float) -> np.ndarray:
        return self.clock.add_seconds(ts, self.rng.uniform(low, high, self.n).astype(np.int64))

    def maybe(self, p: float, when: np.ndarray) -> np.ndarray:
        """`when` for a share `p` of rows, NEVER for the rest (a fix that may never come).

        Where the team works the area the fix comes for more rows (as many more as the
        fault rate fell), and one that would never come comes at the cleanup instant."""
        certain = 1.0 - (1.0 - p) * np.minimum(self.intensity, 1.0)
        fixed = np.where(self.rng.random(self.n) < certain, when, NEVER)
        return np.where((fixed >= NEVER) & (when < NEVER), later(when, self.cleanup), fixed)

    def remedy(self, p: float) -> np.ndarray:
        """A safeguard (a review, an approval) taken at rate `p`, more often where the
        team works the area."""
        return self.rng.random(self.n) < 1.0 - (1.0 - p) * np.minimum(self.intensity, 1.0)

    def put_right(self, since: np.ndarray) -> np.ndarray:
        """When the team puts a fault that started at `since` right: NEVER while nobody works
        the area, else at the cleanup instant and a little after `since` at the earliest."""
        soonest = self.bdays(since, 0.2, 2)
        return np.where(self.cleanup < NEVER, later(self.cleanup, soonest), NEVER)


def team_draws(
    rng: np.random.Generator, clock: Clock, created: np.ndarray, team: TeamPlan, area: str, seed: int, table: str
) -> Draws:
    """Draws for a table whose rows came to be at `created`, answering the team's work on `area`."""
    n = len(created)
    return Draws(
        rng,
        clock,
        n,
        team.intensity(area, clock, created),
        team.cleanup(area, clock, seed, table, n),
        lambda ts: team.intensity(area, clock, ts),
    )


def _np(frame: pl.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy()


def _codes(values: pl.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    mapping = {v: i for i, v in enumerate(vocabulary)}
    return values.replace_strict(mapping, default=-1, return_dtype=pl.Int64).to_numpy()


def _other(codes: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A code different from each of `codes` (a wrong package, a wrong segment)."""
    return (np.maximum(codes, 0) + rng.integers(1, size, len(codes))) % size


def _per_onboarding(frame: pl.DataFrame, projects: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """Project columns (renamed) for every row of `frame`, by onboarding_id, row order kept."""
    wanted = projects.select("onboarding_id", *(pl.col(c).alias(a) for a, c in columns.items()))
    return frame.join(wanted, on="onboarding_id", how="left", maintain_order="left")


# -- billing accounts -----------------------------------------------------------------------
def billing_faults(d: Draws, billing: pl.DataFrame) -> pl.DataFrame:
    """Missing bill-to contacts, addresses the billing system will not validate, tax ids
    that are missing or rejected, late POs, plan or seat counts that disagree with the
    deal, and changes by customers, automation or AI that nobody reviewed."""
    created, n, rng = _np(billing, "created_at"), d.n, d.rng
    bill_to_at = np.where(d.fault(0.05), d.maybe(0.75, d.bdays(created, 0.5, 10)), created)

    address_gap = np.where(d.fault(0.02), rng.integers(0, 3, n), -1)
    address_fixed_at = np.where(address_gap >= 0, d.maybe(0.6, d.bdays(created, 0.5, 8)), created)
    validated_at = np.where(d.fault(0.035), d.maybe(0.8, d.bdays(created, 0.3, 6)), created)
    validated_at = np.where(address_gap >= 0, later(validated_at, d.bdays(address_fixed_at, 0.05, 1)), validated_at)

    roll = d.healthy_roll()
    tax_submitted_at = np.select([roll < 0.85, roll < 0.97], [created, d.bdays(created, 0.5, 6)], d.put_right(created))
    rejected = d.fault(0.06) & (tax_submitted_at < NEVER)
    tax_invalid_at = np.where(rejected, d.bdays(tax_submitted_at, 0.3, 2), NEVER)
    tax_resubmitted_at = np.where(rejected, d.maybe(0.7, d.bdays(tax_invalid_at, 0.5, 5)), NEVER)
    tax_verified_at = d.maybe(0.9, d.bdays(np.where(rejected, tax_resubmitted_at, tax_submitted_at), 0.3, 4))

    po_required = _np(billing, "po_required")
    roll = d.healthy_roll()
    po_at = np.where(
        po_required,
        np.select([roll < 0.8, roll < 0.92], [d.bdays(created, 0.2, 3), d.bdays(created, 3, 12)], d.put_right(created)),
        NEVER,
    )

    roll = d.fault_roll()
    plan_conflict, seat_conflict = roll < 0.03, (roll >= 0.03) & (roll < 0.05)
    cosmetic = (roll >= 0.05) & (roll < 0.08)
    terms_fixed_at = np.where(plan_conflict | seat_conflict, d.maybe(0.65, d.bdays(created, 0.5, 8)), created)
    plan_code = _codes(billing["plan"], PACKAGES)
    seats = _np(billing, "seats")
    seat_delta = np.maximum(1, np.round(seats * rng.uniform(0.1, 0.4, n))).astype(np.int64)
    wrong_seats = np.where(rng.random(n) < 0.5, seats + seat_delta, np.maximum(seats - seat_delta, 1))

    invoice_offset = np.where(d.share(0.6), rng.integers(0, 36, n), 0)

    roll = d.roll()
    change = roll < 0.08
    sources = ("customer", "automation", "ai", "revops", "finance")
    change_source = np.where(change, rng.choice(5, n, p=[0.35, 0.3, 0.15, 0.12, 0.08]), -1)
    change_at = np.where(change, d.bdays(created, 0.5, 12), NEVER)
    change_reviewed_at = np.where(change, d.maybe(0.65, d.soon(change_at, 0.2, 4)), NEVER)
    source = pl.Series(change_source)
    change_by = (
        pl.when(source == 0)
        .then(pl.lit("billing-portal"))
        .when(source == 1)
        .then(pl.lit("onboarding-automation"))
        .when(source == 2)
        .then(pl.lit("billing-ai"))
        .when(source == 3)
        .then(people("revops", rng.integers(0, 6, n), 6))
        .otherwise(people("fin", rng.integers(0, 8, n), 8))
    )

    return billing.drop("address_validated", "tax_verified_at", "tax_unverified_status", "po_at").with_columns(
        first_invoice_date=pl.col("contract_start_date") + pl.duration(days=pl.Series(invoice_offset)),
        bill_to_at=bill_to_at,
        address_gap=address_gap,
        address_fixed_at=address_fixed_at,
        validated_at=validated_at,
        tax_submitted_at=tax_submitted_at,
        tax_invalid_at=tax_invalid_at,
        tax_resubmitted_at=tax_resubmitted_at,
        tax_verified_at=tax_verified_at,
        po_at=po_at,
        plan_shown=pl.when(pl.Series(cosmetic & (rng.random(n) < 0.5)))
        .then(pl.col("plan").str.to_uppercase())
        .when(pl.Series(cosmetic))
        .then(pl.col("plan") + " ")
        .otherwise(pl.col("plan")),
        seats_shown=pl.when(pl.Series(d.share(0.02))).then(None).otherwise(pl.col("seats")),
        wrong_plan=pick(PACKAGES, np.where(plan_conflict, _other(plan_code, len(PACKAGES), rng), -1)),
        wrong_seats=pl.when(pl.Series(seat_conflict)).then(pl.Series(wrong_seats)),
        terms_fixed_at=terms_fixed_at,
        change_at=change_at,
        change_source=pick(sources, change_source),
        change_by=change_by,
        change_reviewed_at=change_reviewed_at,
        change_reviewer=people("fin", rng.integers(0, 8, n), 8),
    )


def billing_accounts_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    changed = happened("change_at", end)
    conflict = ~happened("terms_fixed_at", end)

    def address_part(column: str, code: int) -> pl.Expr:
        gone = (pl.col("address_gap") == code) & ~happened("address_fixed_at", end)
        return pl.when(~gone).then(pl.col(column)).alias(column)

    tax_status = (
        pl.when(~pl.col("tax_id_required"))
        .then(pl.lit("not_required"))
        .when(happened("tax_verified_at", end))
        .then(pl.lit("verified"))
        .when(happened("tax_invalid_at", end) & ~happened("tax_resubmitted_at", end))
        .then(pl.lit("invalid"))
        .when(happened("tax_submitted_at", end))
        .then(pl.lit("pending"))
        .otherwise(pl.lit("missing"))
    )
    events = (
        "bill_to_at",
        "address_fixed_at",
        "validated_at",
        "tax_submitted_at",
        "tax_invalid_at",
        "tax_resubmitted_at",
        "tax_verified_at",
        "po_at",
        "terms_fixed_at",
        "change_at",
    )
    updated = pl.max_horizontal(pl.col("created_at"), *(pl.when(happened(c, end)).then(pl.col(c)) for c in events))
    return (
        hidden.filter(happened("created_at", end))
        .with_columns(updated.alias("updated_at"))
        .select(
            "account_id",
            "billing_entity",
            shown_if("bill_to_contact", happened("bill_to_at", end)),
            address_part("address_line1", 0),
            address_part("city", 1),
            address_part("postal_code", 2),
            "country",
            happened("validated_at", end).alias("address_validated"),
            "tax_id_required",
            tax_status.alias("tax_id_status"),
            "po_required",
            shown_if("po_number", happened("po_at", end)),
            "invoice_schedule",
            "first_invoice_date",
            "payment_terms",
            "contract_start_date",
            pl.when(conflict & pl.col("wrong_plan").is_not_null())
            .then("wrong_plan")
            .otherwise("plan_shown")
            .alias("plan"),
            pl.when(conflict & pl.col("wrong_seats").is_not_null())
            .then("wrong_seats")
            .otherwise("seats_shown")
            .alias("seats"),
            instant("updated_at", end),
            pl.when(changed).then("change_by").otherwise("updated_by").alias("updated_by"),
            pl.when(changed).then("change_source").otherwise("update_source").alias("update_source"),
            pl.when(changed)
            .then(pl.when(happened("change_reviewed_at", end)).then("change_reviewer"))
            .otherwise("reviewed_by")
            .alias("reviewed_by"),
            OFFSET,
        )
        .sort("account_id")
    )


# -- provisioning items -----------------------------------------------------------------------
def provisioning_faults(
    d: Draws, items: pl.DataFrame, projects: pl.DataFrame, milestones: pl.DataFrame
) -> pl.DataFrame:
    """Wrong entitlements, workspaces and identity finished late relative to kickoff,
    integrations nobody owns, failures with retries, items blocked on the customer,
    overrides nobody approved, and support hand-offs that miss the launch."""
    clock, rng, n = d.clock, d.rng, d.n
    launch = milestones.filter(pl.col("milestone") == "launch").select("onboarding_id", launch_done="completed_at")
    frame = _per_onboarding(items, projects, {"kickoff": "kickoff_completed_at"}).join(
        launch, on="onboarding_id", how="left", maintain_order="left"
    )
    kickoff = frame["kickoff"].fill_null(NEVER).to_numpy()
    launch_done = frame["launch_done"].fill_null(NEVER).to_numpy()
    kind = _codes(items["item_type"], ITEM_TYPES)
    created, started = _np(items, "created_at"), _np(items, "started_at")
    due_days = np.array(ITEM_DUE_BUSINESS_DAYS)[kind]

    roll = d.healthy_roll()
    on_time = clock.add_business_days(started, rng.uniform(0.1, 0.95, n) * due_days)
    due = _np(items, "due_at")
    slow, stalled = d.bdays(due, 0.2, 5), d.bdays(due, 5, 15)
    done = np.select([roll < 0.945, roll < 0.985, roll < 0.995], [on_time, slow, stalled], d.put_right(due))

    fails = d.fault(0.025)
    fail_at = np.where(fails, d.bdays(started, 0.1, 2), NEVER)
    fail_attempts = rng.choice([1, 2, 3], n, p=[0.45, 0.35, 0.2])
    retry_at = np.where(fails, d.maybe(0.75, d.bdays(fail_at, 0.1, 2)), NEVER)
    recovered = (retry_at < NEVER) & d.remedy(0.75)
    done = np.where(fails, np.where(recovered, d.bdays(retry_at, 0.1, 2), d.put_right(fail_at)), done)

    blocked = ~fails & d.fault(0.03)
    blocked_at = np.where(blocked, d.bdays(started, 0.1, 1), NEVER)
    unblocked_at = np.where(blocked, d.maybe(0.6, d.bdays(blocked_at, 1, 6)), NEVER)
    done = np.where(blocked, d.bdays(unblocked_at, 0.2, 2), done)
    steady = ~fails & ~blocked

    roll = d.fault_roll(at=kickoff)
    workspace = steady & (kind == ITEM_TYPES.index("workspace")) & (kickoff < NEVER)
    ready_for_kickoff = earlier(done, d.bdays(kickoff, -1.5, -0.1))
    after_kickoff = d.maybe(0.75, d.bdays(kickoff, 0.05, 4))
    just_before = d.seconds(kickoff, -90 * MINUTE, -MINUTE)
    done = np.select(
        [workspace & (roll < 0.06), workspace & (roll < 0.09), workspace],
        [after_kickoff, just_before, ready_for_kickoff],
        done,
    )

    roll = d.fault_roll(at=kickoff)
    identity = steady & (kind == ITEM_TYPES.index("identity")) & (kickoff < NEVER)
    around_five = d.bdays(kickoff, 4.7, 5.3)
    exactly_five = clock.add_business_days(kickoff, 5.0)
    minute_before_five = clock.add_seconds(exactly_five, -MINUTE)
    done = np.select(
        [identity & (roll < 0.06), identity & (roll < 0.07), identity & (roll < 0.08), identity & (roll < 0.09)],
        [around_five, exactly_five, minute_before_five, np.full(n, NEVER)],
        done,
    )

    roll = d.fault_roll(at=launch_done)
    support = steady & (kind == ITEM_TYPES.index("support_handoff")) & (launch_done < NEVER)
    done = np.where(support & (roll < 0.12), d.maybe(0.65, d.bdays(launch_done, 0.2, 6)), done)
    done = np.where(done < NEVER, later(done, started + MINUTE), done)

    integration = kind == ITEM_TYPES.index("integration")
    customer_owner_at = np.where(integration & d.fault(0.15), d.maybe(0.7, d.bdays(created, 0.5, 8)), created)
    internal_owner_at = np.where(integration & d.fault(0.06), d.maybe(0.7, d.bdays(created, 0.5, 5)), created)

    entitlement = kind == ITEM_TYPES.index("entitlement")
    mismatch = entitlement & d.fault(0.05)
    wrong = pick(
        PACKAGES, np.where(mismatch, _other(_codes(items["expected_value"], PACKAGES), len(PACKAGES), rng), -1)
    )
    mismatch_fixed_at = np.where(mismatch, d.maybe(0.65, d.bdays(started, 0.5, 6)), created)

    override_at = np.where(d.fault(0.025), d.bdays(started, 0.1, 2), NEVER)
    roll = d.healthy_roll()
    approved_at = np.select(
        [roll < 0.55, roll < 0.85], [override_at, d.bdays(override_at, 0.3, 4)], d.put_right(override_at)
    )

    return items.drop("done_at", "failed_at", "attempts_final", "manual_override", "last_error").with_columns(
        customer_owner=pl.when(pl.Series(integration))
        .then(pl.coalesce(pl.col("customer_owner"), people("admin", rng.integers(0, 500, n), 500)))
        .otherwise(pl.col("customer_owner")),
        customer_owner_at=customer_owner_at,
        internal_owner_at=internal_owner_at,
        done_at=done,
        fail_at=fail_at,
        fail_attempts=fail_attempts,
        retry_at=retry_at,
        done_attempts=np.where(fails, fail_attempts + 1, rng.choice([1, 2], n, p=[0.9, 0.1])),
        blocked_at=blocked_at,
        unblocked_at=unblocked_at,
        last_error=pick(ITEM_ERRORS, rng.integers(0, len(ITEM_ERRORS), n)),
        wrong_value=wrong,
        mismatch_fixed_at=mismatch_fixed_at,
        override_at=override_at,
        approved_at=approved_at,
    )


def provisioning_items_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    done, started = happened("done_at", end), happened("started_at", end)
    failed = happened("fail_at", end) & ~happened("retry_at", end)
    blocked = happened("blocked_at", end) & ~happened("unblocked_at", end)
    status = (
        pl.when(done)
        .then(pl.lit("done"))
        .when(failed)
        .then(pl.lit("failed"))
        .when(blocked)
        .then(pl.lit("blocked"))
        .when(started)
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("pending"))
    )
    attempts = (
        pl.when(done)
        .then("done_attempts")
        .when(happened("retry_at", end))
        .then(pl.col("fail_attempts") + 1)
        .when(happened("fail_at", end))
        .then("fail_attempts")
        .when(started)
        .then(1)
        .otherwise(0)
    )
    wrong = pl.col("wrong_value").is_not_null() & ~happened("mismatch_fixed_at", end)
    configured = pl.when(started).then(pl.when(wrong).then("wrong_value").otherwise("expected_value"))
    overridden = happened("override_at", end)
    return hidden.filter(happened("created_at", end)).select(
        "item_id",
        "onboarding_id",
        "item_type",
        "target_system",
        "expected_value",
        configured.alias("configured_value"),
        status.alias("status"),
        shown_if("internal_owner", happened("internal_owner_at", end)),
        shown_if("customer_owner", happened("customer_owner_at", end)),
        attempts.cast(pl.Int64).alias("attempts"),
        shown_if("last_error", happened("fail_at", end)),
        overridden.alias("manual_override"),
        shown_if("override_approved_by", overridden & happened("approved_at", end)).alias("override_approved_by"),
        instant("created_at", end),
        instant("due_at", None),
        instant("done_at", end, "completed_at"),
        OFFSET,
    )


# -- AI suggestions -----------------------------------------------------------------------------
def _deal_context(frame: pl.DataFrame, projects: pl.DataFrame, deals: pl.DataFrame) -> pl.DataFrame:
    """The sold values of each row's deal, as text, for suggestions that restate them."""
    sold = deals.select(
        "deal",
        d_package="package",
        d_segment="segment",
        d_seats=pl.col("seats").cast(pl.String),
        d_services="contracted_services",
        d_terms=pl.when("non_standard_terms").then(pl.lit("true")).otherwise(pl.lit("false")),
        d_go_live=pl.col("promised_go_live").dt.strftime("%Y-%m-%d"),
        d_name="account_name",
    )
    return _per_onboarding(frame, projects, {"deal": "deal"}).join(sold, on="deal", how="left", maintain_order="left")


def _extra_suggestions(
    rng: np.random.Generator, clock: Clock, projects: pl.DataFrame, first_number: int
) -> pl.DataFrame:
    """Classifications and billing, entitlement and access changes the baseline lacks."""
    kinds = list(EXTRA_AI_KINDS)
    wanted = rng.random((len(projects), len(kinds))) < np.array(list(EXTRA_AI_KINDS.values()))
    project, kind = np.nonzero(wanted)
    n = len(project)
    created_project = _np(projects, "created_at")[project]
    sensitive = kind >= kinds.index("billing_change")
    soon = clock.add_seconds(created_project, rng.uniform(MINUTE, 3 * HOUR, n).astype(np.int64))
    later_on = clock.add_business_days(created_project, rng.uniform(0.5, 10, n))
    names = pick(kinds, kind)
    return pl.DataFrame(
        {
            "suggestion_id": pl.select(
                pl.lit("SUG-") + (pl.int_range(n) + first_number).cast(pl.String).str.zfill(8)
            ).to_series(),
            "onboarding_id": projects["onboarding_id"].gather(project),
            "kind": names,
            "confidence": np.round(np.clip(rng.beta(9, 2, n), 0.3, 0.99), 2),
            "evidence_count": rng.poisson(3, n) + (rng.random(n) < 0.5),
            "model": pick(("classify-small-2026-08", "extract-large-2026-09"), rng.integers(0, 2, n)),
            "prompt_version": names + "@v3",
            "created_at": np.where(sensitive, later_on, soon),
            "reviewer": people("onb", rng.integers(0, 25, n), 25),
            "sensitive_data": rng.random(n) < np.where(sensitive, 0.4, 0.1),
            "_offset": np.zeros(n, dtype=np.int32),
        }
    )


def ai_faults(
    rng: np.random.Generator,
    clock: Clock,
    suggestions: pl.DataFrame,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    rng_extra: np.random.Generator,
    team: TeamPlan = NO_TEAM,
    seed: int = 0,
) -> pl.DataFrame:
    """Low-confidence outputs applied without review (and some right at the gate),
    extractions and classifications that contradict the deal, commitments without
    evidence, customer emails sent unread, sensitive changes applied without approval and
    sensitive reads with no logged scope. Reviews, approvals and late logging put some of
    them right over the following days; once the team works the AI gates, outputs applied
    below the gate are routed to human review."""
    keep = (
        "suggestion_id",
        "onboarding_id",
        "kind",
        "confidence",
        "evidence_count",
        "model",
        "prompt_version",
        "created_at",
        "reviewer",
        "sensitive_data",
        OFFSET,
    )
    extra = _extra_suggestions(rng_extra, clock, projects, len(suggestions) + 1)
    table = pl.concat([suggestions.select(keep), extra.select(keep)], how="vertical_relaxed")
    table = _deal_context(table, projects, deals)
    d = team_draws(rng, clock, _np(table, "created_at"), team, "ai", seed, "ai_suggestions")
    n = d.n
    kind = _codes(table["kind"], ALL_AI_KINDS)
    created = _np(table, "created_at")
    gate = np.array([AUTOMATION_GATE.get(k, AUTOMATION_GATE_DEFAULT) for k in ALL_AI_KINDS])[kind]
    confidence = _np(table, "confidence").astype(np.float64)
    customer_facing = kind == ALL_AI_KINDS.index("welcome_email_draft")
    sensitive_kind = np.isin(kind, [ALL_AI_KINDS.index(k) for k in SENSITIVE_KINDS])
    extraction = kind == ALL_AI_KINDS.index("field_extraction")
    package_kind = kind == ALL_AI_KINDS.index("package_classification")
    segment_kind = kind == ALL_AI_KINDS.index("segment_classification")

    # What each output says, and whether it contradicts the deal.
    to_deal = extraction & d.share(0.4)
    target = np.where(to_deal, rng.integers(0, len(DEAL_TARGETS), n), -1)
    no_services = table["d_services"].is_null().to_numpy()
    target = np.where((target == DEAL_TARGETS.index("contracted_services")) & no_services, 0, target)
    handoff_only = tuple(f for f in HANDOFF_FIELDS if f not in DEAL_TARGETS)
    handoff_field = pick(handoff_only, rng.integers(0, len(handoff_only), n))
    field = (
        pl.when(pl.Series(target >= 0))
        .then(pick(DEAL_TARGETS, target))
        .when(pl.Series(extraction))
        .then(handoff_field)
        .when(pl.Series(package_kind & (rng.random(n) < 0.5)))
        .then(pl.lit("package"))
    )
    conflict = (to_deal | package_kind | segment_kind) & d.fault(0.04)
    cosmetic = ~conflict & d.share(0.1)
    other_package = pick(PACKAGES, _other(_codes(table["d_package"], PACKAGES), len(PACKAGES), rng))
    other_segment = pick(SEGMENTS, _other(_codes(table["d_segment"], SEGMENTS), len(SEGMENTS), rng))
    seats = table["d_seats"].cast(pl.Int64, strict=False).fill_null(10).to_numpy()
    wrong_seats = pl.Series(seats + np.maximum(1, seats // 5) * rng.choice([-1, 1], n)).cast(pl.String)
    go_live = pl.col("d_go_live").str.to_date("%Y-%m-%d", strict=False)
    services = pl.col("d_services")
    value_by_target = {
        "package": (pl.col("d_package"), other_package, pl.col("d_package").str.to_uppercase()),
        "seats": (pl.col("d_seats"), wrong_seats, pl.col("d_seats") + ".0"),
        "contracted_services": (services, services + ";custom_sla", services),
        "non_standard_terms": (
            pl.col("d_terms"),
            pl.when(pl.col("d_terms") == "true").then(pl.lit("false")).otherwise(pl.lit("true")),
            pl.col("d_terms").str.to_titlecase(),
        ),
        "promised_go_live": (
            pl.col("d_go_live"),
            (go_live + pl.duration(days=14)).dt.strftime("%Y-%m-%d"),
            pl.col("d_go_live"),
        ),
        "account_name": (pl.col("d_name"), pl.lit("Northwind Holdings Ltd"), pl.col("d_name").str.to_lowercase()),
    }
    is_conflict, is_cosmetic = pl.Series(conflict), pl.Series(cosmetic)

    def restated(right: pl.Expr, wrong: pl.Expr, variant: pl.Expr) -> pl.Expr:
        return pl.when(is_conflict).then(wrong).when(is_cosmetic).then(variant).otherwise(right)

    extracted = pl.lit("see handoff notes")
    for name, (right, wrong, variant) in value_by_target.items():
        extracted = (
            pl.when(pl.Series(target == DEAL_TARGETS.index(name)))
            .then(restated(right, wrong, variant))
            .otherwise(extracted)
        )
    suggested = (
        pl.when(pl.Series(extraction))
        .then(extracted)
        .when(pl.Series(package_kind))
        .then(restated(pl.col("d_package"), other_package, pl.col("d_package").str.to_titlecase()))
        .when(pl.Series(segment_kind))
        .then(restated(pl.col("d_segment"), other_segment, pl.col("d_segment")))
        .when(pl.Series(kind == ALL_AI_KINDS.index("lane_classification")))
        .then(pick(LANES, rng.integers(0, len(LANES), n)))
        .when(pl.Series(kind == ALL_AI_KINDS.index("billing_change")))
        .then(pl.lit("payment_terms=net_45"))
        .when(pl.Series(kind == ALL_AI_KINDS.index("entitlement_change")))
        .then(pl.lit("seats+25"))
        .when(pl.Series(kind == ALL_AI_KINDS.index("access_change")))
        .then(pl.lit("grant admin role"))
    )

    # Confidence at and below the gates, and outputs applied without review.
    roll = d.fault_roll()
    low_applied = ~customer_facing & (roll < 0.012)
    at_gate = ~customer_facing & (roll >= 0.012) & (roll < 0.024)
    below = np.where(rng.random(n) < 0.4, gate - 0.01, gate - rng.uniform(0.05, 0.4, n))
    confidence = np.where(low_applied, below, np.where(at_gate, gate, confidence))
    confidence = np.round(np.clip(confidence, 0.05, 0.99), 2)
    blocked = ~customer_facing & ~low_applied & (confidence < gate) & d.share(0.15)

    material = np.select(
        [kind == 0, customer_facing, kind == ALL_AI_KINDS.index("next_action")],
        [d.share(0.2), d.share(0.1), d.share(0.05)],
        False,
    )
    unsupported = material & d.fault(0.15)
    evidence = np.where(unsupported, 0, _np(table, "evidence_count"))

    email_unread = customer_facing & d.fault(0.04)
    reviewed = (confidence < gate) | customer_facing | d.share(0.1)
    reviewed = reviewed | np.select(
        [sensitive_kind, conflict, unsupported], [d.remedy(0.85), d.remedy(0.7), d.remedy(0.7)], False
    )
    reviewed = (reviewed & ~low_applied & ~email_unread & ~blocked) | (at_gate & d.share(0.3))
    sensitive_blocked = sensitive_kind & ~reviewed & d.share(0.33)
    blocked = blocked | sensitive_blocked
    routing = np.where(blocked, 2, np.where(reviewed, 1, 0))
    rerouted_at = np.where((routing == 0) & (confidence < gate), d.put_right(created), NEVER)

    decision = d.kind((0.75, 0.15, 0.1))
    decision = np.where(conflict, rng.choice(3, n, p=[0.2, 0.2, 0.6]), decision)
    decision = np.where(unsupported, rng.choice(3, n, p=[0.5, 0.25, 0.25]), decision)
    reviewed_at = np.where(reviewed, d.bdays(created, 0.05, 3), NEVER)
    sent_at = np.where(
        customer_facing & reviewed & (decision != 2), d.seconds(reviewed_at, 5 * MINUTE, 3 * HOUR), NEVER
    )
    sent_unread = d.seconds(created, 5 * MINUTE, HOUR)
    sent_at = np.where(email_unread, sent_unread, sent_at)
    reviewed_at = np.where(email_unread, d.maybe(0.4, d.bdays(sent_unread, 0.5, 3)), reviewed_at)
    decision = np.where(email_unread, rng.choice(2, n, p=[0.7, 0.3]), decision)

    roll = d.healthy_roll()
    applied_by_review = reviewed & (decision != 2)
    approve_review = np.select(
        [roll < 0.9, roll < 0.96], [reviewed_at, d.bdays(reviewed_at, 0.3, 3)], d.put_right(reviewed_at)
    )
    approve_auto = np.select([roll < 0.2, roll < 0.5], [created, d.bdays(created, 0.3, 3)], d.put_right(created))
    approved_at = np.where(
        sensitive_kind & applied_by_review,
        approve_review,
        np.where(sensitive_kind & (routing == 0), approve_auto, NEVER),
    )

    sensitive = _np(table, "sensitive_data").astype(bool)
    scope_logged_at = np.where(sensitive & d.fault(0.08), d.maybe(0.35, d.bdays(created, 0.5, 4)), created)

    return table.select(
        "suggestion_id",
        "onboarding_id",
        "kind",
        field.alias("field"),
        suggested.alias("suggested_value"),
        pl.Series("confidence", confidence),
        pl.Series("evidence_count", evidence.astype(np.int64)),
        pl.Series("material_commitment", material),
        "model",
        "prompt_version",
        "created_at",
        pick(("auto_applied", "human_review", "blocked"), routing).alias("routing"),
        pl.Series("rerouted_at", rerouted_at),
        pick(("accepted", "corrected", "rejected"), decision).alias("final_decision"),
        "reviewer",
        pl.Series("reviewed_at", reviewed_at),
        pick(("reviewer corrected the value",), np.where(decision == 1, 0, -1)).alias("corrected_value"),
        pick(("unsupported by source",), np.where(decision == 2, 0, -1)).alias("rejection_reason"),
        pl.Series("customer_facing", customer_facing),
        pl.Series("sent_at", sent_at),
        pl.Series("approved_at", approved_at),
        people("lead", rng.integers(0, 4, n), 4).alias("approver"),
        pl.Series("sensitive_data", sensitive),
        pl.Series("scope_logged_at", scope_logged_at),
        pick(
            ("crm:read:contacts", "billing:read:invoices", "idp:read:users"),
            np.where(sensitive, rng.integers(0, 3, n), -1),
        ).alias("access_scope"),
        OFFSET,
    )


def ai_suggestions_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    reviewed = happened("reviewed_at", end)
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
        pl.when(happened("rerouted_at", end)).then(pl.lit("human_review")).otherwise("routing").alias("routing"),
        pl.when(reviewed).then("final_decision").otherwise(pl.lit("pending")).alias("review_decision"),
        shown_if("reviewer", reviewed),
        instant("reviewed_at", end),
        shown_if("corrected_value", reviewed),
        shown_if("rejection_reason", reviewed),
        "customer_facing",
        instant("sent_at", end),
        shown_if("approver", happened("approved_at", end)).alias("approved_by"),
        "sensitive_data",
        shown_if("access_scope", happened("scope_logged_at", end)),
        OFFSET,
    )


# -- writebacks ---------------------------------------------------------------------------------
def writeback_faults(d: Draws, writes: pl.DataFrame, bug_window: tuple[int, int]) -> pl.DataFrame:
    """Writes stuck since the evening (some requested just before, some just after four
    hours before midnight), writes that fail and are re-run, retry storms that climb
    past five attempts (some of them without an idempotency key), and other writes without
    one: many manual writes and, for a few days mid-month, the AI's writes to messaging and
    the CRM."""
    clock, rng, n = d.clock, d.rng, d.n
    requested = _np(writes, "requested_at")
    retry_at, completed = _np(writes, "retry_at"), _np(writes, "completed_at")
    attempts_final = _np(writes, "final_attempts")
    retry_every = rng.uniform(10 * MINUTE, 40 * MINUTE, n).astype(np.int64)
    cap = attempts_final.copy()

    roll = d.fault_roll()
    evening, failing, storm = roll < 0.02, (roll >= 0.02) & (roll < 0.03), (roll >= 0.03) & (roll < 0.035)

    day = clock.day_of(requested)
    exact_eight = d.share(0.15)
    evening_time = np.where(exact_eight, 20 * HOUR, rng.uniform(19.5 * HOUR, 20.5 * HOUR, n).astype(np.int64))
    moved = clock.at(day, evening_time)
    moved = np.where(moved < requested, clock.at(np.minimum(day + 1, len(clock.midnight) - 2), evening_time), moved)
    requested = np.where(evening, moved, requested)
    next_morning = clock.at(
        np.minimum(clock.day_of(requested) + 1, len(clock.midnight) - 2),
        rng.uniform(7 * HOUR, 10 * HOUR, n).astype(np.int64),
    )
    evening_roll = d.roll()
    evening_retry = evening & d.share(0.4)
    retry_at = np.where(evening, np.where(evening_retry, requested + 30, NEVER), retry_at)
    retry_every = np.where(evening_retry, rng.uniform(1 * HOUR, 3 * HOUR, n).astype(np.int64), retry_every)
    cap = np.where(evening, rng.choice([2, 3, 4], n), cap)
    completed = np.where(
        evening,
        np.select([evening_roll < 0.75, evening_roll < 0.9], [next_morning, d.bdays(requested, 1, 3)], NEVER),
        completed,
    )

    fail_attempts = np.where(failing, rng.integers(1, 5, n), 1)
    failed_at = np.where(failing, d.seconds(requested, MINUTE, 3 * HOUR), NEVER)
    failed_at = np.where(evening & (evening_roll >= 0.9), d.bdays(requested, 0.3, 1), failed_at)
    fail_attempts = np.where(evening & (evening_roll >= 0.9), cap, fail_attempts)
    retry_at = np.where(failing, np.where(fail_attempts >= 2, requested + 30, NEVER), retry_at)
    rerun_at = np.where(failing, d.maybe(0.55, d.bdays(failed_at, 0.2, 3)), NEVER)
    completed = np.where(failing, d.seconds(rerun_at, MINUTE, 20 * MINUTE), completed)
    attempts_final = np.where(failing, fail_attempts + 1, attempts_final)

    storm_roll = d.roll()
    storm_cap = np.where(rng.random(n) < 0.25, 4, rng.integers(5, 13, n))
    storm_every = rng.uniform(15 * MINUTE, 2 * HOUR, n).astype(np.int64)
    retry_at = np.where(storm, requested + 30, retry_at)
    retry_every = np.where(storm, storm_every, retry_every)
    cap = np.where(storm, storm_cap, cap)
    exhausted = clock.add_seconds(requested + 30, storm_cap * storm_every)
    completed = np.where(
        storm, np.where(storm_roll < 0.55, d.seconds(exhausted, MINUTE, 10 * MINUTE), NEVER), completed
    )
    failed_at = np.where(storm & (storm_roll >= 0.55) & (storm_roll < 0.8), exhausted, failed_at)
    fail_attempts = np.where(storm, storm_cap, fail_attempts)
    attempts_final = np.where(storm, storm_cap, attempts_final)

    actor = writes["actor"].to_numpy()
    target = writes["target_system"].to_numpy()
    in_bug = (requested >= clock.midnight[bug_window[0]]) & (requested < clock.midnight[bug_window[1]])
    keyless = ((actor == "human") & d.fault(0.3)) | ((actor == "ai") & np.isin(target, ["messaging", "crm"]) & in_bug)
    keyless = keyless | (storm & d.share(0.3)) | d.fault(0.002)
    return writes.drop("retry_at", "completed_at", "final_attempts", "error").with_columns(
        requested_at=requested,
        retry_at=retry_at,
        retry_every=retry_every,
        attempts_cap=cap,
        completed_at=completed,
        final_attempts=attempts_final,
        failed_at=failed_at,
        fail_attempts=fail_attempts,
        rerun_at=rerun_at,
        error=pick(WRITE_ERRORS, rng.integers(0, len(WRITE_ERRORS), n)),
        idempotency_key=pl.when(pl.Series(keyless)).then(None).otherwise(pl.col("idempotency_key")),
    )


def writebacks_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    succeeded = happened("completed_at", end)
    rerun = happened("rerun_at", end)
    failed = happened("failed_at", end) & ~rerun
    retrying = happened("retry_at", end)
    status = (
        pl.when(succeeded)
        .then(pl.lit("succeeded"))
        .when(failed)
        .then(pl.lit("failed"))
        .when(rerun | retrying)
        .then(pl.lit("retrying"))
        .otherwise(pl.lit("pending"))
    )
    since_retry = pl.lit(end) - pl.col("retry_at")
    climbing = pl.min_horizontal(pl.col("attempts_cap"), 2 + since_retry // pl.col("retry_every"))
    attempts = (
        pl.when(succeeded)
        .then("final_attempts")
        .when(failed)
        .then("fail_attempts")
        .when(rerun)
        .then(pl.col("fail_attempts") + 1)
        .when(retrying)
        .then(climbing)
        .otherwise(1)
    )
    return hidden.filter(happened("requested_at", end)).select(
        "writeback_id",
        "onboarding_id",
        "target_system",
        "record_id",
        "fields_changed",
        status.alias("status"),
        attempts.cast(pl.Int64).alias("attempts"),
        shown_if("error", (retrying | happened("failed_at", end)) & ~succeeded),
        "idempotency_key",
        "actor",
        instant("requested_at", end),
        instant("completed_at", end),
        OFFSET,
    )


# -- system records ---------------------------------------------------------------------------
def drift_faults(
    rng: np.random.Generator,
    clock: Clock,
    records: pl.DataFrame,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    team: TeamPlan = NO_TEAM,
    seed: int = 0,
) -> pl.DataFrame:
    """Systems that disagree for a while: a package or seat count that billing or product
    admin got wrong, a scope the project tool lost an item of, a support tool that kept
    the wrong owner, a go-live date replanned in one tool only, and a CRM whose status
    sync lags by days. Harmless differences too: case, and scope items in another order.

    Decisions are drawn per onboarding and joined onto the one record they bend."""
    d = team_draws(rng, clock, _np(projects, "created_at"), team, "writeback", seed, "system_records")
    created, owner_at = _np(projects, "created_at"), _np(projects, "owner_assigned_at")
    deal = _np(projects, "deal")
    package = projects["package"]
    seats = deals["seats"].to_numpy()[deal]
    replanned = (
        pl.DataFrame({"go_live": deals["promised_go_live"].gather(deal), "shift": rng.integers(7, 31, d.n)})
        .select((pl.col("go_live") + pl.duration(days=pl.col("shift"))).dt.strftime("%Y-%m-%d"))
        .to_series()
    )
    listed = pl.col("scope").str.split(";")
    roll = d.fault_roll()
    static_kind = np.select([roll < 0.025, roll < 0.04, roll < 0.055], [0, 1, 2], -1)
    drift_at = d.bdays(created, 0.05, 10)
    fixed_at = d.maybe(0.65, d.bdays(drift_at, 0.5, 6))
    wrong_package = pick(PACKAGES, _other(_codes(package, PACKAGES), len(PACKAGES), rng))
    wrong_seats = pl.Series(np.maximum(seats + rng.integers(1, 40, d.n) * rng.choice([-1, 1], d.n), 1)).cast(pl.String)
    scopes = projects.select(
        wrong=pl.when(listed.list.len() > 1)
        .then(listed.list.head(listed.list.len() - 1).list.join(";"))
        .otherwise(pl.concat_str([pl.col("scope"), pl.lit("custom_sla")], separator=";", ignore_nulls=True)),
        reordered=listed.list.reverse().list.join(";"),
    )
    never = np.full(d.n, NEVER)

    def bent(
        system: str | pl.Series,
        field: str,
        where: np.ndarray,
        value: pl.Series,
        at: np.ndarray,
        until: np.ndarray,
        extra_lag: np.ndarray | int = 0,
    ) -> pl.DataFrame:
        frame = pl.DataFrame(
            {
                "onboarding_id": projects["onboarding_id"],
                "system": system,
                "field": field,
                "drift_value": value,
                "drift_at": at,
                "drift_fixed_at": until,
                "extra_lag": np.broadcast_to(np.asarray(extra_lag, dtype=np.int64), (d.n,)),
            }
        )
        return frame.filter(pl.Series(where))

    static_system = pick(("billing", "product_admin"), rng.integers(0, 2, d.n))
    status_lag = (rng.uniform(0.5, 4, d.n) * DAY).astype(np.int64)
    go_live_at = d.bdays(created, 1, 15)
    bends = pl.concat(
        [
            bent(static_system, "package", static_kind == 0, wrong_package, drift_at, fixed_at),
            bent(static_system, "seats", static_kind == 1, wrong_seats, drift_at, fixed_at),
            bent("project_tool", "scope", static_kind == 2, scopes["wrong"], drift_at, fixed_at),
            bent(
                "support",
                "onboarding_owner",
                d.fault(0.03),
                people("onb", rng.integers(0, 25, d.n), 25),
                owner_at,
                d.maybe(0.6, d.bdays(owner_at, 1, 6)),
            ),
            bent(
                "project_tool",
                "go_live",
                d.fault(0.025),
                replanned,
                go_live_at,
                d.maybe(0.6, d.bdays(go_live_at, 0.5, 5)),
            ),
            bent("cs_platform", "package", d.share(0.04), package.str.to_uppercase(), created, never),
            bent("project_tool", "scope", d.share(0.04), scopes["reordered"], created, never),
            bent("crm", "status", d.fault(0.25), pl.Series([None] * d.n, dtype=pl.String), never, never, status_lag),
        ]
    ).unique(["onboarding_id", "system", "field"], keep="first", maintain_order=True)
    return (
        records.join(bends, on=["onboarding_id", "system", "field"], how="left", maintain_order="left")
        .with_columns(
            lag=pl.col("lag") + pl.col("extra_lag").fill_null(0),
        )
        .drop("extra_lag")
    )


def system_records_state(hidden: pl.DataFrame, end: int) -> pl.DataFrame:
    lag = pl.col("lag")

    def seen_at(name: str) -> pl.Expr:
        at = pl.col("p_" + name) + lag
        return pl.when(at < end).then(at)

    owner_seen = seen_at("owner_assigned_at").is_not_null()
    drifting = pl.col("drift_value").is_not_null() & happened("drift_at", end) & ~happened("drift_fixed_at", end)
    value = (
        pl.when(drifting)
        .then(pl.col("drift_value"))
        .when(pl.col("field") == "status")
        .then(project_status(end, "p_", lag))
        .when(pl.col("field") == "onboarding_owner")
        .then(pl.when(owner_seen).then(pl.col("p_onboarding_owner")))
        .otherwise(pl.col("static_value"))
    )
    status_seen = pl.max_horizontal(
        pl.col("observed_at"), *(seen_at(c) for c in ("paused_at", "resumed_at", "cancelled_at", "completed_at"))
    )
    drift_seen = pl.max_horizontal(*(pl.when(happened(c, end)).then(pl.col(c)) for c in ("drift_at", "drift_fixed_at")))
    observed = pl.max_horizontal(
        pl.when(pl.col("field") == "status")
        .then(status_seen)
        .when(pl.col("field") == "onboarding_owner")
        .then(pl.max_horizontal(pl.col("observed_at"), seen_at("owner_assigned_at")))
        .otherwise(pl.col("observed_at")),
        pl.when(pl.col("drift_value").is_not_null()).then(drift_seen),
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


# -- wiring -----------------------------------------------------------------------------------
def apply_system_faults(
    seed: int,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    clock: Clock,
    start_idx: int,
    last_idx: int,
    team: TeamPlan = NO_TEAM,
) -> dict[str, pl.DataFrame]:
    """Rewrite the five system tables with their faults. Runs after every other area has
    shaped projects and milestones, so faults are aimed at the final timelines."""

    def draws(name: str, table: str, area: str, created: str) -> Draws:
        return team_draws(stream(seed, "systems", name), clock, _np(tables[table], created), team, area, seed, table)

    bug_start = start_idx + max(1, (last_idx - start_idx) // 3)
    return tables | {
        "billing_accounts": billing_faults(
            draws("billing", "billing_accounts", "billing", "created_at"), tables["billing_accounts"]
        ),
        "provisioning_items": provisioning_faults(
            draws("provisioning", "provisioning_items", "provisioning", "created_at"),
            tables["provisioning_items"],
            projects,
            tables["milestones"],
        ),
        "ai_suggestions": ai_faults(
            stream(seed, "systems", "ai"),
            clock,
            tables["ai_suggestions"],
            projects,
            deals,
            stream(seed, "systems", "ai", "extra"),
            team,
            seed,
        ),
        "writebacks": writeback_faults(
            draws("writebacks", "writebacks", "writeback", "requested_at"),
            tables["writebacks"],
            (bug_start, bug_start + 4),
        ),
        "system_records": drift_faults(
            stream(seed, "systems", "drift"), clock, tables["system_records"], projects, deals, team, seed
        ),
    }


SYSTEM_STATES: dict[str, Callable[[pl.DataFrame, int], pl.DataFrame]] = {
    "billing_accounts": billing_accounts_state,
    "provisioning_items": provisioning_items_state,
    "ai_suggestions": ai_suggestions_state,
    "writebacks": writebacks_state,
    "system_records": system_records_state,
}
