"""Write a synthetic hypercare month as snapshot folders plus its ground truth.

`generate` builds the hidden world once, then for each written day takes the snapshot,
breaks the planned rows, writes the files and asks the oracle what a correct monitor
reports on exactly those files. Same arguments, same bytes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hypercare.calendar import BusinessCalendar
from hypercare.contract import load_contract
from hypercare.exports import Manifest
from hypercare.ruleset import RuleSet
from hypercare.synth.children import build_children, enrich_projects
from hypercare.synth.clock import Clock
from hypercare.synth.faults import FaultContext, apply_trigger_faults, link_unlinked_projects
from hypercare.synth.model import IN_FLIGHT_DAYS, World, base_deals, build_projects, deals_frame, stream
from hypercare.synth.people import people_tables, retime_projects
from hypercare.synth.response import NO_TEAM, ReviewResponse, TeamPlan, rank_areas
from hypercare.synth.snapshots import ENTITIES, snapshot, to_text, write_text
from hypercare.synth.systems import SYSTEM_STATES, apply_system_faults
from hypercare.synth.truth import TRUTH_COLUMNS, SnapshotView, empty_truth, truth_for
from hypercare.synth.truth_systems import Trail
from hypercare.synth.violations import apply_day, plan_day

TRUTH_FILE = "ground_truth.csv"
SHADOW_SHARE = 0.005
HORIZON_DAYS = 200


@dataclass
class GenerateReport:
    """What was written: rows and quarantined rows per entity and day, findings per rule."""

    out_dir: Path
    start: dt.date
    days: int
    customers: int
    seed: int
    fmt: str
    written_days: list[dt.date]
    rows: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    quarantined: dict[dt.date, dict[str, int]] = field(default_factory=dict)
    breakages: dict[dt.date, dict[str, dict[str, int]]] = field(default_factory=dict)
    truth: dict[str, int] = field(default_factory=dict)
    truth_by_severity: dict[tuple[str, str], int] = field(default_factory=dict)
    scenarios: dict[str, int] = field(default_factory=dict)
    team: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        last = self.written_days[-1]
        lines = [
            f"hypercare synth: seed {self.seed}, {self.customers} customers, {self.days} days from "
            f"{self.start.isoformat()}, {len(self.written_days)} snapshot(s) as {self.fmt} in {self.out_dir} "
            f"({self.seconds:.1f}s)",
            f"rows on {last.isoformat()}: " + ", ".join(f"{e} {n}" for e, n in self.rows[last].items()),
            "quarantined rows: "
            + (
                ", ".join(
                    f"{day.isoformat()} {entity} {count} ({self._kinds(day, entity)})"
                    for day, per_entity in self.quarantined.items()
                    for entity, count in per_entity.items()
                    if count
                )
                or "none"
            ),
            "team response: " + ("; ".join(self.team) or "none"),
            "deal scenarios: " + ", ".join(f"{name} {n}" for name, n in sorted(self.scenarios.items())),
            "ground truth (finding-days per rule):",
        ]
        for rule_id, count in sorted(self.truth.items()):
            severities = ", ".join(
                f"{sev} {n}" for (rid, sev), n in sorted(self.truth_by_severity.items()) if rid == rule_id
            )
            lines.append(f"  {rule_id}: {count} ({severities})")
        return "\n".join(lines)

    def _kinds(self, day: dt.date, entity: str) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(self.breakages[day][entity].items()))


def build_world(
    seed: int, start: dt.date, days: int, customers: int, calendar: BusinessCalendar, team: TeamPlan = NO_TEAM
) -> World:
    """The hidden month: deals, trigger faults, projects and every downstream entity, with
    the fault rates the team's response leaves."""
    first_day = start - dt.timedelta(days=IN_FLIGHT_DAYS + 20)
    clock = Clock(calendar, first_day, start + dt.timedelta(days=days + HORIZON_DAYS))
    shadows = max(3, round(customers * SHADOW_SHARE))
    plan = base_deals(stream(seed, "deals"), clock, start, days, customers, shadows)
    context = FaultContext(
        plan,
        clock,
        stream(seed, "faults", "trigger"),
        clock.day_index(start),
        clock.day_index(start) + days - 1,
        team,
        seed,
    )
    apply_trigger_faults(context)
    deals = deals_frame(plan, clock)
    projects = enrich_projects(seed, build_projects(stream(seed, "projects"), plan, clock), deals, clock)
    projects = retime_projects(seed, projects, deals, clock, team)
    projects = link_unlinked_projects(projects, deals, team, clock, seed)
    tables = build_children(seed, projects, deals, clock)
    projects, tables = people_tables(seed, projects, deals, tables, clock, team)
    tables = apply_system_faults(seed, projects, deals, tables, clock, context.start_idx, context.last_idx, team)
    return World(start=start, days=days, clock=clock, deals=deals, projects=projects, tables=tables)


def review_days(ruleset: RuleSet, start: dt.date, days: int) -> list[dt.date]:
    """Days of the month that carry the scorecard's review pack, but the last (a fix named
    on it changes nothing within the month)."""
    from hypercare.scorecard.cadence import cadence_day
    from hypercare.scorecard.config import scorecard_config

    cadence = scorecard_config(ruleset).cadence
    month = [start + dt.timedelta(days=i) for i in range(days - 1)]
    return [day for day in month if cadence_day(cadence, ruleset.calendar, day).review_pack]


def clean_truth(world, day: dt.date, ruleset: RuleSet) -> pl.DataFrame:
    """The oracle's findings on `day` for the world's snapshot as exported, no row broken."""
    end = world.clock.day_end(day)
    typed = {entity: take_snapshot(world, entity, end) for entity in ENTITIES}
    view = SnapshotView(
        day=day,
        frames=typed,
        file_rows={entity: typed[entity].height for entity in ENTITIES},
        quarantined=dict.fromkeys(ENTITIES, 0),
        trail=Trail(),
    )
    return truth_for(view, ruleset)


def plan_team(
    seed: int, start: dt.date, days: int, customers: int, ruleset: RuleSet, response: ReviewResponse
) -> TeamPlan:
    """Decide, review by review, which areas the team works: each review ranks that day's
    truth of the month built with the fixes decided before it (see `response.py`)."""
    go_live = ruleset.go_live or start
    regression_from = go_live + dt.timedelta(days=response.regression_day - 1) if response.regression_area else None
    team = TeamPlan(response=response, regression_from=regression_from)
    for day in review_days(ruleset, start, days):
        world = build_world(seed, start, days, customers, ruleset.calendar, team)
        truth = clean_truth(world, day, ruleset)
        waiting = {area for areas in team.named.values() for area in areas}
        if regression_from is not None and day < regression_from:
            waiting.add(str(response.regression_area))
        rows = list(zip(truth["rule_id"].to_list(), truth["severity"].to_list(), strict=True))
        ranked = rank_areas(rows, waiting, response.min_findings)
        if ranked[: response.fixes_per_review]:
            team = team.with_named(day, tuple(ranked[: response.fixes_per_review]))
    return team


def take_snapshot(world: World, entity: str, end: int) -> pl.DataFrame:
    """The typed state of one entity; areas that reshape a table bring their own projection."""
    state = SYSTEM_STATES.get(entity)
    return state(world.tables[entity], end) if state else snapshot(world, entity, end)


def generate(
    out_dir: Path,
    start: dt.date,
    days: int,
    customers: int,
    seed: int,
    ruleset: RuleSet,
    fmt: str = "csv",
    last_days: int | None = None,
    response: ReviewResponse | None = None,
    on_day: Callable[[dt.date], None] | None = None,
) -> GenerateReport:
    """Write `days` daily snapshots from `start` (or only the last `last_days`) and their ground truth.

    `response` is how the team answers the reviews of the scorecard cadence (the demo's
    is `DEMO_RESPONSE`); None keeps every fault rate at its baseline all month. `on_day`
    is called with each day once its folder is complete (the ground truth comes last)."""
    if days < 1 or customers < 1:
        raise ValueError("days and customers must be at least 1")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: use csv or parquet")
    began = time.perf_counter()
    out_dir = Path(out_dir)
    team = plan_team(seed, start, days, customers, ruleset, response) if response else NO_TEAM
    world = build_world(seed, start, days, customers, ruleset.calendar, team)
    all_days = [start + dt.timedelta(days=i) for i in range(days)]
    written = all_days[-last_days:] if last_days else all_days
    report = GenerateReport(
        out_dir=out_dir, start=start, days=days, customers=customers, seed=seed, fmt=fmt, written_days=written
    )
    report.team = team.lines()
    report.scenarios = dict(Counter(world.deals.filter(pl.col("in_crm"))["scenario"].to_list()))
    contract = load_contract()
    truths = []
    # The written days are the evaluated days: rules that look back (trace, backlog) see
    # exactly the snapshots a monitor loading these folders in order would have seen.
    trail = Trail()
    for day in written:
        end = world.clock.day_end(day)
        typed = {entity: take_snapshot(world, entity, end) for entity in ENTITIES}
        texts = {entity: to_text(typed[entity], entity, contract) for entity in ENTITIES}
        broken = apply_day(seed, plan_day(seed, start, days, day), day, texts)
        folder = out_dir / day.isoformat()
        files = {
            write_text(broken[entity].text, folder, entity, fmt).name: broken[entity].text.height for entity in ENTITIES
        }
        Manifest(day, files).write(folder)
        if on_day is not None:
            on_day(day)
        view = SnapshotView(
            day=day,
            frames={entity: typed[entity].filter(~pl.Series(broken[entity].dropped)) for entity in ENTITIES},
            file_rows={entity: len(broken[entity].text) for entity in ENTITIES},
            quarantined={entity: broken[entity].quarantined for entity in ENTITIES},
            trail=trail,
        )
        report.rows[day] = view.file_rows
        report.quarantined[day] = view.quarantined
        report.breakages[day] = {entity: broken[entity].kinds for entity in ENTITIES}
        truths.append(truth_for(view, ruleset))
    truth = pl.concat(truths) if truths else empty_truth()
    truth.select(TRUTH_COLUMNS).write_csv(out_dir / TRUTH_FILE)
    report.truth = dict(Counter(truth["rule_id"].to_list()))
    report.truth_by_severity = dict(Counter(zip(truth["rule_id"].to_list(), truth["severity"].to_list(), strict=True)))
    report.seconds = time.perf_counter() - began
    return report
