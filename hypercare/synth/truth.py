"""The ground-truth oracle: which findings a correct monitor reports for each snapshot.

Written from the rule definitions alone, over the snapshot as the monitor sees it (the
typed snapshot minus the rows the contract quarantines), and sharing no code with the
monitor's rules beyond the business calendar and the thresholds of the rule set. One
function per rule returns `subject_key, severity`; `ORACLES` maps rule ids to them, so a
new area adds its functions and registers them here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

import polars as pl

from hypercare.ruleset import RuleSet
from hypercare.synth.truth_people import PEOPLE_ORACLES
from hypercare.synth.truth_systems import BACKLOG_ORACLES, SYSTEM_ORACLES, Trail

TRUTH_COLUMNS = ("as_of", "rule_id", "subject_key", "severity")
SIGNED = ("signed", "countersigned")


@dataclass(frozen=True)
class SnapshotView:
    """Snapshot D as the rules see it, with the file-level counts contract checks need.

    `trail` carries what the earlier days of the run left behind (for rules that look
    back); `earlier` holds the day's rows of the rules registered before the one running.
    """

    day: dt.date
    frames: dict[str, pl.DataFrame]
    file_rows: dict[str, int]
    quarantined: dict[str, int]
    trail: Trail | None = None
    earlier: tuple[pl.DataFrame, ...] = ()

    def __getitem__(self, entity: str) -> pl.DataFrame:
        return self.frames[entity]


Oracle = Callable[[SnapshotView, RuleSet], pl.DataFrame]


def _findings(frame: pl.DataFrame, subject: str, severity: str | pl.Expr) -> pl.DataFrame:
    severity_expr = pl.lit(severity) if isinstance(severity, str) else severity
    return frame.select(pl.col(subject).alias("subject_key"), severity_expr.alias("severity"))


def _elapsed(view: SnapshotView, ruleset: RuleSet, column: str) -> pl.Expr:
    return ruleset.calendar.business_days_elapsed(pl.col(column), view.day)


def deals_with_eligibility(view: SnapshotView) -> pl.DataFrame:
    """Deals plus `excluded`, `eligible` and `eligible_since` as the shared definitions say."""
    prepayment = pl.col("payment_condition") == "prepayment"
    excluded = pl.col("excluded_reason").is_not_null()
    eligible = (
        (pl.col("stage") == "closed_won")
        & ~excluded
        & pl.col("contract_state").is_in(SIGNED)
        & (~prepayment | pl.col("payment_received_at").is_not_null())
    )
    since = pl.max_horizontal(
        "closed_won_at", "contract_signed_at", pl.when(prepayment).then(pl.col("payment_received_at"))
    )
    return view["deals"].with_columns(
        excluded.alias("excluded"), eligible.alias("eligible"), since.alias("eligible_since")
    )


def live_projects(view: SnapshotView) -> pl.DataFrame:
    return view["onboarding_projects"].filter(pl.col("status") != "cancelled")


def excluded_opportunities(view: SnapshotView) -> pl.Series:
    return view["deals"].filter(pl.col("excluded_reason").is_not_null())["opportunity_id"]


def not_tied_to_excluded(view: SnapshotView) -> pl.Expr:
    """True for projects whose opportunity is not an excluded deal present in the snapshot."""
    return ~pl.col("opportunity_id").is_in(excluded_opportunities(view).implode()).fill_null(False)


def _live_opportunities(view: SnapshotView) -> pl.Series:
    return live_projects(view)["opportunity_id"].drop_nulls().unique()


def missed_eligible(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.missed_eligible")
    deals = deals_with_eligibility(view).filter(
        pl.col("eligible")
        & ~pl.col("opportunity_id").is_in(_live_opportunities(view).implode())
        & (_elapsed(view, ruleset, "eligible_since") >= rule.param("business_days"))
    )
    return _findings(deals, "opportunity_id", rule.severity)


def premature_start(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.premature_start")
    deals = deals_with_eligibility(view).select("opportunity_id", "excluded", "eligible", "eligible_since")
    projects = (
        live_projects(view)
        .filter(pl.col("opportunity_id").is_not_null())
        .join(deals, on="opportunity_id", how="inner")
        .filter(
            ~pl.col("excluded")
            & (~pl.col("eligible") | (pl.col("created_at") < pl.col("eligible_since")).fill_null(False))
        )
    )
    return _findings(projects, "project_id", rule.severity)


def duplicate_project(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.duplicate_project")
    strategic_severity = rule.extra.get("severity_when_strategic", rule.severity)
    linked = live_projects(view).filter(pl.col("opportunity_id").is_not_null())
    counts = linked.group_by("opportunity_id").len()
    deals = view["deals"].select("opportunity_id", "excluded_reason", "strategic")
    dupes = (
        counts.filter(pl.col("len") >= 2)
        .join(deals, on="opportunity_id", how="left")
        .filter(pl.col("excluded_reason").is_null())
    )
    severity = (
        pl.when(pl.col("strategic").fill_null(False)).then(pl.lit(strategic_severity)).otherwise(pl.lit(rule.severity))
    )
    return _findings(dupes, "opportunity_id", severity)


def manual_creation(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.manual_creation")
    end = ruleset.calendar.as_of_end(view.day).astimezone(dt.UTC)
    window_start = end - dt.timedelta(hours=24 * rule.param("window_days"))
    window = view["onboarding_projects"].filter(
        (pl.col("created_at") > pl.lit(window_start)) & (pl.col("created_at") <= pl.lit(end))
    )
    manual = window.filter(pl.col("created_by") == "manual")
    if window.is_empty() or len(manual) / len(window) <= rule.param("max_share"):
        return _findings(window.clear(), "project_id", rule.severity)
    return _findings(manual.filter(not_tied_to_excluded(view)), "project_id", rule.severity)


def unlinked_project(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.unlinked_project")
    unlinked = live_projects(view).filter(pl.col("opportunity_id").is_null())
    return _findings(unlinked, "project_id", rule.severity)


def stuck_before_eligible(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.stuck_before_eligible")
    deals = deals_with_eligibility(view).filter(
        (pl.col("stage") == "closed_won")
        & ~pl.col("excluded")
        & ~pl.col("eligible")
        & ~pl.col("opportunity_id").is_in(_live_opportunities(view).implode())
        & (_elapsed(view, ruleset, "closed_won_at") >= rule.param("business_days"))
    )
    return _findings(deals, "opportunity_id", rule.severity)


def paused_handoff(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.paused_handoff")
    projects = view["onboarding_projects"].filter(
        (pl.col("status") == "paused")
        & not_tied_to_excluded(view)
        & (_elapsed(view, ruleset, "paused_at") >= rule.param("business_days"))
    )
    return _findings(projects, "project_id", rule.severity)


def signed_not_closed(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("trigger.signed_not_closed")
    deals = view["deals"].filter(
        pl.col("contract_state").is_in(SIGNED)
        & (pl.col("stage") != "closed_won")
        & pl.col("excluded_reason").is_null()
        & (_elapsed(view, ruleset, "contract_signed_at") >= rule.param("business_days"))
    )
    return _findings(deals, "opportunity_id", rule.severity)


def contract_violation(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    rule = ruleset.rule("contract.violation")
    high = rule.extra.get("severity_when_share_above", rule.severity)
    rows = [
        (entity, high if count / view.file_rows[entity] > rule.param("high_share") else rule.severity)
        for entity, count in sorted(view.quarantined.items())
        if count > 0
    ]
    return pl.DataFrame(rows, schema={"subject_key": pl.String, "severity": pl.String}, orient="row")


ORACLES: dict[str, Oracle] = {
    "trigger.missed_eligible": missed_eligible,
    "trigger.premature_start": premature_start,
    "trigger.duplicate_project": duplicate_project,
    "trigger.manual_creation": manual_creation,
    "trigger.unlinked_project": unlinked_project,
    "trigger.stuck_before_eligible": stuck_before_eligible,
    "trigger.paused_handoff": paused_handoff,
    "trigger.signed_not_closed": signed_not_closed,
    "contract.violation": contract_violation,
    **PEOPLE_ORACLES,
    **SYSTEM_ORACLES,
    **BACKLOG_ORACLES,
}


def truth_for(view: SnapshotView, ruleset: RuleSet) -> pl.DataFrame:
    """Every finding for one snapshot, one row per rule and subject, in registry order (a
    rule sees the rows of the rules before it); the view's trail then remembers the day."""
    parts: list[pl.DataFrame] = []
    for rule_id, oracle in ORACLES.items():
        found = oracle(replace(view, earlier=tuple(parts)), ruleset)
        parts.append(
            found.select(pl.lit(view.day).alias("as_of"), pl.lit(rule_id).alias("rule_id"), "subject_key", "severity")
        )
    truth = pl.concat(parts).sort(TRUTH_COLUMNS)
    if view.trail is not None:
        view.trail.remember(view, truth)
    return truth


def empty_truth() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"as_of": pl.Date, "rule_id": pl.String, "subject_key": pl.String, "severity": pl.String}
    )
