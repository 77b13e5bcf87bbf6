"""Trigger health: did the right customers enter onboarding at the right time?"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import findings_from, metric_rows, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import with_deal_status

_DEAL_CONTEXT = ["opportunity_id", "account_id", "segment", "strategic", "high_value", "excluded"]
_NOT_EXCLUDED = ~pl.col("excluded")


class TriggerRun(AreaRun):
    @cached_property
    def projects(self) -> pl.DataFrame:
        return self.snapshot["onboarding_projects"]

    @cached_property
    def live(self) -> pl.DataFrame:
        return self.projects.filter(pl.col("status") != "cancelled")

    @cached_property
    def deals(self) -> pl.DataFrame:
        """Deals with their eligibility and how many live projects onboard them."""
        deals = with_deal_status(self.snapshot["deals"], self.ruleset)
        live_per_opportunity = (
            self.live.filter(pl.col("opportunity_id").is_not_null())
            .group_by("opportunity_id")
            .agg(pl.len().alias("live_projects"), pl.col("project_id").sort().alias("project_ids"))
        )
        return deals.join(live_per_opportunity, on="opportunity_id", how="left").with_columns(
            pl.col("live_projects").fill_null(0)
        )

    @cached_property
    def projects_ctx(self) -> pl.DataFrame:
        """Project rows with their deal's context; excluded deals never fire a trigger finding."""
        return self.projects.join(
            self.deals.select(*_DEAL_CONTEXT, "eligible", "eligible_since", "stage", "contract_state"),
            on="opportunity_id",
            how="left",
            suffix="_deal",
        ).with_columns(
            pl.col("excluded").fill_null(False),
            pl.col("stage").is_not_null().alias("deal_present"),
        )

    @cached_property
    def window(self) -> pl.DataFrame:
        """Projects created in the manual-creation window ending at the as-of instant."""
        window_end = self.cal.as_of_end(self.as_of).astimezone(dt.UTC)
        window_start = window_end - dt.timedelta(days=self.rule("trigger.manual_creation").param("window_days"))
        return self.projects_ctx.filter((pl.col("created_at") > window_start) & (pl.col("created_at") <= window_end))

    @cached_property
    def manual_share(self) -> float:
        return (self.window["created_by"] == "manual").mean() if self.window.height else 0.0

    def elapsed(self, column: str) -> pl.Expr:
        return self.cal.business_days_elapsed(pl.col(column), self.as_of)

    def metrics(self, found: pl.DataFrame) -> pl.DataFrame:
        cal, as_of, deals, projects, window = self.cal, self.as_of, self.deals, self.projects, self.window
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
        dup_rule = self.rule("trigger.duplicate_project")
        strategic_duplicates = found.filter(
            (pl.col("rule_id") == "trigger.duplicate_project") & pl.col("strategic")
        ).height
        rows = [
            ("eligible_deals", "all", "all", eligible.height),
            (
                "eligible_deals_new",
                "all",
                "all",
                eligible.filter(cal.local_date(pl.col("eligible_since")) == as_of).height,
            ),
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
            ("manual_share", "all", "all", self.manual_share),
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

    def trace(self) -> pl.DataFrame:
        """Trigger received (deal eligible) and project created, tied by opportunity."""
        first_project = (
            self.projects.filter(pl.col("opportunity_id").is_not_null())
            .sort("created_at")
            .group_by("opportunity_id", maintain_order=True)
            .agg(pl.col("onboarding_id").first())
        )
        received = self.deals.join(first_project, on="opportunity_id", how="left")
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
                    self.projects,
                    event_type="project_created",
                    event_at="created_at",
                    ref_id="project_id",
                    attributes=["project_id", "template", "created_by", "onboarding_owner", "status"],
                ),
            ]
        )


area = Area("trigger", TriggerRun)


@area.rule("trigger.missed_eligible", params=("business_days",))
def missed_eligible(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    missed = run.deals.filter(
        pl.col("eligible")
        & (pl.col("live_projects") == 0)
        & (run.elapsed("eligible_since") >= rule.param("business_days"))
    )
    return findings_from(
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


@area.rule("trigger.premature_start")
def premature_start(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    premature = run.projects_ctx.filter(
        (pl.col("status") != "cancelled")
        & pl.col("deal_present")
        & _NOT_EXCLUDED
        & (~pl.col("eligible") | (pl.col("created_at") < pl.col("eligible_since")))
    )
    return findings_from(
        rule,
        premature,
        subject="project_id",
        since="created_at",
        evidence=["project_id", "created_at", "created_by", "stage", "contract_state", "eligible_since"],
    )


@area.rule("trigger.duplicate_project", params=("investigate_rate",), options=("severity_when_strategic",))
def duplicate_project(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    duplicates = (
        run.live.filter(pl.col("opportunity_id").is_not_null())
        .group_by("opportunity_id")
        .agg(
            pl.len().alias("live_projects"),
            pl.col("project_id").sort().alias("project_ids"),
            pl.col("created_at").min().alias("first_created_at"),
            pl.col("account_id").first(),
        )
        .filter(pl.col("live_projects") >= 2)
        .join(run.deals.select(_DEAL_CONTEXT), on="opportunity_id", how="left", suffix="_deal")
        .with_columns(pl.col("excluded").fill_null(False), pl.col("strategic").fill_null(False))
        .filter(_NOT_EXCLUDED)
    )
    strategic_severity = rule.extra.get("severity_when_strategic", rule.severity)
    return findings_from(
        rule,
        duplicates,
        subject="opportunity_id",
        since="first_created_at",
        evidence=["live_projects", "project_ids", "strategic"],
        severity=pl.when(pl.col("strategic")).then(pl.lit(strategic_severity)).otherwise(pl.lit(rule.severity)),
    )


@area.rule("trigger.manual_creation", params=("window_days", "max_share"))
def manual_creation(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    manual = (
        run.window.filter((pl.col("created_by") == "manual") & _NOT_EXCLUDED)
        if run.manual_share > rule.param("max_share")
        else run.window.clear()
    )
    return findings_from(
        rule,
        manual.with_columns(pl.lit(run.manual_share).alias("window_manual_share")),
        subject="project_id",
        since="created_at",
        evidence=["project_id", "created_at", "created_by", "window_manual_share"],
    )


@area.rule("trigger.unlinked_project")
def unlinked_project(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.live.filter(pl.col("opportunity_id").is_null()),
        subject="project_id",
        since="created_at",
        evidence=["project_id", "created_at", "created_by", "template"],
    )


@area.rule("trigger.stuck_before_eligible", params=("business_days",))
def stuck_before_eligible(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    stuck = run.deals.filter(
        (pl.col("stage") == "closed_won")
        & ~pl.col("excluded")
        & ~pl.col("eligible")
        & (pl.col("live_projects") == 0)
        & (run.elapsed("closed_won_at") >= rule.param("business_days"))
    )
    return findings_from(
        rule,
        stuck,
        subject="opportunity_id",
        since="closed_won_at",
        evidence=["closed_won_at", "contract_state", "payment_condition", "payment_received_at"],
    )


@area.rule("trigger.paused_handoff", params=("business_days", "reason_by_paused_reason"))
def paused_handoff(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    paused = run.projects_ctx.filter(
        (pl.col("status") == "paused") & _NOT_EXCLUDED & (run.elapsed("paused_at") >= rule.param("business_days"))
    )
    return findings_from(
        rule,
        paused,
        subject="project_id",
        since="paused_at",
        evidence=["project_id", "paused_reason", "paused_at"],
        reason_code=pl.col("paused_reason").replace_strict(
            rule.param("reason_by_paused_reason"), default=rule.reason_code
        ),
    )


@area.rule("trigger.signed_not_closed", params=("business_days",))
def signed_not_closed(run: TriggerRun, rule: RuleConfig) -> pl.DataFrame:
    signed_open = run.deals.filter(
        pl.col("contract_state").is_in(["signed", "countersigned"])
        & (pl.col("stage") != "closed_won")
        & ~pl.col("excluded")
        & (run.elapsed("contract_signed_at") >= rule.param("business_days"))
    )
    return findings_from(
        rule,
        signed_open,
        subject="opportunity_id",
        since="contract_signed_at",
        evidence=["stage", "contract_state", "contract_signed_at"],
    )


evaluate = area.evaluate
