"""Trigger-area faults: scenarios that bend some deals' timelines away from the clean path.

Each deal gets at most one scenario, drawn by count (a rate with a floor), so even a small
month carries every fault. One injector per scenario rewrites the deal's hidden timeline
and its primary project plan, or adds extra projects. Later fault areas (ownership,
billing, ...) add their own injectors over the built project and child tables; nothing
here knows what the ground truth will say, which is the oracle's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from hypercare.synth.clock import HOUR, MINUTE, NEVER, Clock, earlier, later
from hypercare.synth.model import (
    EXCLUDED_REASONS,
    PAUSED_REASONS,
    PAY_NONE,
    PREPAYMENT,
    DealPlan,
    ProjectBatch,
    automation_lag,
    stream,
    uniform_seconds,
)
from hypercare.synth.response import NO_TEAM, TeamPlan

DAY = 86_400


@dataclass
class FaultContext:
    plan: DealPlan
    clock: Clock
    rng: np.random.Generator
    start_idx: int
    last_idx: int
    team: TeamPlan = NO_TEAM
    seed: int = 0


@dataclass(frozen=True)
class Scenario:
    """A named fault with its share of deals, a floor so small months still show it, and
    the share of its deals taken from strategic accounts."""

    name: str
    rate: float
    min_count: int
    inject: Callable[[FaultContext, np.ndarray], None]
    strategic_share: float = 0.0


def _uniform(ctx: FaultContext, low: float, high: float, n: int) -> np.ndarray:
    return ctx.rng.uniform(low, high, n)


def _link_at_creation(ctx: FaultContext, idx: np.ndarray) -> None:
    ctx.plan.project_link_at[idx] = ctx.plan.project_at[idx]


def _reproject(ctx: FaultContext, idx: np.ndarray) -> None:
    """A healthy trigger reacting to the scenario's new eligibility time."""
    ctx.plan.project_at[idx] = automation_lag(ctx.rng, ctx.clock, ctx.plan.eligible_since()[idx])
    _link_at_creation(ctx, idx)


def _sign(ctx: FaultContext, idx: np.ndarray, signed_at: np.ndarray, countersign_share: float = 0.5) -> None:
    """Set a signature time with a matching send and (sometimes) countersignature."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    plan.signed_at[idx] = signed_at
    reference = np.where(signed_at < NEVER, signed_at, plan.closed_won_at[idx])
    plan.contract_sent_at[idx] = clock.add_seconds(reference, -uniform_seconds(ctx.rng, DAY, 8 * DAY, n))
    countersigned = clock.add_seconds(signed_at, uniform_seconds(ctx.rng, 10 * MINUTE, 20 * HOUR, n))
    plan.countersigned_at[idx] = np.where(ctx.rng.random(n) < countersign_share, countersigned, NEVER)


def _prepay_with_signature(ctx: FaultContext, idx: np.ndarray) -> None:
    """Prepayment deals in a contract scenario pay right after signing, so only the
    contract decides eligibility."""
    plan = ctx.plan
    prepay = idx[plan.payment_condition[idx] == PREPAYMENT]
    plan.payment_received_at[prepay] = ctx.clock.add_seconds(plan.signed_at[prepay], HOUR)


def inject_excluded(ctx: FaultContext, idx: np.ndarray) -> None:
    """Deliberately not onboarded, in shapes that would fire every trigger rule if the
    monitor forgot the exclusion."""
    plan, clock, rng, n = ctx.plan, ctx.clock, ctx.rng, len(idx)
    plan.excluded_reason[idx] = rng.integers(0, len(EXCLUDED_REASONS), n)
    look = np.arange(n) % 6
    ready = later(plan.closed_won_at[idx], plan.signed_at[idx])
    plan.project_at[idx] = automation_lag(rng, clock, ready)
    _link_at_creation(ctx, idx)
    plan.project_at[idx[look == 0]] = NEVER
    unsigned = idx[look == 1]
    _sign(ctx, unsigned, np.full(len(unsigned), NEVER))
    plan.project_at[unsigned] = NEVER
    early = idx[look == 2]
    plan.project_at[early] = clock.add_seconds(
        plan.closed_won_at[early], uniform_seconds(rng, HOUR, 6 * HOUR, len(early))
    )
    plan.project_manual[early] = True
    _link_at_creation(ctx, early)
    _sign(ctx, early, clock.add_business_days(plan.closed_won_at[early], _uniform(ctx, 0.5, 3, len(early))))
    open_stage = idx[look == 3]
    plan.closed_won_at[open_stage] = NEVER
    plan.project_at[open_stage] = NEVER
    paused = idx[look == 4]
    pause_after = _uniform(ctx, 0.2, 1, len(paused))
    plan.paused_at[paused] = clock.add_business_days(plan.project_at[paused], pause_after)
    plan.paused_reason[paused] = rng.integers(0, len(PAUSED_REASONS), len(paused))
    twice = idx[look == 5]
    second = clock.add_business_days(plan.project_at[twice], _uniform(ctx, 0.01, 1, len(twice)))
    plan.extra_projects.append(
        ProjectBatch(
            deal=twice,
            created_at=second,
            manual=np.zeros(len(twice), dtype=bool),
            link_at=second,
            cancelled_at=np.full(len(twice), NEVER),
        )
    )


def inject_missed_never(ctx: FaultContext, idx: np.ndarray) -> None:
    """The trigger never fired and nobody noticed."""
    ctx.plan.project_at[idx] = NEVER


def inject_missed_late(ctx: FaultContext, idx: np.ndarray) -> None:
    """The trigger fired late, or someone created the project by hand after a day or more."""
    plan, n = ctx.plan, len(idx)
    plan.project_at[idx] = ctx.clock.add_business_days(plan.eligible_since()[idx], _uniform(ctx, 1.1, 5, n))
    plan.project_manual[idx] = ctx.rng.random(n) < 0.6
    _link_at_creation(ctx, idx)


def inject_edge_break(ctx: FaultContext, idx: np.ndarray) -> None:
    """Eligible mid-afternoon on the last business day before a weekend or holiday.

    Four variants, in turn: picked up next business morning (clean), next business day
    just after the eligibility hour (late, but already there by that day's run), the
    business day after that (late and reported by the next business day's run), and an
    automation catch-up over the weekend (clean).
    """
    plan, clock, rng, n = ctx.plan, ctx.clock, ctx.rng, len(idx)
    days = np.arange(max(ctx.start_idx - 3, 0), ctx.last_idx)
    before_break = days[clock.is_business[days] & ~clock.is_business[days + 1]]
    if len(before_break) == 0:
        before_break = days[clock.is_business[days]] if clock.is_business[days].any() else days
    day = rng.choice(before_break, n)
    time_of_day = uniform_seconds(rng, 15 * HOUR, 17.5 * HOUR, n)
    close = clock.at(day, time_of_day)
    plan.closed_won_at[idx] = close
    _sign(ctx, idx, clock.add_business_days(close, -_uniform(ctx, 0.1, 0.5, n)), countersign_share=0.6)
    plan.payment_received_at[idx] = np.where(
        plan.payment_condition[idx] == PREPAYMENT, clock.add_seconds(plan.signed_at[idx], 30 * MINUTE), NEVER
    )
    next_day, day_after = clock.next_business_day(day, 1), clock.next_business_day(day, 2)
    variant = np.arange(n) % 4
    morning = clock.at(next_day, 9 * HOUR + (rng.random(n) * (time_of_day - 10 * HOUR)).astype(np.int64))
    just_late = clock.at(next_day, time_of_day + uniform_seconds(rng, 20 * MINUTE, 2 * HOUR, n))
    reported = clock.at(day_after, uniform_seconds(rng, 9.5 * HOUR, 11 * HOUR, n))
    catch_up = clock.add_seconds(close, uniform_seconds(rng, HOUR, 20 * HOUR, n))
    plan.project_at[idx] = np.choose(variant, [morning, just_late, reported, catch_up])
    _link_at_creation(ctx, idx)


def inject_premature_unsigned(ctx: FaultContext, idx: np.ndarray) -> None:
    """Project created on closed-won while the contract is still out for signature."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    close = plan.closed_won_at[idx]
    signed = clock.add_business_days(close, _uniform(ctx, 0.5, 4, n))
    _sign(ctx, idx, np.where(ctx.rng.random(n) < 0.8, signed, NEVER))
    _prepay_with_signature(ctx, idx)
    plan.project_at[idx] = clock.add_seconds(close, uniform_seconds(ctx.rng, 2 * MINUTE, HOUR, n))
    _link_at_creation(ctx, idx)


def inject_premature_prepayment(ctx: FaultContext, idx: np.ndarray) -> None:
    """Project created before the required prepayment arrived (or it never does)."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    plan.payment_condition[idx] = PREPAYMENT
    ready = later(plan.closed_won_at[idx], plan.signed_at[idx])
    plan.project_at[idx] = clock.add_seconds(ready, uniform_seconds(ctx.rng, 2 * MINUTE, HOUR, n))
    paid = clock.add_business_days(ready, _uniform(ctx, 0.5, 6, n))
    plan.payment_received_at[idx] = np.where(ctx.rng.random(n) < 0.75, paid, NEVER)
    _link_at_creation(ctx, idx)


def _signature_starts_project(ctx: FaultContext, idx: np.ndarray) -> np.ndarray:
    """A trigger listening to signature instead of closed-won: returns the signing instant."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    signed = plan.closed_won_at[idx].copy()
    _sign(ctx, idx, signed)
    plan.payment_condition[idx] = np.where(
        plan.payment_condition[idx] == PREPAYMENT, PAY_NONE, plan.payment_condition[idx]
    )
    plan.payment_received_at[idx] = NEVER
    plan.project_at[idx] = clock.add_seconds(signed, uniform_seconds(ctx.rng, 5 * MINUTE, 2 * HOUR, n))
    _link_at_creation(ctx, idx)
    return signed


def inject_premature_open_stage(ctx: FaultContext, idx: np.ndarray) -> None:
    """Project created on signature while the opportunity is still open; closed later."""
    signed = _signature_starts_project(ctx, idx)
    ctx.plan.closed_won_at[idx] = ctx.clock.add_business_days(signed, _uniform(ctx, 0.3, 4, len(idx)))


def inject_premature_never_eligible(ctx: FaultContext, idx: np.ndarray) -> None:
    """Project created on signature for a deal that is then lost or whose contract is
    cancelled; some of those projects are cancelled afterwards, most linger."""
    plan, clock, rng, n = ctx.plan, ctx.clock, ctx.rng, len(idx)
    signed = _signature_starts_project(ctx, idx)
    plan.closed_won_at[idx] = NEVER
    ends = clock.add_business_days(signed, _uniform(ctx, 0.5, 3, n))
    lost = rng.random(n) < 0.5
    plan.closed_lost_at[idx] = np.where(lost, ends, NEVER)
    plan.contract_cancelled_at[idx] = np.where(lost, NEVER, ends)
    cleanup = clock.add_business_days(ends, _uniform(ctx, 0.5, 3, n))
    plan.project_cancelled_at[idx] = np.where(rng.random(n) < 0.35, cleanup, NEVER)


def inject_duplicate(ctx: FaultContext, idx: np.ndarray) -> None:
    """A second project for the same opportunity (a retry, or someone by hand); some are
    cancelled later, and some replace a cancelled first project (not a duplicate)."""
    plan, clock, rng, n = ctx.plan, ctx.clock, ctx.rng, len(idx)
    first = plan.project_at[idx]
    second = clock.add_business_days(first, _uniform(ctx, 0.005, 2.0, n))
    roll = rng.random(n)
    replaced = roll < 0.15
    cancelled_later = (roll >= 0.15) & (roll < 0.5)
    just_before_second = np.maximum(first + MINUTE, second - 10 * MINUTE)
    plan.project_cancelled_at[idx] = np.where(replaced, just_before_second, NEVER)
    cleanup = clock.add_business_days(second, _uniform(ctx, 0.3, 3, n))
    plan.extra_projects.append(
        ProjectBatch(
            deal=idx,
            created_at=second,
            manual=rng.random(n) < 0.5,
            link_at=second,
            cancelled_at=np.where(cancelled_later, cleanup, NEVER),
        )
    )


def inject_unlinked(ctx: FaultContext, idx: np.ndarray) -> None:
    """Someone created the project by hand without the deal link; half get linked later."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    plan.project_at[idx] = clock.add_business_days(plan.eligible_since()[idx], _uniform(ctx, 0.1, 1.5, n))
    plan.project_manual[idx] = True
    linked = clock.add_business_days(plan.project_at[idx], _uniform(ctx, 0.5, 5, n))
    plan.project_link_at[idx] = np.where(ctx.rng.random(n) < 0.5, linked, NEVER)


def inject_stuck_contract(ctx: FaultContext, idx: np.ndarray) -> None:
    """Closed-won with the contract still out: signed days later, or never."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    signed = clock.add_business_days(plan.closed_won_at[idx], _uniform(ctx, 3, 12, n))
    _sign(ctx, idx, np.where(ctx.rng.random(n) < 0.75, signed, NEVER))
    _prepay_with_signature(ctx, idx)
    _reproject(ctx, idx)


def inject_stuck_prepayment(ctx: FaultContext, idx: np.ndarray) -> None:
    """Closed-won and signed, prepayment outstanding for days (or for good)."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    plan.payment_condition[idx] = PREPAYMENT
    ready = later(plan.closed_won_at[idx], plan.signed_at[idx])
    paid = clock.add_business_days(ready, _uniform(ctx, 3, 12, n))
    plan.payment_received_at[idx] = np.where(ctx.rng.random(n) < 0.75, paid, NEVER)
    _reproject(ctx, idx)


def inject_paused(ctx: FaultContext, idx: np.ndarray) -> None:
    """Handoff paused for missing data; half are resumed after a while."""
    plan, clock, rng, n = ctx.plan, ctx.clock, ctx.rng, len(idx)
    plan.paused_at[idx] = clock.add_business_days(plan.project_at[idx], _uniform(ctx, 0.3, 5, n))
    plan.paused_reason[idx] = rng.integers(0, len(PAUSED_REASONS), n)
    resumed = clock.add_business_days(plan.paused_at[idx], _uniform(ctx, 0.5, 6, n))
    plan.resumed_at[idx] = np.where(rng.random(n) < 0.5, resumed, NEVER)


def inject_signed_not_closed(ctx: FaultContext, idx: np.ndarray) -> None:
    """Signed days before sales marks the opportunity closed-won (some never do)."""
    plan, clock, n = ctx.plan, ctx.clock, len(idx)
    close = plan.closed_won_at[idx]
    _sign(ctx, idx, clock.add_business_days(close, -_uniform(ctx, 1.1, 6, n)), countersign_share=0.6)
    _prepay_with_signature(ctx, idx)
    plan.closed_won_at[idx] = np.where(ctx.rng.random(n) < 0.15, NEVER, close)
    _reproject(ctx, idx)


# Projects started before their deal was eligible.
PREMATURE_STARTS = ("premature_unsigned", "premature_prepayment", "premature_open_stage", "premature_never_eligible")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("excluded", 0.03, 6, inject_excluded),
    Scenario("duplicate", 0.015, 4, inject_duplicate, strategic_share=0.35),
    Scenario("missed_never", 0.01, 2, inject_missed_never),
    Scenario("missed_late", 0.02, 3, inject_missed_late),
    Scenario("edge_break", 0.03, 4, inject_edge_break),
    Scenario("premature_unsigned", 0.01, 2, inject_premature_unsigned),
    Scenario("premature_prepayment", 0.01, 2, inject_premature_prepayment),
    Scenario("premature_open_stage", 0.01, 2, inject_premature_open_stage),
    Scenario("premature_never_eligible", 0.005, 2, inject_premature_never_eligible),
    Scenario("unlinked", 0.015, 3, inject_unlinked),
    Scenario("stuck_contract", 0.015, 3, inject_stuck_contract),
    Scenario("stuck_prepayment", 0.01, 2, inject_stuck_prepayment),
    Scenario("paused", 0.03, 4, inject_paused),
    Scenario("signed_not_closed", 0.02, 3, inject_signed_not_closed),
)

# Share of clean projects created by hand, alternating by week so the trailing-week
# manual share crosses the threshold in both directions during the month.
MANUAL_HIGH_WEEK = (0.13, 0.20)
MANUAL_LOW_WEEK = (0.01, 0.04)
IN_FLIGHT_FAULT_WEIGHT = 0.4


def assign_scenarios(ctx: FaultContext) -> dict[str, np.ndarray]:
    """Draw each scenario's deals without replacement from the exported deals. Deals that
    closed before the month are drawn less often: most of their faults would have played
    out before the first snapshot."""
    plan, rng = ctx.plan, ctx.rng
    crm = np.flatnonzero(plan.in_crm)
    in_flight = plan.closed_won_at[crm] < ctx.clock.midnight[ctx.start_idx]
    weight = np.where(in_flight, IN_FLIGHT_FAULT_WEIGHT, 1.0)
    pool = rng.choice(crm, len(crm), replace=False, p=weight / weight.sum())
    taken = np.zeros(plan.n, dtype=bool)
    chosen: dict[str, np.ndarray] = {}
    crm_deals = int(plan.in_crm.sum())
    for scenario in SCENARIOS:
        free = pool[~taken[pool]]
        count = min(max(scenario.min_count, round(scenario.rate * crm_deals)), len(free) // 2)
        strategic_count = round(count * scenario.strategic_share)
        strategic = free[plan.strategic[free]][:strategic_count]
        rest = free[~np.isin(free, strategic)][: count - len(strategic)]
        idx = np.sort(np.concatenate([strategic, rest]))
        taken[idx] = True
        plan.scenario[idx] = scenario.name
        chosen[scenario.name] = idx
    return chosen


def inject_manual_weeks(ctx: FaultContext) -> None:
    """Clean projects created by hand at a rate that swings week to week."""
    plan, clock, rng = ctx.plan, ctx.clock, ctx.rng
    clean = np.flatnonzero((plan.scenario == "clean") & plan.in_crm & (plan.project_at < NEVER))
    week = (clock.day_of(plan.project_at[clean]) - ctx.start_idx) // 7
    weeks = np.arange(week.min(initial=0), week.max(initial=0) + 1)
    phase = rng.integers(0, 2)
    rate = np.where(
        (weeks + phase) % 2 == 0, rng.uniform(*MANUAL_HIGH_WEEK, len(weeks)), rng.uniform(*MANUAL_LOW_WEEK, len(weeks))
    )
    manual = clean[rng.random(len(clean)) < rate[week - weeks[0]]]
    plan.project_manual[manual] = True
    plan.project_at[manual] = clock.add_business_days(
        plan.eligible_since()[manual], _uniform(ctx, 0.05, 0.7, len(manual))
    )
    _link_at_creation(ctx, manual)


def inject_orphan_projects(ctx: FaultContext) -> None:
    """Projects created by hand for accounts whose opportunity is not in the export."""
    plan, clock, rng = ctx.plan, ctx.clock, ctx.rng
    shadows = np.flatnonzero(~plan.in_crm)
    n = len(shadows)
    plan.scenario[shadows] = "orphan_project"
    plan.project_at[shadows] = clock.add_seconds(
        plan.closed_won_at[shadows], uniform_seconds(rng, 10 * MINUTE, 3 * HOUR, n)
    )
    plan.project_manual[shadows] = True
    plan.project_link_at[shadows] = NEVER
    plan.project_cancelled_at[shadows] = np.where(
        rng.random(n) < 0.3, clock.add_business_days(plan.project_at[shadows], _uniform(ctx, 1, 6, n)), NEVER
    )


def apply_trigger_faults(ctx: FaultContext) -> dict[str, np.ndarray]:
    """Run every trigger-area injector, then the team's answer; returns the deals each
    scenario took (before the team put some of them back on the clean path)."""
    clean = _timelines(ctx.plan)
    chosen = assign_scenarios(ctx)
    for scenario in SCENARIOS:
        scenario.inject(ctx, chosen[scenario.name])
    inject_manual_weeks(ctx)
    inject_orphan_projects(ctx)
    answer_trigger_fixes(ctx, clean, chosen)
    return chosen


def _timelines(plan: DealPlan) -> dict[str, np.ndarray]:
    return {f.name: getattr(plan, f.name).copy() for f in dataclasses.fields(plan) if f.name != "extra_projects"}


def answer_trigger_fixes(ctx: FaultContext, clean: dict[str, np.ndarray], chosen: dict[str, np.ndarray]) -> None:
    """The team's work on the trigger (see `response.py`).

    Each faulty deal keeps its scenario with the fault intensity at the first instant it
    shows on either path (so no event before the fix is undone); the others take the clean
    timeline the automation would have given them. Every deal is injected first, so the
    draws of the deals that keep their fault never depend on the team. The faults still
    open are then put right at the cleanup instant: the missing project is created by
    hand, the duplicate and the project started for a deal that never becomes eligible
    cancelled, the paused handoff resumed, the unlinked project linked
    (`link_unlinked_projects`). Projects come and go with these fixes, so the records
    drawn after them (in creation order) are drawn anew."""
    plan, clock, team = ctx.plan, ctx.clock, ctx.team
    faulty = np.concatenate([chosen[s.name] for s in SCENARIOS if s.name != "excluded"])
    keep = stream(ctx.seed, "response", "trigger").random(plan.n)[faulty]
    first_seen = earlier(plan.visible_at(), clean["closed_won_at"], clean["signed_at"], clean["project_at"])
    restored = faulty[keep >= team.intensity("trigger", clock, first_seen[faulty])]
    for name, values in clean.items():
        getattr(plan, name)[restored] = values[restored]
    plan.extra_projects = [_without(batch, restored) for batch in plan.extra_projects]

    cleanup = team.cleanup("trigger", clock, ctx.seed, "deals", plan.n)
    eligible = plan.eligible_since()
    by_hand = (plan.scenario == "missed_never") & (eligible < NEVER) & (cleanup < NEVER)
    created = later(cleanup, clock.add_business_days(eligible, 1.2))
    plan.project_at = np.where(by_hand, created, plan.project_at)
    plan.project_link_at = np.where(by_hand, created, plan.project_link_at)
    plan.project_manual = plan.project_manual | by_hand
    # Sales tells the team which deals behind a premature start are dead (lost, cancelled,
    # never signed or never paid): their projects are cancelled; the others go on.
    lingering = np.isin(plan.scenario, PREMATURE_STARTS) & (eligible >= NEVER)
    plan.project_cancelled_at = np.where(
        lingering, earlier(plan.project_cancelled_at, later(cleanup, plan.project_at)), plan.project_cancelled_at
    )
    paused = (plan.scenario == "paused") & (plan.paused_at < NEVER)
    plan.resumed_at = np.where(paused, earlier(plan.resumed_at, later(cleanup, plan.paused_at)), plan.resumed_at)
    for batch in plan.extra_projects:
        duplicate = (plan.scenario[batch.deal] == "duplicate") & (plan.project_cancelled_at[batch.deal] >= NEVER)
        batch.cancelled_at[:] = np.where(
            duplicate, earlier(batch.cancelled_at, later(cleanup[batch.deal], batch.created_at)), batch.cancelled_at
        )


def _without(batch: ProjectBatch, deals: np.ndarray) -> ProjectBatch:
    keep = ~np.isin(batch.deal, deals)
    return ProjectBatch(
        deal=batch.deal[keep],
        created_at=batch.created_at[keep],
        manual=batch.manual[keep],
        link_at=batch.link_at[keep],
        cancelled_at=batch.cancelled_at[keep],
    )


def link_unlinked_projects(
    projects: pl.DataFrame, deals: pl.DataFrame, team: TeamPlan, clock: Clock, seed: int
) -> pl.DataFrame:
    """The team links the projects created without their deal at the trigger's cleanup
    instant, unless someone linked them sooner. A link after the kickoff completes the
    journey from that day on; the monitor dates the link, so earlier days keep their gap."""
    cleanup = team.cleanup("trigger", clock, seed, "links", len(projects))
    unlinked = deals["scenario"].gather(projects["deal"]).to_numpy() == "unlinked"
    link_at = projects["link_at"].to_numpy()
    linked = later(cleanup, projects["created_at"].to_numpy())
    return projects.with_columns(link_at=pl.Series(np.where(unlinked, earlier(link_at, linked), link_at)))
