"""Handoff, owner, kickoff and customer-side behaviour: the people part of every onboarding.

`children.enrich_projects` lays down one generic healthy process. This module re-times
everything people do around an onboarding (answering the handoff, taking ownership,
filling the owner roles, creating, booking and holding the kickoff, cleaning up the
handoff packet, customers working through their tasks, milestones being reached) as
explicit mixtures: mostly on time, some just before or just after each SLA, some late,
a few stalled. Events are placed with the business clock, so weekends and holidays fall
between them as they would in real life, and later events resolve earlier findings
(fields get filled, owners assigned, tasks completed).

Aims use the default SLAs below so near-threshold cases straddle them; whether a case
fires is decided only by the oracle, from the snapshot, with the configured rules.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from hypercare.synth.children import HANDOFF_FIELDS, MILESTONES, TASK_TYPES, TASKS_BLOCKING_FIRST_VALUE
from hypercare.synth.clock import HOUR, MINUTE, NEVER, Clock, earlier, later
from hypercare.synth.model import (
    ENTERPRISE,
    MODULES,
    PREPAYMENT,
    SERVICES,
    foreign_offsets,
    people,
    pick,
    sequence_ids,
    stream,
    uniform_seconds,
    where_text,
)
from hypercare.synth.response import NO_TEAM, TeamPlan

DAY = 86_400
# Default SLAs by segment code (enterprise, mid_market, smb), in business days.
SCHEDULE_SLA = np.array([3.0, 3.0, 2.0])
COMPLETE_SLA = np.array([10.0, 7.0, 5.0])
MILESTONE_GRACE = np.array([5.0, 3.0, 2.0])
ROLE_SLA = 2.0
# Template targets of implementation, configuration, launch and first value, in business
# days after the project is created (the kickoff milestone targets the kickoff SLA).
MILESTONE_TARGETS = np.array([[16, 24, 34, 45], [10, 14, 20, 26], [7, 10, 13, 16]], dtype=np.float64)
REQUIRED_FIELDS = {
    0: HANDOFF_FIELDS,
    1: tuple(f for f in HANDOFF_FIELDS if f not in ("stakeholder_executive_sponsor", "implementation_constraints")),
    2: (
        "legal_account_name",
        "package",
        "contracted_services",
        "success_criteria",
        "stakeholder_admin",
        "stakeholder_billing_contact",
    ),
}
# How often sales leaves each handoff element blank, relative to the others.
SKIP_WEIGHT = {
    "legal_account_name": 0.3,
    "package": 0.3,
    "contracted_services": 0.6,
    "success_criteria": 0.5,
    "promised_timeline": 1.2,
    "stakeholder_buyer": 0.5,
    "stakeholder_champion": 0.8,
    "stakeholder_admin": 1.0,
    "stakeholder_technical_owner": 1.3,
    "stakeholder_billing_contact": 1.2,
    "stakeholder_executive_sponsor": 1.5,
    "implementation_constraints": 1.6,
    "non_standard_terms": 0.8,
    "billing_details": 1.2,
    "customer_task_dependencies": 1.5,
}
REASON_CODES = (
    "waiting_on_customer_admin",
    "waiting_on_billing_info",
    "waiting_on_technical_credentials",
    "waiting_on_internal_provisioning",
    "scope_mismatch",
    "no_success_criteria",
    "customer_no_response",
    "integration_failure",
)
TASK_REASONS = {
    "kickoff_attendance": ("customer_no_response",),
    "forms": ("waiting_on_billing_info", "customer_no_response"),
    "admin_invite": ("waiting_on_customer_admin",),
    "integration_credentials": ("waiting_on_technical_credentials", "integration_failure"),
    "data_upload": ("waiting_on_customer_admin", "waiting_on_internal_provisioning"),
    "technical_validation": (
        "waiting_on_technical_credentials",
        "waiting_on_internal_provisioning",
        "integration_failure",
    ),
    "training": ("customer_no_response", "waiting_on_customer_admin"),
    "first_use_case": ("no_success_criteria", "scope_mismatch", "customer_no_response"),
}
MILESTONE_REASONS = {
    "kickoff": ("customer_no_response", "waiting_on_customer_admin"),
    "implementation": ("waiting_on_internal_provisioning", "waiting_on_technical_credentials"),
    "configuration": ("waiting_on_technical_credentials", "integration_failure", "scope_mismatch"),
    "launch": ("waiting_on_billing_info", "waiting_on_internal_provisioning"),
    "first_value": ("no_success_criteria", "customer_no_response", "scope_mismatch"),
}
TASK_DUE_DAYS = {
    "forms": (3, 6),
    "admin_invite": (2, 5),
    "integration_credentials": (4, 8),
    "data_upload": (5, 10),
    "technical_validation": (5, 10),
    "training": (4, 10),
    "first_use_case": (8, 15),
}
TASKS_AT_KICKOFF = ("technical_validation", "training", "first_use_case")
CHURN_SLOTS = 4

# Mixture shares, each tuple in the order its function documents: on time, around the
# threshold, late, very late (or never).
ANSWER_MIX = (0.78, 0.08, 0.10, 0.04)
OWNER_MIX = (0.84, 0.06, 0.07, 0.03)
ROLE_MIX = (0.90, 0.04, 0.045, 0.015)
TASK_MIX = (0.92, 0.02, 0.045, 0.015)
SCHEDULE_MIX = (0.85, 0.06, 0.07, 0.02)
KICKOFF_MIX = (0.82, 0.07, 0.08, 0.03)
MILESTONE_MIX = (0.84, 0.06, 0.07, 0.03)
# Share of kickoffs with no, one, two or three no-shows or reschedules before the meeting.
CHURN_EVENTS = (0.82, 0.11, 0.05, 0.02)
# Share of packets with required elements blank at submission; cleanup timing of those
# (well before the kickoff, in its last two business days, around it, after it); share of
# onboardings whose success criteria are still blank at the kickoff; share of packets
# corrected later.
PACKET_GAPS = 0.24
CLEANUP_MIX = (0.70, 0.10, 0.06, 0.14)
SUCCESS_CRITERIA_LATE = 0.025
CORRECTED_PACKETS = 0.14
# Customers (responsive, slow, dark); their tasks' engagement (engaged, goes quiet,
# silent) by customer; completion (on time, around the due date, late, very late) by
# engagement, of which NEVER_DONE never finish.
CUSTOMER_MIX = (0.85, 0.10, 0.05)
ENGAGEMENT_BY_CUSTOMER = np.array([[0.92, 0.06, 0.02], [0.50, 0.35, 0.15], [0.10, 0.30, 0.60]])
COMPLETION_BY_ENGAGEMENT = np.array([[0.86, 0.06, 0.07, 0.01], [0.35, 0.10, 0.35, 0.20], [0.15, 0.05, 0.40, 0.40]])
NEVER_DONE = 0.3
# Share of stalled tasks and milestones that get a reason code; first value evidence
# recorded with the milestone, a few days later, or never.
REASON_GIVEN = 0.62
EVIDENCE_MIX = (0.92, 0.04, 0.04)
# Tasks of a cancelled project usually leave the export once someone archives them; the
# rest linger as tasks of an onboarding with no live project.
ARCHIVED_WITH_PROJECT = 0.8


def _mix(rng: np.random.Generator, n: int, shares: tuple[float, ...]) -> np.ndarray:
    p = np.asarray(shares, dtype=np.float64)
    return rng.choice(len(p), n, p=p / p.sum())


def _rows_mix(rng: np.random.Generator, table: np.ndarray) -> np.ndarray:
    """One draw per row from that row's own probabilities (rows of `table`)."""
    cumulative = np.cumsum(table, axis=1)
    return np.minimum((rng.random(len(table))[:, None] > cumulative).sum(axis=1), table.shape[1] - 1)


def _team_rows(table: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """Per-row probabilities whose faulty kinds (all but the first) shrink with each row's
    intensity; the first, healthy kind takes what they give up."""
    scaled = np.array(table, dtype=np.float64)
    scaled[:, 1:] *= np.minimum(intensity, 1.0)[:, None]
    scaled[:, 0] = 1.0 - scaled[:, 1:].sum(axis=1)
    return scaled


def _team_mix(rng: np.random.Generator, shares: tuple[float, ...], intensity: np.ndarray) -> np.ndarray:
    """`_mix` whose faulty kinds (all but the first) shrink with each row's intensity."""
    p = np.asarray(shares, dtype=np.float64) / sum(shares)
    return _rows_mix(rng, _team_rows(np.broadcast_to(p, (len(intensity), len(p))), intensity))


def _taken(rng: np.random.Generator, share: float, intensity: np.ndarray) -> np.ndarray:
    """A good habit kept at `share`, by more rows as the team works the area."""
    return rng.random(len(intensity)) < 1.0 - (1.0 - share) * np.minimum(intensity, 1.0)


def _by_cleanup(at: np.ndarray, cleanup: np.ndarray, soonest: np.ndarray) -> np.ndarray:
    """`at`, or the team's cleanup instant when that comes first (never before `soonest`)."""
    return earlier(at, later(cleanup, soonest))


def _has(mask: np.ndarray, vocabulary: tuple[str, ...], name: str) -> np.ndarray:
    return (mask >> vocabulary.index(name) & 1).astype(bool)


def _office_hours(rng: np.random.Generator, clock: Clock, ts: np.ndarray) -> np.ndarray:
    """The same (or next) business day, at a meeting time between 09:30 and 16:00."""
    day = clock.next_business_day(clock.day_of(ts), 0)
    moved = clock.at(day, uniform_seconds(rng, 9.5 * HOUR, 16 * HOUR, len(ts)))
    return np.where(ts < NEVER, moved, NEVER)


def _near_day_end(rng: np.random.Generator, clock: Clock, threshold: np.ndarray) -> np.ndarray:
    """Up to two hours either side of the end of the day on which `threshold` falls. Rules
    are judged at the end of each day, so a breach resolved just before that instant is
    never reported and one resolved just after it is reported exactly once."""
    end = clock.midnight[np.minimum(clock.day_of(threshold) + 1, len(clock.midnight) - 1)]
    moved = end + uniform_seconds(rng, -2 * HOUR, 2 * HOUR, threshold.shape)
    return np.where(threshold < NEVER, moved, NEVER)


def eligible_since(deals: pl.DataFrame) -> np.ndarray:
    """Hidden instant each deal becomes eligible (NEVER if it does not)."""

    def col(name: str) -> np.ndarray:
        return deals[name].to_numpy()

    payment = np.where(col("payment_code") == PREPAYMENT, col("payment_received_at"), 0)
    since = later(col("closed_won_at"), col("signed_at"), payment)
    ended = earlier(col("contract_cancelled_at"), col("closed_lost_at")) < since
    excluded = deals["excluded_reason"].is_not_null().to_numpy()
    return np.where(ended | excluded, NEVER, since)


def sla_segment(projects: pl.DataFrame, deals: pl.DataFrame) -> np.ndarray:
    """Segment code the monitor will judge each project by: its deal's, or enterprise (the
    default unknown segment) for projects whose deal never reaches the export."""
    deal = projects["deal"].to_numpy()
    return np.where(deals["in_crm"].to_numpy()[deal], deals["segment_code"].to_numpy()[deal], ENTERPRISE)


# -- the project: handoff answer, owners, kickoff, milestones ----------------------------
def retime_projects(
    seed: int, projects: pl.DataFrame, deals: pl.DataFrame, clock: Clock, team: TeamPlan = NO_TEAM
) -> pl.DataFrame:
    """Re-time the people columns of every project before the child tables are built.

    Where the team works handoffs or ownership, projects created later get fewer late
    answers, owners and kickoffs, and owners and tasks still missing are put in place."""
    rng = stream(seed, "people", "projects")
    n = len(projects)
    deal = projects["deal"].to_numpy()
    created = projects["created_at"].to_numpy()
    segment = sla_segment(projects, deals)
    eligible = eligible_since(deals)[deal]
    sla_start = np.where(deals["in_crm"].to_numpy()[deal] & (eligible < NEVER), eligible, created)
    handoff = team.intensity("handoff", clock, created)
    owning = team.intensity("ownership", clock, created)
    cleanup = team.cleanup("ownership", clock, seed, "projects", n)
    soonest = created + MINUTE

    submitted, accepted, rejected = _handoff_answer(rng, clock, projects, handoff)
    owner_at = _by_cleanup(_owner(rng, clock, created, earlier(created, sla_start), owning), cleanup, soonest)
    csm_at = _by_cleanup(_role(rng, clock, created, np.ones(n, dtype=bool), owning), cleanup, soonest)
    task_at = _by_cleanup(_kickoff_task(rng, clock, created, owning), cleanup, soonest)
    kickoff = _kickoff(rng, clock, created, sla_start, segment, later(owner_at, task_at), owning)
    targets, done = _milestone_plan(rng, clock, created, sla_start, segment, kickoff["kickoff_completed_at"], team)
    return projects.with_columns(
        handoff_submitted_at=submitted,
        handoff_accepted_at=accepted,
        handoff_rejected_at=rejected,
        owner_assigned_at=owner_at,
        csm_at=csm_at,
        kickoff_task_created_at=task_at,
        **kickoff,
        **{f"ms_target_{m}": targets[:, k] for k, m in enumerate(MILESTONES)},
        **{f"ms_done_{m}": done[:, k] for k, m in enumerate(MILESTONES)},
        completed_at=clock.add_business_days(done[:, -1], rng.uniform(2, 10, n)),
    ).drop("kickoff_no_shows", "kickoff_reschedules")


def _handoff_answer(
    rng: np.random.Generator, clock: Clock, projects: pl.DataFrame, intensity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onboarding accepts or rejects the packet: quickly, around one business day after
    submission, slowly, or it sits for weeks. Some hand-made projects never get a packet."""
    n = len(projects)
    created = projects["created_at"].to_numpy()
    no_packet = projects["manual"].to_numpy() & (rng.random(n) < 0.3)
    submitted = np.where(no_packet, NEVER, projects["handoff_submitted_at"].to_numpy())
    kind = _team_mix(rng, ANSWER_MIX, intensity)
    answer = np.choose(
        kind,
        [
            clock.add_business_days(submitted, rng.uniform(0.05, 0.8, n)),
            _near_day_end(rng, clock, clock.add_business_days(submitted, 1)),
            clock.add_business_days(submitted, rng.uniform(1.2, 4, n)),
            clock.add_business_days(submitted, rng.uniform(6, 20, n)),
        ],
    )
    answer = later(answer, clock.add_seconds(created, uniform_seconds(rng, 5 * MINUTE, 2 * HOUR, n)))
    rejected = rng.random(n) < 0.06
    return submitted, np.where(rejected, NEVER, answer), np.where(rejected, answer, NEVER)


def _owner(
    rng: np.random.Generator, clock: Clock, created: np.ndarray, start: np.ndarray, intensity: np.ndarray
) -> np.ndarray:
    """Named owner: within hours of creation, around one business day after the clock
    start, a few business days late, or weeks late."""
    n = len(created)
    kind = _team_mix(rng, OWNER_MIX, intensity)
    at = np.choose(
        kind,
        [
            clock.add_business_days(created, rng.uniform(0.02, 0.6, n)),
            _near_day_end(rng, clock, clock.add_business_days(start, 1)),
            clock.add_business_days(start, rng.uniform(1.2, 4, n)),
            clock.add_business_days(start, rng.uniform(5, 15, n)),
        ],
    )
    return later(at, created + MINUTE)


def _role(
    rng: np.random.Generator, clock: Clock, created: np.ndarray, needed: np.ndarray, intensity: np.ndarray
) -> np.ndarray:
    """A supporting role (csm, technical, finance): prompt, around the two-day SLA, late or
    never when needed; when not needed, sometimes assigned anyway."""
    n = len(created)
    kind = _team_mix(rng, ROLE_MIX, intensity)
    at = np.choose(
        kind,
        [
            clock.add_business_days(created, rng.uniform(0.1, 1.6, n)),
            _near_day_end(rng, clock, clock.add_business_days(created, ROLE_SLA)),
            clock.add_business_days(created, rng.uniform(ROLE_SLA + 0.3, 8, n)),
            np.full(n, NEVER),
        ],
    )
    extra = rng.random(n) < 0.25
    return np.where(needed, at, np.where(extra, clock.add_business_days(created, rng.uniform(0.1, 1.6, n)), NEVER))


def _kickoff_task(rng: np.random.Generator, clock: Clock, created: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """The automation creates the kickoff task within minutes; when it fails, someone adds
    it by hand around a day later, days later, or weeks later."""
    n = len(created)
    kind = _team_mix(rng, TASK_MIX, intensity)
    return np.choose(
        kind,
        [
            clock.add_seconds(created, uniform_seconds(rng, MINUTE, 30 * MINUTE, n)),
            _near_day_end(rng, clock, clock.add_business_days(created, 1)),
            clock.add_business_days(created, rng.uniform(1.2, 4, n)),
            clock.add_business_days(created, rng.uniform(5, 12, n)),
        ],
    )


def _kickoff(
    rng: np.random.Generator,
    clock: Clock,
    created: np.ndarray,
    sla_start: np.ndarray,
    segment: np.ndarray,
    ready: np.ndarray,
    intensity: np.ndarray,
) -> dict[str, np.ndarray]:
    """Booking and holding the kickoff, with no-shows and reschedules along the way.

    Booking: soon after owner and task exist, around the scheduling SLA, late, or very
    late. Holding: a few business days after booking, around the completion SLA, late, or
    not at all (the customer stops showing up). Between booking and the final meeting the
    customer may miss or move the meeting up to three times; each event changes the
    planned time the export shows from then on. Where the team works ownership, later
    projects book, hold and keep their kickoffs more reliably.
    """
    n = len(created)
    schedule_sla, complete_sla = SCHEDULE_SLA[segment], COMPLETE_SLA[segment]
    kind = _team_mix(rng, SCHEDULE_MIX, intensity)
    booked = np.choose(
        kind,
        [
            clock.add_business_days(ready, rng.uniform(0.05, 0.8, n)),
            _near_day_end(rng, clock, clock.add_business_days(sla_start, schedule_sla)),
            clock.add_business_days(sla_start, schedule_sla * rng.uniform(1.2, 2.5, n)),
            clock.add_business_days(sla_start, schedule_sla * rng.uniform(3, 8, n)),
        ],
    )
    booked = later(booked, ready + 5 * MINUTE, created + MINUTE)

    kind = _team_mix(rng, KICKOFF_MIX, intensity)
    usual = _office_hours(rng, clock, clock.add_business_days(booked, rng.uniform(1, 0.5 * complete_sla, n)))
    length = uniform_seconds(rng, 30 * MINUTE, 75 * MINUTE, n)
    edge = clock.add_seconds(_near_day_end(rng, clock, clock.add_business_days(sla_start, complete_sla)), -length)
    late = _office_hours(rng, clock, clock.add_business_days(sla_start, complete_sla * rng.uniform(1.2, 2.2, n)))
    meeting = later(np.choose(kind, [usual, edge, late, usual]), clock.add_business_days(booked, 0.3))
    held = kind != 3

    events = _team_mix(rng, CHURN_EVENTS, intensity)
    share = np.sort(rng.uniform(0.15, 0.9, (n, CHURN_SLOTS)), axis=1)
    span = np.where(meeting < NEVER, meeting - booked, 0)
    moment = booked[:, None] + (share * span[:, None]).astype(np.int64)
    no_show = rng.random((n, CHURN_SLOTS)) < 0.4
    slot = np.arange(CHURN_SLOTS)[None, :]
    used = slot < events[:, None]
    last_no_show = ~held[:, None] & (slot == events[:, None])
    moved_to = moment + uniform_seconds(rng, DAY // 2, 3 * DAY, n * CHURN_SLOTS).reshape(n, CHURN_SLOTS)
    plan = np.where(used, np.where(no_show, moment, moved_to), meeting[:, None])
    at = np.where(
        used,
        np.where(no_show, moment + 20 * MINUTE, moment),
        np.where(last_no_show, meeting[:, None] + 20 * MINUTE, NEVER),
    )
    at = np.where((booked < NEVER)[:, None], at, NEVER)
    no_show = np.where(used, no_show, last_no_show)
    columns = {
        "kickoff_scheduled_at": booked,
        "kickoff_scheduled_for": np.where(booked < NEVER, meeting, NEVER),
        "kickoff_completed_at": np.where(held, clock.add_seconds(meeting, length), NEVER),
    }
    for j in range(CHURN_SLOTS):
        columns[f"kickoff_plan_{j}"] = plan[:, j]
        columns[f"kickoff_churn_{j}_at"] = at[:, j]
        columns[f"kickoff_churn_{j}_no_show"] = no_show[:, j]
    return columns


def last_response(end: int) -> pl.Expr:
    """The customer's latest reply before `end`: replies come every `response_every`
    seconds from the first one until `response_stop` (done, or gone quiet)."""
    until = pl.min_horizontal(pl.lit(end - 1), pl.col("response_stop"))
    replies = (until - pl.col("response_at")) // pl.col("response_every")
    latest = pl.col("response_at") + replies * pl.col("response_every")
    seconds = pl.when((pl.col("response_at") < end) & (until >= pl.col("response_at"))).then(latest)
    return pl.from_epoch(seconds, time_unit="s").dt.replace_time_zone("UTC")


def kickoff_state(end: int) -> dict[str, pl.Expr]:
    """Planned meeting time and no-show / reschedule counts as the export shows them at
    `end`: the plan in force after the churn events so far."""
    planned = pl.col("kickoff_scheduled_for")
    no_shows, reschedules = pl.lit(0), pl.lit(0)
    for j in reversed(range(CHURN_SLOTS)):
        happened = pl.col(f"kickoff_churn_{j}_at") < end
        planned = pl.when(~happened).then(pl.col(f"kickoff_plan_{j}")).otherwise(planned)
        no_shows = no_shows + (happened & pl.col(f"kickoff_churn_{j}_no_show")).cast(pl.Int64)
        reschedules = reschedules + (happened & ~pl.col(f"kickoff_churn_{j}_no_show")).cast(pl.Int64)
    booked = pl.col("kickoff_scheduled_at") < end
    return {
        "kickoff_scheduled_for": pl.from_epoch(pl.when(booked).then(planned), time_unit="s").dt.replace_time_zone(
            "UTC"
        ),
        "kickoff_no_shows": pl.when(booked).then(no_shows),
        "kickoff_reschedules": pl.when(booked).then(reschedules),
    }


def _milestone_plan(
    rng: np.random.Generator,
    clock: Clock,
    created: np.ndarray,
    sla_start: np.ndarray,
    segment: np.ndarray,
    kickoff_done: np.ndarray,
    team: TeamPlan,
) -> tuple[np.ndarray, np.ndarray]:
    """Targets from the template and when each milestone is reached: before its grace runs
    out, around the end of the grace, late, or not at all. Milestones are reached in order
    and only after the kickoff, so a stalled one holds up the rest. Where the team works
    customer progress, milestones due later stall less often."""
    n = len(created)
    grace = MILESTONE_GRACE[segment]
    targets = np.empty((n, len(MILESTONES)), dtype=np.int64)
    done = np.empty_like(targets)
    targets[:, 0] = clock.add_business_days(sla_start, COMPLETE_SLA[segment])
    done[:, 0] = kickoff_done
    for k in range(1, len(MILESTONES)):
        targets[:, k] = clock.add_business_days(created, MILESTONE_TARGETS[segment, k - 1])
        kind = _team_mix(rng, MILESTONE_MIX, team.intensity("customer", clock, targets[:, k]))
        reached = np.choose(
            kind,
            [
                clock.add_business_days(targets[:, k], rng.uniform(-2, 0.6 * grace)),
                _near_day_end(rng, clock, clock.add_business_days(targets[:, k], grace)),
                clock.add_business_days(targets[:, k], grace + rng.uniform(0.5, 10, n)),
                np.full(n, NEVER),
            ],
        )
        done[:, k] = later(reached, clock.add_business_days(done[:, k - 1], rng.uniform(0.1, 1, n)), created + HOUR)
    return targets, done


# -- the tables that depend on the project's final shape ---------------------------------
def people_tables(
    seed: int,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    clock: Clock,
    team: TeamPlan = NO_TEAM,
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Technical and finance owners (which depend on provisioning and billing), and the
    handoff packet, customer tasks and milestones of every onboarding."""
    projects = _assign_roles(stream(seed, "people", "roles"), projects, deals, tables, clock, team, seed)
    return projects, {
        **tables,
        "handoff_fields": handoff_packets(stream(seed, "people", "handoff"), projects, deals, clock, team, seed),
        "customer_tasks": customer_work(stream(seed, "people", "tasks"), projects, deals, clock, team, seed),
        "milestones": milestone_rows(stream(seed, "people", "milestones"), projects, deals, clock, team, seed),
    }


def _assign_roles(
    rng: np.random.Generator,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    clock: Clock,
    team: TeamPlan,
    seed: int,
) -> pl.DataFrame:
    """A technical owner where the segment or an integration item calls for one (and for
    projects judged as the unknown segment), a finance owner where billing needs a PO or a
    tax id."""
    created = projects["created_at"].to_numpy()
    items = tables["provisioning_items"]
    integration = items.filter(pl.col("item_type") == "integration")["onboarding_id"].unique()
    unlinked_at_first = projects["link_at"].to_numpy() > created
    needs_technical = (
        (sla_segment(projects, deals) == ENTERPRISE)
        | unlinked_at_first
        | projects["onboarding_id"].is_in(integration.implode()).to_numpy()
    )
    billing = tables["billing_accounts"].filter(pl.col("po_required") | pl.col("tax_id_required"))
    needs_finance = projects["account_id"].is_in(billing["account_id"].implode()).to_numpy()
    owning = team.intensity("ownership", clock, created)
    cleanup = team.cleanup("ownership", clock, seed, "roles", len(created))
    return projects.with_columns(
        technical_at=_by_cleanup(_role(rng, clock, created, needs_technical, owning), cleanup, created + MINUTE),
        finance_at=_by_cleanup(_role(rng, clock, created, needs_finance, owning), cleanup, created + MINUTE),
    )


def _meeting_reference(projects: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first planned meeting, final planned meeting, kickoff held at or the final plan)."""
    first = projects["kickoff_plan_0"].to_numpy()
    final = projects["kickoff_scheduled_for"].to_numpy()
    done = projects["kickoff_completed_at"].to_numpy()
    return first, final, np.where(done < NEVER, done, final)


def handoff_packets(
    rng: np.random.Generator,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    clock: Clock,
    team: TeamPlan = NO_TEAM,
    seed: int = 0,
) -> pl.DataFrame:
    """Fifteen handoff elements per onboarding.

    About a quarter of packets reach onboarding with one to three required elements blank
    (weighted toward the ones sales tends to skip). Most gaps are cleaned up well before
    the kickoff, some in its last two business days, some right around it, some only after
    it (or never). Success criteria are rarely still missing at the kickoff. Optional
    elements are mostly filled. Some packets are corrected later, part of them after the
    kickoff. Where the team works the handoff, packets sent later have fewer gaps, cleaned
    up sooner, and the blanks still open are filled in.
    """
    p, k = len(projects), len(HANDOFF_FIELDS)
    created = projects["created_at"].to_numpy()
    submitted = projects["handoff_submitted_at"].to_numpy()
    has_packet = submitted < NEVER
    base = np.where(has_packet, later(submitted, created), created)
    first_meeting, _, kickoff = _meeting_reference(projects)
    kickoff_done = projects["kickoff_completed_at"].to_numpy()
    segment = sla_segment(projects, deals)
    required = np.array([[f in REQUIRED_FIELDS[s] for f in HANDOFF_FIELDS] for s in range(3)])[segment]

    weights = np.log(np.array([SKIP_WEIGHT[f] for f in HANDOFF_FIELDS]))
    keys = np.where(required, weights + rng.gumbel(size=(p, k)), -np.inf)
    rank = np.empty((p, k), dtype=np.int64)
    np.put_along_axis(rank, np.argsort(-keys, axis=1), np.arange(k)[None, :].repeat(p, axis=0), axis=1)
    fixing = team.intensity("handoff", clock, base)
    gaps = (rng.random(p) < PACKET_GAPS * np.minimum(fixing, 1.0)) * rng.choice([1, 2, 3], p, p=[0.55, 0.3, 0.15])
    missing_required = required & (rank < gaps[:, None])
    missing_optional = ~required & (rng.random((p, k)) < 0.15)
    success = HANDOFF_FIELDS.index("success_criteria")
    criteria_late = rng.random(p) < SUCCESS_CRITERIA_LATE * np.minimum(fixing, 1.0)
    missing_required[:, success] |= criteria_late
    cleanup = ((~has_packet)[:, None] | missing_required).ravel()
    optional_gap = (missing_optional.ravel()) & ~cleanup

    project = np.repeat(np.arange(p), k)
    field = np.tile(np.arange(k), p)
    filled = np.repeat(submitted, k) - (rng.uniform(0, 2, p * k) * DAY).astype(np.int64)
    kind = np.repeat(_team_mix(rng, CLEANUP_MIX, fixing), k)
    kind = np.where(criteria_late[project] & (field == success), 3, kind)
    cells = np.flatnonzero(cleanup)
    at = project[cells]
    filled[cells] = _cleanup(rng, clock, kind[cells], base[at], first_meeting[at], kickoff[at])
    blanks = team.cleanup("handoff", clock, seed, "handoff_fields", p)
    filled[cells] = _by_cleanup(filled[cells], blanks[at], base[at] + MINUTE)
    cells = np.flatnonzero(optional_gap)
    later_on = clock.add_business_days(base[project[cells]], rng.uniform(0.5, 8, len(cells)))
    filled[cells] = np.where(rng.random(len(cells)) < 0.5, later_on, NEVER)

    corrected_at = np.full(p * k, NEVER)
    corrected = np.repeat(rng.random(p) < CORRECTED_PACKETS, k) & (rng.random(p * k) < 0.12) & (filled < NEVER)
    cells = np.flatnonzero(corrected)
    corrected_at[cells] = _correction(rng, clock, filled[cells], kickoff_done[project[cells]])
    by_sales_side = rng.choice([0, 1, 2], p * k, p=[0.7, 0.15, 0.15])
    by_cleanup = rng.choice([3, 4, 1, 2], p * k, p=[0.55, 0.25, 0.1, 0.1])
    return pl.DataFrame(
        {
            "onboarding_id": projects["onboarding_id"].gather(project),
            "field": pick(HANDOFF_FIELDS, field),
            "appear_at": created[project],
            "filled_at": filled,
            "filled_by": pick(
                ("sales", "revops", "ai", "onboarding", "customer"), np.where(cleanup, by_cleanup, by_sales_side)
            ),
            "corrected_at": corrected_at,
            "corrected_by": people("revops", rng.integers(0, 6, p * k), 6),
            "_offset": foreign_offsets(rng, p)[project],
        }
    )


def _cleanup(
    rng: np.random.Generator,
    clock: Clock,
    kind: np.ndarray,
    base: np.ndarray,
    first_meeting: np.ndarray,
    kickoff: np.ndarray,
) -> np.ndarray:
    """When a blank element gets filled, by the packet's cleanup kind: well before the
    kickoff (at least two business days ahead of the first planned meeting when there is
    room), in the last two business days (half of them right around the day the window
    opens), within two hours either side of the kickoff, or after it (or never)."""
    n = len(kind)
    floor = base + 10 * MINUTE
    early = later(
        earlier(clock.add_business_days(base, rng.uniform(0.1, 1.2, n)), clock.add_business_days(first_meeting, -2.3)),
        floor,
    )
    window_opens = _near_day_end(rng, clock, clock.add_business_days(kickoff, -2))
    inside = clock.add_business_days(kickoff, -rng.uniform(0.1, 1.8, n))
    last_days = later(np.where(rng.random(n) < 0.5, window_opens, inside), floor)
    sign = np.where(rng.random(n) < 0.5, -1, 1)
    around = np.where(kickoff < NEVER, kickoff + sign * uniform_seconds(rng, 10 * MINUTE, 2 * HOUR, n), NEVER)
    after = np.where(rng.random(n) < 0.7, clock.add_business_days(kickoff, rng.uniform(0.2, 5, n)), NEVER)
    return np.choose(kind, [early, last_days, around, after])


def _correction(rng: np.random.Generator, clock: Clock, filled: np.ndarray, kickoff_done: np.ndarray) -> np.ndarray:
    """A later correction of a filled element: before the kickoff, after it, or within an
    hour of it (only the first when the kickoff has not happened)."""
    n = len(filled)
    when = np.where(kickoff_done < NEVER, _mix(rng, n, (0.5, 0.4, 0.1)), 0)
    correction = np.choose(
        when,
        [
            clock.add_business_days(filled, rng.uniform(0.3, 2, n)),
            clock.add_business_days(kickoff_done, rng.uniform(0.05, 6, n)),
            kickoff_done + (rng.uniform(-1, 1, n) * HOUR).astype(np.int64),
        ],
    )
    return later(correction, filled + 30 * MINUTE)


def customer_work(
    rng: np.random.Generator,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    clock: Clock,
    team: TeamPlan = NO_TEAM,
    seed: int = 0,
) -> pl.DataFrame:
    """Customer-side tasks: opened at creation, at booking (kickoff attendance) or at the
    kickoff, done on time, right around the due date, late, or left open.

    Customers differ: most keep answering every day or two until the task is done, some go
    quiet after a while, a few never answer; quiet customers' tasks run late far more
    often. Overdue tasks usually get a reason code a little after the due date; about a
    third never do. Most tasks of a cancelled project are archived a few days later.

    Where the team works customer tasks, tasks opened later go quiet and run late less
    often, reason codes are given, and overdue tasks are chased to completion.
    """
    deal = projects["deal"].to_numpy()
    modules = deals["modules_mask"].to_numpy()[deal]
    services = deals["services_mask"].to_numpy()[deal]
    integration = _has(modules, MODULES, "integrations")
    always = np.ones(len(projects), dtype=bool)
    wanted = np.stack(
        [
            always,
            always,
            always,
            integration,
            _has(services, SERVICES, "data_migration"),
            integration,
            _has(services, SERVICES, "training"),
            always,
        ],
        axis=1,
    )
    project, kind = np.nonzero(wanted)
    n = len(project)
    attendance = kind == TASK_TYPES.index("kickoff_attendance")
    at_kickoff = np.isin(kind, [TASK_TYPES.index(t) for t in TASKS_AT_KICKOFF])
    _, final_meeting, _ = _meeting_reference(projects)
    kickoff_done = projects["kickoff_completed_at"].to_numpy()[project]
    opened = np.select(
        [attendance, at_kickoff],
        [projects["kickoff_scheduled_at"].to_numpy()[project], kickoff_done],
        projects["created_at"].to_numpy()[project],
    )
    created = clock.add_seconds(opened, uniform_seconds(rng, 5 * MINUTE, 2 * HOUR, n))
    low = np.array([TASK_DUE_DAYS.get(t, (1, 1))[0] for t in TASK_TYPES], dtype=np.float64)[kind]
    high = np.array([TASK_DUE_DAYS.get(t, (1, 1))[1] for t in TASK_TYPES], dtype=np.float64)[kind]
    span = rng.uniform(low, high)
    due = np.where(attendance, clock.add_seconds(final_meeting[project], HOUR), clock.add_business_days(created, span))

    customer = _mix(rng, len(projects), CUSTOMER_MIX)[project]
    chasing = team.intensity("customer", clock, created)
    engagement = _rows_mix(rng, _team_rows(ENGAGEMENT_BY_CUSTOMER[customer], chasing))
    pace = _rows_mix(rng, _team_rows(COMPLETION_BY_ENGAGEMENT[engagement], chasing))
    very_late = np.where(rng.random(n) < NEVER_DONE, NEVER, clock.add_business_days(due, rng.uniform(8, 25, n)))
    completed = np.choose(
        pace,
        [
            clock.add_business_days(created, span * rng.uniform(0.15, 0.95, n)),
            _near_day_end(rng, clock, due),
            clock.add_business_days(due, rng.uniform(0.5, 8, n)),
            very_late,
        ],
    )
    first_response = np.where(engagement == 2, NEVER, clock.add_business_days(created, rng.uniform(0.05, 1.5, n)))
    every = uniform_seconds(rng, DAY // 2, 5 * DAY // 2, n)
    went_quiet = clock.add_business_days(first_response, rng.uniform(0.5, 3, n))
    last_reply = first_response + (went_quiet - first_response) // every * every
    near_silence = (engagement == 1) & (rng.random(n) < 0.25)
    completed = np.where(near_silence, _near_day_end(rng, clock, clock.add_business_days(last_reply, 5)), completed)
    completed = np.where(attendance, kickoff_done, later(completed, created + MINUTE))
    cleanup = team.cleanup("customer", clock, seed, "customer_tasks", n)
    completed = np.where(~attendance & (pace >= 2), _by_cleanup(completed, cleanup, due + MINUTE), completed)
    working = team.intensity("customer", clock, due)
    reason_at = np.where(
        _taken(rng, REASON_GIVEN, working), clock.add_business_days(due, rng.uniform(0.05, 2, n)), NEVER
    )
    reason_at = _by_cleanup(reason_at, cleanup, due + MINUTE)
    cancelled = projects["cancelled_at"].to_numpy()[project]
    archived = np.where(
        rng.random(n) < ARCHIVED_WITH_PROJECT, clock.add_business_days(cancelled, rng.uniform(0.5, 3, n)), NEVER
    )
    return pl.DataFrame(
        {
            "task_id": sequence_ids("TSK-", n, 8),
            "onboarding_id": projects["onboarding_id"].gather(project),
            "task_type": pick(TASK_TYPES, kind),
            "customer_owner": where_text(rng.random(n) < 0.92, people("admin", rng.integers(0, 500, n), 500)),
            "internal_owner": projects["onboarding_owner"].gather(project),
            "created_at": created,
            "due_at": due,
            "completed_at": completed,
            "response_at": first_response,
            "response_every": every,
            "response_stop": np.where(engagement == 0, completed, went_quiet),
            "blocks_first_value": np.isin(kind, [TASK_TYPES.index(t) for t in TASKS_BLOCKING_FIRST_VALUE]),
            "stall_reason": _reasons(rng, TASK_REASONS, TASK_TYPES, kind, quiet=engagement > 0),
            "reason_at": reason_at,
            "archived_at": archived,
            "_offset": foreign_offsets(rng, n),
        }
    )


def _reasons(
    rng: np.random.Generator,
    by_kind: dict[str, tuple[str, ...]],
    kinds: tuple[str, ...],
    kind: np.ndarray,
    quiet: np.ndarray,
) -> pl.Series:
    """A plausible reason code for each row's kind; unresponsive customers mostly get
    customer_no_response."""
    options = np.array(
        [[REASON_CODES.index(by_kind[name][i % len(by_kind[name])]) for i in range(6)] for name in kinds]
    )
    code = options[kind, rng.integers(0, 6, len(kind))]
    silent = quiet & (rng.random(len(kind)) < 0.6)
    return pick(REASON_CODES, np.where(silent, REASON_CODES.index("customer_no_response"), code))


def milestone_rows(
    rng: np.random.Generator,
    projects: pl.DataFrame,
    deals: pl.DataFrame,
    clock: Clock,
    team: TeamPlan = NO_TEAM,
    seed: int = 0,
) -> pl.DataFrame:
    """Five milestones per onboarding from the project's plan. Stalled ones usually get a
    reason code within the grace; a first value is sometimes recorded without evidence,
    part of which is added a few days later."""
    k = len(MILESTONES)
    p = len(projects)
    project = np.repeat(np.arange(p), k)
    n = p * k
    stage = np.tile(np.arange(k), p)
    target = np.stack([projects[f"ms_target_{m}"].to_numpy() for m in MILESTONES], axis=1).ravel()
    done = np.stack([projects[f"ms_done_{m}"].to_numpy() for m in MILESTONES], axis=1).ravel()
    grace = MILESTONE_GRACE[sla_segment(projects, deals)][project]
    reason_at = np.where(
        _taken(rng, REASON_GIVEN, team.intensity("customer", clock, target)),
        clock.add_business_days(target, rng.uniform(0, 1, n) * (grace + 1)),
        NEVER,
    )
    cleanup = team.cleanup("customer", clock, seed, "milestones", n)
    reason_at = _by_cleanup(reason_at, cleanup, target + MINUTE)
    evidence_kind = _team_mix(rng, EVIDENCE_MIX, team.intensity("outcome", clock, done))
    evidence_at = np.choose(
        evidence_kind, [done, clock.add_business_days(done, rng.uniform(0.5, 5, n)), np.full(n, NEVER)]
    )
    evidence_cleanup = team.cleanup("outcome", clock, seed, "milestones", n)
    evidence_at = np.where(done < NEVER, _by_cleanup(evidence_at, evidence_cleanup, done + MINUTE), evidence_at)
    evidence = "usage-report-" + pl.Series(rng.integers(0, 10**6, n)).cast(pl.String).str.zfill(6)
    return pl.DataFrame(
        {
            "onboarding_id": projects["onboarding_id"].gather(project),
            "milestone": pick(MILESTONES, stage),
            "appear_at": projects["created_at"].to_numpy()[project],
            "target_at": target,
            "completed_at": done,
            "owner": projects["onboarding_owner"].gather(project),
            "evidence": evidence,
            "evidence_at": evidence_at,
            "stall_reason": _reasons(rng, MILESTONE_REASONS, MILESTONES, stage, quiet=np.zeros(n, dtype=bool)),
            "reason_at": reason_at,
            "_offset": foreign_offsets(rng, p)[project],
        }
    )
