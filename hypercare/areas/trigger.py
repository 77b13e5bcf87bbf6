"""Trigger health: did the right customers enter onboarding at the right time?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, findings_from, metric_rows, metrics_by, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, with_deal_status

_DEAL_CONTEXT = ["opportunity_id", "account_id", "segment", "strategic", "high_value", "excluded"]


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar
    deals = with_deal_status(snapshot["deals"], ruleset)
    projects = snapshot["onboarding_projects"]
    live = projects.filter(pl.col("status") != "cancelled")
    live_per_opportunity = (
        live.filter(pl.col("opportunity_id").is_not_null())
        .group_by("opportunity_id")
        .agg(pl.len().alias("live_projects"), pl.col("project_id").sort().alias("project_ids"))
    )
    deals = deals.join(live_per_opportunity, on="opportunity_id", how="left").with_columns(
        pl.col("live_projects").fill_null(0)
    )
    # Project rows carry their deal's context; excluded deals never fire a trigger finding.
    projects_ctx = projects.join(
        deals.select(*_DEAL_CONTEXT, "eligible", "eligible_since", "stage", "contract_state"),
        on="opportunity_id",
        how="left",
        suffix="_deal",
    ).with_columns(
        pl.col("excluded").fill_null(False),
        pl.col("stage").is_not_null().alias("deal_present"),
    )
    not_excluded_deal = ~pl.col("excluded")

    def elapsed(column: str) -> pl.Expr:
        return cal.business_days_elapsed(pl.col(column), as_of)

    findings = []

    rule = ruleset.rule("trigger.missed_eligible")
    missed = deals.filter(
        pl.col("eligible") & (pl.col("live_projects") == 0) & (elapsed("eligible_since") >= rule.param("business_days"))
    )
    findings.append(
        findings_from(
            rule,
            missed,
            subject="opportunity_id",
            since="eligible_since",
            evidence=[
                "stage",
                "contract_state",
                "payment_condition",
                "eligible_since",
                "closed_won_at",
                "contract_signed_at",
                "payment_received_at",
            ],
        )
    )

    rule = ruleset.rule("trigger.premature_start")
    premature = projects_ctx.filter(
        (pl.col("status") != "cancelled")
        & pl.col("deal_present")
        & not_excluded_deal
        & (~pl.col("eligible") | (pl.col("created_at") < pl.col("eligible_since")))
    )
    findings.append(
        findings_from(
            rule,
            premature,
            subject="project_id",
            since="created_at",
            evidence=["project_id", "created_at", "created_by", "stage", "contract_state", "eligible_since"],
        )
    )

    rule = ruleset.rule("trigger.duplicate_project")
    duplicates = (
        live.filter(pl.col("opportunity_id").is_not_null())
        .group_by("opportunity_id")
        .agg(
            pl.len().alias("live_projects"),
            pl.col("project_id").sort().alias("project_ids"),
            pl.col("created_at").min().alias("first_created_at"),
            pl.col("account_id").first(),
        )
        .filter(pl.col("live_projects") >= 2)
        .join(deals.select(_DEAL_CONTEXT), on="opportunity_id", how="left", suffix="_deal")
        .with_columns(pl.col("excluded").fill_null(False), pl.col("strategic").fill_null(False))
        .filter(not_excluded_deal)
    )
    strategic_severity = rule.extra.get("severity_when_strategic", rule.severity)
    findings.append(
        findings_from(
            rule,
            duplicates,
            subject="opportunity_id",
            since="first_created_at",
            evidence=["live_projects", "project_ids", "strategic"],
            severity=pl.when(pl.col("strategic")).then(pl.lit(strategic_severity)).otherwise(pl.lit(rule.severity)),
        )
    )

    rule = ruleset.rule("trigger.manual_creation")
    window_end = cal.as_of_end(as_of).astimezone(dt.UTC)
    window_start = window_end - dt.timedelta(days=rule.param("window_days"))
    window = projects_ctx.filter((pl.col("created_at") > window_start) & (pl.col("created_at") <= window_end))
    manual_share = (window["created_by"] == "manual").mean() if window.height else 0.0
    manual = (
        window.filter((pl.col("created_by") == "manual") & not_excluded_deal)
        if manual_share > rule.param("max_share")
        else window.clear()
    )
    findings.append(
        findings_from(
            rule,
            manual.with_columns(pl.lit(manual_share).alias("window_manual_share")),
            subject="project_id",
            since="created_at",
            evidence=["project_id", "created_at", "created_by", "window_manual_share"],
        )
    )

    rule = ruleset.rule("trigger.unlinked_project")
    unlinked = live.filter(pl.col("opportunity_id").is_null())
    findings.append(
        findings_from(
            rule,
            unlinked,
            subject="project_id",
            since="created_at",
            evidence=["project_id", "created_at", "created_by", "template"],
        )
    )

    rule = ruleset.rule("trigger.stuck_before_eligible")
    stuck = deals.filter(
        (pl.col("stage") == "closed_won")
        & ~pl.col("excluded")
        & ~pl.col("eligible")
        & (pl.col("live_projects") == 0)
        & (elapsed("closed_won_at") >= rule.param("business_days"))
    )
    findings.append(
        findings_from(
            rule,
            stuck,
            subject="opportunity_id",
            since="closed_won_at",
            evidence=["closed_won_at", "contract_state", "payment_condition", "payment_received_at"],
        )
    )

    rule = ruleset.rule("trigger.paused_handoff")
    paused = projects_ctx.filter(
        (pl.col("status") == "paused") & not_excluded_deal & (elapsed("paused_at") >= rule.param("business_days"))
    )
    reasons = rule.param("reason_by_paused_reason")
    findings.append(
        findings_from(
            rule,
            paused,
            subject="project_id",
            since="paused_at",
            evidence=["project_id", "paused_reason", "paused_at"],
            reason_code=pl.col("paused_reason").replace_strict(reasons, default=rule.reason_code),
        )
    )

    rule = ruleset.rule("trigger.signed_not_closed")
    signed_open = deals.filter(
        pl.col("contract_state").is_in(["signed", "countersigned"])
        & (pl.col("stage") != "closed_won")
        & ~pl.col("excluded")
        & (elapsed("contract_signed_at") >= rule.param("business_days"))
    )
    findings.append(
        findings_from(
            rule,
            signed_open,
            subject="opportunity_id",
            since="contract_signed_at",
            evidence=["stage", "contract_state", "contract_signed_at"],
        )
    )

    found = pl.concat(findings)
    return AreaResult(
        findings=found,
        metrics=_metrics(deals, projects, window, manual_share, found, as_of, ruleset),
        trace=_trace(deals, projects),
    )


def _metrics(deals, projects, window, manual_share, found, as_of, ruleset) -> pl.DataFrame:
    cal = ruleset.calendar
    created_today = projects.filter(cal.local_date(pl.col("created_at")) == as_of)
    eligible = deals.filter(pl.col("eligible"))
    window_linked = window.filter(pl.col("opportunity_id").is_not_null() & (pl.col("status") != "cancelled"))
    # A duplicate is every live project after the first for the same opportunity.
    duplicate_projects = (
        window_linked.height - window_linked["opportunity_id"].n_unique() if window_linked.height else 0
    )
    duplicate_rate = duplicate_projects / window.height if window.height else 0.0
    count = found.group_by("rule_id").len()
    per_rule = dict(zip(count["rule_id"], count["len"], strict=True))
    dup_rule = ruleset.rule("trigger.duplicate_project")
    strategic_duplicates = found.filter((pl.col("rule_id") == "trigger.duplicate_project") & pl.col("strategic")).height
    rows = [
        ("eligible_deals", "all", "all", eligible.height),
        ("eligible_deals_new", "all", "all", eligible.filter(cal.local_date(pl.col("eligible_since")) == as_of).height),
        ("projects_created", "all", "all", created_today.height),
        ("projects_created_window", "all", "all", window.height),
        ("missed", "all", "all", per_rule.get("trigger.missed_eligible", 0)),
        ("premature", "all", "all", per_rule.get("trigger.premature_start", 0)),
        ("duplicate_opportunities", "all", "all", per_rule.get("trigger.duplicate_project", 0)),
        ("duplicate_rate", "all", "all", duplicate_rate),
        (
            "duplicate_investigate",
            "all",
            "all",
            float(duplicate_rate > dup_rule.param("investigate_rate") or strategic_duplicates > 0),
        ),
        ("manual_share", "all", "all", manual_share),
        ("unlinked", "all", "all", per_rule.get("trigger.unlinked_project", 0)),
        ("stuck_before_eligible", "all", "all", per_rule.get("trigger.stuck_before_eligible", 0)),
        ("paused", "all", "all", projects.filter(pl.col("status") == "paused").height),
        ("signed_not_closed", "all", "all", per_rule.get("trigger.signed_not_closed", 0)),
    ]
    parts = [
        metric_rows(rows),
        metrics_by(eligible, "eligible_deals", "segment", pl.len()),
        metrics_by(deals.filter(pl.col("excluded")), "excluded_deals", "excluded_reason", pl.len()),
        metrics_by(projects.filter(pl.col("status") == "paused"), "paused", "paused_reason", pl.len()),
        metrics_by(found.filter(pl.col("rule_id") == "trigger.missed_eligible"), "missed", "segment", pl.len()),
    ]
    return pl.concat(parts)


def _trace(deals: pl.DataFrame, projects: pl.DataFrame) -> pl.DataFrame:
    """Trigger received (deal eligible) and project created, tied by opportunity."""
    first_project = (
        projects.filter(pl.col("opportunity_id").is_not_null())
        .sort("created_at")
        .group_by("opportunity_id", maintain_order=True)
        .agg(pl.col("onboarding_id").first())
    )
    received = deals.join(first_project, on="opportunity_id", how="left")
    return pl.concat(
        [
            trace_from(
                received,
                event_type="trigger_received",
                event_at="eligible_since",
                ref_id="opportunity_id",
                attributes=["opportunity_id", "account_id", "contract_state", "payment_condition", "segment"],
            ),
            trace_from(
                projects,
                event_type="project_created",
                event_at="created_at",
                ref_id="project_id",
                attributes=["project_id", "template", "created_by", "onboarding_owner", "status"],
            ),
        ]
    )
