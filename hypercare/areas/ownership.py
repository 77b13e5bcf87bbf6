"""Account setup, owners and kickoff SLA: does a named human own every new customer?"""

from __future__ import annotations

from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import distribution_metrics, escalation, findings_from, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context


class OwnershipRun(AreaRun):
    def elapsed(self, column: str) -> pl.Expr:
        return self.cal.business_days_elapsed(pl.col(column), self.as_of)

    @cached_property
    def ctx(self) -> pl.DataFrame:
        return onboarding_context(self.snapshot, self.ruleset)

    @cached_property
    def open_projects(self) -> pl.DataFrame:
        """Open onboardings, with whether finance owners are needed and integrations exist."""
        billing = self.snapshot["billing_accounts"].select(
            "account_id", (pl.col("po_required") | pl.col("tax_id_required")).alias("finance_needed")
        )
        integrations = (
            self.snapshot["provisioning_items"]
            .filter(pl.col("item_type") == "integration")
            .select("onboarding_id", pl.lit(True).alias("has_integration"))
            .unique()
        )
        return (
            self.ctx.filter(pl.col("open"))
            .join(billing, on="account_id", how="left")
            .join(integrations, on="onboarding_id", how="left")
            .with_columns(
                pl.col("finance_needed").fill_null(False),
                pl.col("has_integration").fill_null(False),
                pl.min_horizontal("created_at", "eligible_since").alias("owner_clock"),
            )
        )

    @cached_property
    def no_owner(self) -> pl.DataFrame:
        return self.open_projects.filter(pl.col("onboarding_owner").is_null()).with_columns(
            self.elapsed("owner_clock").alias("age_bd")
        )

    @cached_property
    def not_scheduled(self) -> pl.DataFrame:
        return self.open_projects.filter(pl.col("kickoff_scheduled_at").is_null()).with_columns(
            self.elapsed("eligible_clock").alias("age_bd")
        )

    @cached_property
    def not_completed(self) -> pl.DataFrame:
        return self.open_projects.filter(pl.col("kickoff_completed_at").is_null()).with_columns(
            self.elapsed("eligible_clock").alias("age_bd")
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        cal = self.cal
        return pl.concat(
            [
                distribution_metrics(self.no_owner, "queue.owner_assignment", "age_bd"),
                distribution_metrics(self.not_scheduled, "queue.kickoff_scheduling", "age_bd"),
                *(
                    distribution_metrics(
                        self.ctx.filter(pl.col(done).is_not_null() & pl.col("eligible")).with_columns(
                            (
                                (cal.business_seconds(pl.col(done)) - cal.business_seconds(pl.col("eligible_since")))
                                / 86_400
                            ).alias("business_days")
                        ),
                        name,
                        "business_days",
                        with_count=False,
                    )
                    for name, done in (
                        ("time_to_owner", "owner_assigned_at"),
                        ("time_to_kickoff_scheduled", "kickoff_scheduled_at"),
                        ("time_to_kickoff", "kickoff_completed_at"),
                    )
                ),
            ]
        )

    def trace(self) -> pl.DataFrame:
        return pl.concat(
            [
                trace_from(
                    self.ctx,
                    event_type="owner_assigned",
                    event_at="owner_assigned_at",
                    ref_id="onboarding_id",
                    attributes=["onboarding_owner", "csm_owner", "technical_owner", "finance_owner"],
                ),
                trace_from(
                    self.ctx,
                    event_type="kickoff_scheduled",
                    event_at="kickoff_scheduled_at",
                    ref_id="onboarding_id",
                    attributes=["kickoff_scheduled_for", "kickoff_reschedules"],
                ),
                trace_from(
                    self.ctx,
                    event_type="kickoff_completed",
                    event_at="kickoff_completed_at",
                    ref_id="onboarding_id",
                    attributes=["kickoff_no_shows"],
                ),
            ]
        )


area = Area("ownership", OwnershipRun)


@area.rule("ownership.no_owner", params=("business_days",))
def no_owner(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.no_owner.filter(pl.col("age_bd") >= rule.param("business_days")),
        subject="onboarding_id",
        since="owner_clock",
        evidence=["project_id", "created_at", "eligible_since", "age_bd"],
    )


@area.rule("ownership.missing_role", params=("business_days", "technical_owner_segments"))
def missing_role(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    technical_segments = list(rule.param("technical_owner_segments"))
    roles = run.open_projects.with_columns(
        pl.concat_list(
            pl.when(pl.col("csm_owner").is_null()).then(pl.lit("csm_owner")),
            pl.when(
                pl.col("technical_owner").is_null()
                & (pl.col("sla_segment").is_in(technical_segments) | pl.col("has_integration"))
            ).then(pl.lit("technical_owner")),
            pl.when(pl.col("finance_owner").is_null() & pl.col("finance_needed")).then(pl.lit("finance_owner")),
        )
        .list.drop_nulls()
        .alias("missing_roles")
    )
    return findings_from(
        rule,
        roles.filter(
            (pl.col("missing_roles").list.len() > 0) & (run.elapsed("created_at") >= rule.param("business_days"))
        ),
        subject="onboarding_id",
        since="created_at",
        evidence=["missing_roles", "created_at"],
    )


@area.rule("ownership.no_kickoff_task", params=("business_days",))
def no_kickoff_task(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.open_projects.filter(
            pl.col("kickoff_task_created_at").is_null() & (run.elapsed("created_at") >= rule.param("business_days"))
        ),
        subject="onboarding_id",
        since="created_at",
        evidence=["project_id", "created_at"],
    )


def _kickoff_late(run: OwnershipRun, rule: RuleConfig, waiting: pl.DataFrame) -> pl.DataFrame:
    """Onboardings waiting past their segment's SLA, counted from eligible."""
    late = waiting.with_columns(
        run.ruleset.by_segment(rule.rule_id, "business_days_by_segment").alias("sla_business_days")
    ).filter(pl.col("age_bd") >= pl.col("sla_business_days"))
    return findings_from(
        rule,
        late,
        subject="onboarding_id",
        since="eligible_clock",
        evidence=["sla_segment", "sla_business_days", "age_bd", "kickoff_scheduled_for", "high_value"],
        **escalation(rule, "high_value", "high_value"),
    )


@area.rule("ownership.kickoff_not_scheduled", params=("business_days_by_segment",), escalations=("high_value",))
def kickoff_not_scheduled(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    return _kickoff_late(run, rule, run.not_scheduled)


@area.rule("ownership.kickoff_not_completed", params=("business_days_by_segment",), escalations=("high_value",))
def kickoff_not_completed(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    return _kickoff_late(run, rule, run.not_completed)


@area.rule("ownership.kickoff_churn", params=("min_events",))
def kickoff_churn(run: OwnershipRun, rule: RuleConfig) -> pl.DataFrame:
    churn = run.ctx.with_columns(
        (pl.col("kickoff_no_shows").fill_null(0) + pl.col("kickoff_reschedules").fill_null(0)).alias("kickoff_churn")
    )
    return findings_from(
        rule,
        churn.filter(pl.col("open") & (pl.col("kickoff_churn") >= rule.param("min_events"))),
        subject="onboarding_id",
        since="kickoff_scheduled_at",
        evidence=["kickoff_no_shows", "kickoff_reschedules"],
    )


evaluate = area.evaluate
