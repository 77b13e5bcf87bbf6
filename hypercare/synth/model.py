"""The hidden hypercare month: every deal's and project's full timeline, before any snapshot.

Snapshots are projections of this model at the end of a day, so a record's history is
decided once (including events no export shows, such as a resume or a cancellation date)
and every snapshot agrees with every other. Building happens in stages that later fault
areas can hook into:

1. `base_deals`: attributes and a clean timeline for every deal (signed, closed, paid,
   project created by automation shortly after eligibility).
2. `faults.apply_trigger_faults`: scenarios that bend some deals' timelines.
3. `build_projects`: one row per onboarding project (primary, duplicate and orphan).
4. `children.build_children`: the eight entities that hang off deals and projects.

Instants are int64 epoch seconds with `NEVER` for events that do not happen; codes index
the vocabularies below, so 100k deals stay plain numpy arrays until a snapshot is taken.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hypercare.synth.clock import HOUR, MINUTE, NEVER, Clock, earlier, later

SEGMENTS = ("enterprise", "mid_market", "smb")
SEGMENT_SHARE = (0.15, 0.35, 0.50)
ENTERPRISE, MID_MARKET, SMB = 0, 1, 2
PAYMENT_CONDITIONS = ("none", "prepayment", "po_required")
PAY_NONE, PREPAYMENT, PO_REQUIRED = 0, 1, 2
PACKAGES = ("starter", "growth", "business", "enterprise", "enterprise_plus")
PACKAGES_BY_SEGMENT = {ENTERPRISE: (3, 4), MID_MARKET: (1, 2), SMB: (0, 1)}
SALES_TEAMS_BY_SEGMENT = {
    ENTERPRISE: ("enterprise-east", "enterprise-west"),
    MID_MARKET: ("mid-market", "partner-channel"),
    SMB: ("smb-inbound", "smb-outbound"),
}
SALES_TEAMS = tuple(t for teams in SALES_TEAMS_BY_SEGMENT.values() for t in teams)
MODULES = ("analytics", "automation", "api", "sso", "integrations", "reporting")
SERVICES = ("implementation", "training", "data_migration", "premium_support", "integration_setup")
REGIONS = ("NA", "EMEA", "APAC", "LATAM")
EXCLUDED_REASONS = (
    "partner_led_onboarding",
    "renewal_no_onboarding",
    "internal_test_account",
    "reseller_managed",
    "pilot_extension",
)
PAUSED_REASONS = ("missing_scope", "missing_billing", "missing_provisioning", "missing_legal", "other")
NAME_FIRST = (
    "Blue",
    "Northwind",
    "Summit",
    "Granite",
    "Harbor",
    "Pioneer",
    "Silver",
    "Cedar",
    "Atlas",
    "Beacon",
    "Crescent",
    "Evergreen",
    "Ironwood",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orion",
    "Quartz",
    "Redwood",
    "Sterling",
)
NAME_SECOND = (
    "Analytics",
    "Logistics",
    "Health",
    "Foods",
    "Systems",
    "Robotics",
    "Energy",
    "Capital",
    "Labs",
    "Media",
    "Retail",
    "Pharma",
    "Networks",
    "Freight",
    "Studios",
)
NAME_SUFFIX = (" Inc.", " LLC", " GmbH", " Ltd", " S.A.", ", Inc.", " B.V.")
# Minutes east of UTC that a few exporting systems write their timestamps in.
FOREIGN_OFFSETS = (60, -300, 330)
FOREIGN_OFFSET_SHARE = 0.06
IN_FLIGHT_DAYS = 21
IN_FLIGHT_SHARE = 0.25


def stream(seed: int, *names: object) -> np.random.Generator:
    """An independent random stream per purpose, so adding a fault never reshuffles others."""
    words = [zlib.crc32(str(n).encode()) for n in names]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def pick(vocabulary: tuple[str | None, ...] | list[str | None], codes: np.ndarray) -> pl.Series:
    """Vocabulary entries by code, a negative code meaning null. Strings are built by polars
    from the small vocabulary, never as a numpy string array of a million rows."""
    codes = np.asarray(codes)
    table = pl.Series([*vocabulary, None], dtype=pl.String)
    return table.gather(np.where(codes < 0, len(vocabulary), codes))


def people(prefix: str, codes: np.ndarray, pool: int) -> pl.Series:
    """Email-like user ids (`onb007@example.com`) for a pool of `pool` people."""
    return pick([f"{prefix}{i:03d}@example.com" for i in range(pool)], codes)


def sequence_ids(prefix: str, n: int, width: int) -> pl.Series:
    """`prefix` + a zero-padded running number from 1."""
    return pl.select(pl.lit(prefix) + (pl.int_range(n) + 1).cast(pl.String).str.zfill(width)).to_series()


def where_text(condition: np.ndarray, values: pl.Series) -> pl.Series:
    """`values` where `condition` holds, null elsewhere."""
    frame = pl.DataFrame({"keep": np.asarray(condition, dtype=bool), "value": values})
    return frame.select(pl.when("keep").then("value")).to_series()


def mask_labels(vocabulary: tuple[str, ...]) -> list[str | None]:
    """`;`-joined label for every bit mask over `vocabulary` (None for the empty mask)."""
    return [
        ";".join(v for bit, v in enumerate(vocabulary) if mask >> bit & 1) or None
        for mask in range(1 << len(vocabulary))
    ]


def foreign_offsets(rng: np.random.Generator, n: int) -> np.ndarray:
    """Per-record UTC offset in minutes: mostly 0 (written as Z), a few local offsets."""
    foreign = rng.random(n) < FOREIGN_OFFSET_SHARE
    return np.where(foreign, rng.choice(np.array(FOREIGN_OFFSETS), n), 0).astype(np.int32)


def uniform_seconds(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.uniform(low, high, n).astype(np.int64)


@dataclass
class ProjectBatch:
    """Projects beyond a deal's primary one (duplicates, orphans), added by fault injectors."""

    deal: np.ndarray
    created_at: np.ndarray
    manual: np.ndarray
    link_at: np.ndarray
    cancelled_at: np.ndarray


@dataclass
class DealPlan:
    """Every deal's attributes, hidden timeline and primary-project plan, as parallel arrays.

    `in_crm` is false for shadow deals: accounts whose opportunity never reaches the deals
    export, used as the owners of projects created by hand with no deal link.
    """

    segment: np.ndarray
    strategic: np.ndarray
    arr: np.ndarray
    payment_condition: np.ndarray
    excluded_reason: np.ndarray
    in_crm: np.ndarray
    sales_owner: np.ndarray
    sales_team: np.ndarray
    package: np.ndarray
    seats: np.ndarray
    modules: np.ndarray
    services: np.ndarray
    go_live_lead_days: np.ndarray
    non_standard_terms: np.ndarray
    region: np.ndarray
    name_parts: np.ndarray
    offset_min: np.ndarray
    contract_sent_at: np.ndarray
    signed_at: np.ndarray
    countersigned_at: np.ndarray
    contract_cancelled_at: np.ndarray
    closed_won_at: np.ndarray
    closed_lost_at: np.ndarray
    payment_received_at: np.ndarray
    project_at: np.ndarray
    project_manual: np.ndarray
    project_link_at: np.ndarray
    paused_at: np.ndarray
    paused_reason: np.ndarray
    resumed_at: np.ndarray
    project_cancelled_at: np.ndarray
    scenario: np.ndarray
    extra_projects: list[ProjectBatch] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.segment)

    @property
    def excluded(self) -> np.ndarray:
        return self.excluded_reason >= 0

    def eligible_since(self) -> np.ndarray:
        """When the deal became eligible (NEVER if it does not within the horizon)."""
        payment = np.where(self.payment_condition == PREPAYMENT, self.payment_received_at, 0)
        since = later(self.closed_won_at, self.signed_at, payment)
        cancelled = earlier(self.contract_cancelled_at, self.closed_lost_at) < since
        return np.where(cancelled | self.excluded, NEVER, since)

    def visible_at(self) -> np.ndarray:
        """A deal enters the export once closed-won, signed, or once a project points at it."""
        return earlier(self.closed_won_at, self.signed_at, self.project_at)


@dataclass
class World:
    """The whole hidden month: entity tables of hidden columns, one row per record."""

    start: dt.date
    days: int
    clock: Clock
    deals: pl.DataFrame
    projects: pl.DataFrame
    tables: dict[str, pl.DataFrame]


def close_day_weights(clock: Clock, first: int, last: int) -> np.ndarray:
    """Deals close on business days, a trickle on weekends and holidays, more at month end."""
    days = np.arange(first, last + 1)
    weights = np.where(clock.is_business[days], 1.0, 0.1)
    month_end = np.array([(clock.dates[d] + dt.timedelta(days=3)).month != clock.dates[d].month for d in days])
    weights = np.where(month_end & clock.is_business[days], 1.5, weights)
    return weights / weights.sum()


def business_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds into the local day at which sales and finance act: mostly office hours."""
    hours = rng.choice(np.arange(24), n, p=_HOUR_WEIGHTS)
    return hours * HOUR + rng.integers(0, HOUR, n)


_hour_weights = np.array([0.1] * 6 + [0.5, 2, 5, 7, 8, 8, 6, 7, 8, 9, 10, 9, 5, 3, 2, 1, 0.4, 0.2])
_HOUR_WEIGHTS = _hour_weights / _hour_weights.sum()


def base_deals(
    rng: np.random.Generator, clock: Clock, start: dt.date, days: int, customers: int, shadows: int
) -> DealPlan:
    """Deals with a clean timeline: the automation does the right thing for all of them."""
    in_flight = round(customers * IN_FLIGHT_SHARE)
    first_day, start_idx = clock.day_index(start - dt.timedelta(days=IN_FLIGHT_DAYS)), clock.day_index(start)
    last_idx = start_idx + days - 1
    close_day = np.concatenate(
        [
            rng.choice(
                np.arange(first_day, start_idx), in_flight, p=close_day_weights(clock, first_day, start_idx - 1)
            ),
            rng.choice(np.arange(start_idx, last_idx + 1), customers, p=close_day_weights(clock, start_idx, last_idx)),
            rng.choice(np.arange(first_day, last_idx + 1), shadows),
        ]
    )
    n = len(close_day)
    segment = rng.choice(3, n, p=SEGMENT_SHARE)
    strategic = rng.random(n) < np.array([0.2, 0.04, 0.004])[segment]
    arr_median = np.array([140_000.0, 42_000.0, 9_000.0])[segment]
    arr_sigma = np.array([0.6, 0.55, 0.6])[segment]
    arr = np.clip(
        arr_median * np.exp(rng.normal(0, 1, n) * arr_sigma),
        np.array([40_000, 12_000, 1_200])[segment],
        np.array([2_000_000, 260_000, 45_000])[segment],
    )
    package_choice = rng.integers(0, 2, n)
    package = np.array([PACKAGES_BY_SEGMENT[s] for s in range(3)])[segment, package_choice]
    team_choice = rng.integers(0, 2, n)
    sales_team = segment * 2 + team_choice
    seat_low, seat_high = np.array([150, 25, 3])[segment], np.array([3000, 400, 40])[segment]
    module_p = np.array(
        [[0.8, 0.7, 0.6, 0.8, 0.7, 0.6], [0.6, 0.5, 0.3, 0.3, 0.4, 0.5], [0.4, 0.3, 0.1, 0.05, 0.2, 0.3]]
    )
    modules = _bitmask(rng.random((n, len(MODULES))) < module_p[segment])
    service_p = np.array([[1.0, 0.9, 0.5, 0.5, 0.6], [0.9, 0.7, 0.3, 0.2, 0.3], [0.5, 0.5, 0.1, 0.05, 0.1]])
    services = _bitmask(rng.random((n, len(SERVICES))) < service_p[segment])
    lead_low, lead_high = np.array([60, 30, 14])[segment], np.array([120, 75, 40])[segment]

    closed_won_at = clock.at(close_day, business_hours(rng, n))
    weekend_close = ~clock.is_business[close_day]
    weekend_hours = clock.at(close_day, uniform_seconds(rng, 10 * HOUR, 18 * HOUR, n))
    closed_won_at = np.where(weekend_close, weekend_hours, closed_won_at)
    signed_first = rng.random(n) < 0.7
    signed_at = np.where(
        signed_first,
        clock.add_business_days(closed_won_at, -rng.uniform(0.05, 0.85, n)),
        clock.add_seconds(closed_won_at, uniform_seconds(rng, 5 * MINUTE, 4 * HOUR, n)),
    )
    contract_sent_at = clock.add_seconds(signed_at, -uniform_seconds(rng, 1 * 86_400, 12 * 86_400, n))
    countersign_delay = uniform_seconds(rng, 10 * MINUTE, 20 * HOUR, n)
    countersigned_at = np.where(rng.random(n) < 0.6, clock.add_seconds(signed_at, countersign_delay), NEVER)
    payment_condition = rng.choice(3, n, p=[0.82, 0.08, 0.10])
    prepaid_at = later(
        clock.add_business_days(later(signed_at, closed_won_at), rng.uniform(-0.3, 0.5, n)), signed_at + 10 * MINUTE
    )
    invoice_delay = uniform_seconds(rng, 10 * 86_400, 40 * 86_400, n)
    invoice_paid_at = np.where(rng.random(n) < 0.3, clock.add_seconds(closed_won_at, invoice_delay), NEVER)
    payment_received_at = np.where(payment_condition == PREPAYMENT, prepaid_at, invoice_paid_at)

    plan = DealPlan(
        segment=segment,
        strategic=strategic,
        arr=np.round(arr, -2),
        payment_condition=payment_condition,
        excluded_reason=np.full(n, -1),
        in_crm=np.arange(n) < n - shadows,
        sales_owner=sales_team * 10 + rng.integers(0, 10, n),
        sales_team=sales_team,
        package=package,
        seats=rng.integers(seat_low, seat_high + 1),
        modules=modules,
        services=services,
        go_live_lead_days=rng.integers(lead_low, lead_high + 1),
        non_standard_terms=rng.random(n) < np.array([0.3, 0.12, 0.04])[segment],
        region=rng.choice(len(REGIONS), n, p=[0.5, 0.3, 0.12, 0.08]),
        name_parts=np.stack(
            [
                rng.integers(0, len(NAME_FIRST), n),
                rng.integers(0, len(NAME_SECOND), n),
                rng.integers(0, len(NAME_SUFFIX), n),
            ],
            axis=1,
        ),
        offset_min=foreign_offsets(rng, n),
        contract_sent_at=contract_sent_at,
        signed_at=signed_at,
        countersigned_at=countersigned_at,
        contract_cancelled_at=np.full(n, NEVER),
        closed_won_at=closed_won_at,
        closed_lost_at=np.full(n, NEVER),
        payment_received_at=payment_received_at,
        project_at=np.full(n, NEVER),
        project_manual=np.zeros(n, dtype=bool),
        project_link_at=np.full(n, NEVER),
        paused_at=np.full(n, NEVER),
        paused_reason=np.full(n, -1),
        resumed_at=np.full(n, NEVER),
        project_cancelled_at=np.full(n, NEVER),
        scenario=np.full(n, "clean", dtype=object),
    )
    plan.project_at = automation_lag(rng, clock, plan.eligible_since())
    plan.project_link_at = plan.project_at.copy()
    return plan


def automation_lag(rng: np.random.Generator, clock: Clock, eligible_since: np.ndarray) -> np.ndarray:
    """Project creation by a healthy trigger: minutes usually, hours sometimes, and a tail
    close to (never at) one business day, which is where off-by-one monitors go wrong."""
    n = len(eligible_since)
    kind = rng.choice(3, n, p=[0.78, 0.10, 0.12])
    quick = clock.add_seconds(eligible_since, uniform_seconds(rng, 1 * MINUTE, 45 * MINUTE, n))
    hours = clock.add_seconds(eligible_since, uniform_seconds(rng, 1 * HOUR, 6 * HOUR, n))
    near_threshold = clock.add_business_days(eligible_since, rng.uniform(0.8, 0.93, n))
    return np.choose(kind, [quick, hours, near_threshold])


def _bitmask(flags: np.ndarray) -> np.ndarray:
    return (flags * (1 << np.arange(flags.shape[1]))).sum(axis=1)


def _instant(column: np.ndarray) -> pl.Series:
    """Hidden instants as an Int64 column (NEVER stays NEVER: it compares after every as-of)."""
    return pl.Series(np.asarray(column, dtype=np.int64))


def deals_frame(plan: DealPlan, clock: Clock) -> pl.DataFrame:
    """Hidden deal rows, ids assigned in the order deals became visible (as a CRM would)."""
    visible_at = plan.visible_at()
    order = np.lexsort((np.arange(plan.n), visible_at))
    close_day = clock.day_of(np.where(plan.closed_won_at < NEVER, plan.closed_won_at, plan.signed_at))
    go_live = np.array(clock.dates, dtype="datetime64[D]")[np.minimum(close_day, len(clock.dates) - 1)]
    names = pl.concat_str(
        [
            pick(NAME_FIRST, plan.name_parts[:, 0]),
            pl.lit(" "),
            pick(NAME_SECOND, plan.name_parts[:, 1]),
            pick(NAME_SUFFIX, plan.name_parts[:, 2]),
        ]
    )
    frame = pl.DataFrame(
        {
            "deal": np.arange(plan.n),
            "in_crm": plan.in_crm,
            "scenario": pl.Series(plan.scenario.tolist(), dtype=pl.String),
            "segment": pick(SEGMENTS, plan.segment),
            "segment_code": plan.segment,
            "payment_code": plan.payment_condition,
            "modules_mask": plan.modules,
            "services_mask": plan.services,
            "strategic": plan.strategic,
            "arr": plan.arr,
            "sales_owner": people("ae", plan.sales_owner, 60),
            "sales_team": pick(SALES_TEAMS, plan.sales_team),
            "payment_condition": pick(PAYMENT_CONDITIONS, plan.payment_condition),
            "excluded_reason": pick(EXCLUDED_REASONS, plan.excluded_reason),
            "package": pick(PACKAGES, plan.package),
            "seats": plan.seats,
            "modules": pick(mask_labels(MODULES), plan.modules),
            "contracted_services": pick(mask_labels(SERVICES), plan.services),
            "promised_go_live": go_live + plan.go_live_lead_days.astype("timedelta64[D]"),
            "non_standard_terms": plan.non_standard_terms,
            "crm_region": pick(REGIONS, plan.region),
            "account_name": pl.select(names).to_series(),
            "_offset": plan.offset_min,
            "visible_at": _instant(visible_at),
            "contract_sent_at": _instant(plan.contract_sent_at),
            "signed_at": _instant(plan.signed_at),
            "countersigned_at": _instant(plan.countersigned_at),
            "contract_cancelled_at": _instant(plan.contract_cancelled_at),
            "closed_won_at": _instant(plan.closed_won_at),
            "closed_lost_at": _instant(plan.closed_lost_at),
            "payment_received_at": _instant(plan.payment_received_at),
        }
    )[order]
    return frame.with_columns(
        opportunity_id=sequence_ids("OPP-", plan.n, 7),
        account_id=sequence_ids("ACC-", plan.n, 7),
    ).sort("deal")


def build_projects(rng: np.random.Generator, plan: DealPlan, clock: Clock) -> pl.DataFrame:
    """One hidden row per project: the primary project of each deal plus injected extras."""
    has_primary = plan.project_at < NEVER
    primary = np.flatnonzero(has_primary)
    batches = [
        ProjectBatch(
            deal=primary,
            created_at=plan.project_at[primary],
            manual=plan.project_manual[primary],
            link_at=plan.project_link_at[primary],
            cancelled_at=plan.project_cancelled_at[primary],
        ),
        *plan.extra_projects,
    ]
    deal = np.concatenate([b.deal for b in batches])
    n = len(deal)
    is_primary = np.arange(n) < len(primary)
    created_at = np.concatenate([b.created_at for b in batches])

    def primary_only(values: np.ndarray, default: object) -> np.ndarray:
        return np.concatenate([values[primary], np.full(n - len(primary), default, dtype=values.dtype)])

    frame = pl.DataFrame(
        {
            "deal": deal,
            "is_primary": is_primary,
            "created_at": _instant(created_at),
            "manual": np.concatenate([b.manual for b in batches]),
            "link_at": _instant(np.concatenate([b.link_at for b in batches])),
            "cancelled_at": _instant(np.concatenate([b.cancelled_at for b in batches])),
            "paused_at": _instant(primary_only(plan.paused_at, NEVER)),
            "paused_reason": pick(PAUSED_REASONS, primary_only(plan.paused_reason, -1)),
            "resumed_at": _instant(primary_only(plan.resumed_at, NEVER)),
            "_offset": foreign_offsets(rng, n),
        }
    )
    order = np.lexsort((np.arange(n), created_at))
    return frame[order].with_columns(
        project_id=sequence_ids("PRJ-", n, 7),
        onboarding_id=sequence_ids("ONB-", n, 7),
    )
