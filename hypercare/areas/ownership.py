"""Account setup, owners and kickoff SLA: does a named human own every new customer?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, distribution_metrics, escalation, findings_from, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    cal = ruleset.calendar

    def elapsed(column: str | pl.Expr) -> pl.Expr:
        return cal.business_days_elapsed(pl.col(column) if isinstance(column, str) else column, as_of)

    billing = snapshot["billing_accounts"].select(
        "account_id", (pl.col("po_required") | pl.col("tax_id_required")).alias("finance_needed")
    )
    integrations = (
        snapshot["provisioning_items"]
        .filter(pl.col("item_type") == "integration")
        .select("onboarding_id", pl.lit(True).alias("has_integration"))
        .unique()
    )
    ctx = onboarding_context(snapshot, ruleset)
    open_projects = (
        ctx.filter(pl.col("open"))
        .join(billing, on="account_id", how="left")
        .join(integrations, on="onboarding_id", how="left")
        .with_columns(
            pl.col("finance_needed").fill_null(False),
            pl.col("has_integration").fill_null(False),
            pl.min_horizontal("created_at", "eligible_since").alias("owner_clock"),
        )
    )
    findings = []

    rule = ruleset.rule("ownership.no_owner")
    no_owner = open_projects.filter(pl.col("onboarding_owner").is_null()).with_columns(
        elapsed("owner_clock").alias("age_bd")
    )
    findings.append(
        findings_from(
            rule,
            no_owner.filter(pl.col("age_bd") >= rule.param("business_days")),
            subject="onboarding_id",
            since="owner_clock",
            evidence=["project_id", "created_at", "eligible_since", "age_bd"],
        )
    )

    rule = ruleset.rule("ownership.missing_role")
    technical_segments = list(rule.param("technical_owner_segments"))
    roles = open_projects.with_columns(
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
    findings.append(
        findings_from(
            rule,
            roles.filter(
                (pl.col("missing_roles").list.len() > 0) & (elapsed("created_at") >= rule.param("business_days"))
            ),
            subject="onboarding_id",
            since="created_at",
            evidence=["missing_roles", "created_at"],
        )
    )

    rule = ruleset.rule("ownership.no_kickoff_task")
    findings.append(
        findings_from(
            rule,
            open_projects.filter(
                pl.col("kickoff_task_created_at").is_null() & (elapsed("created_at") >= rule.param("business_days"))
            ),
            subject="onboarding_id",
            since="created_at",
            evidence=["project_id", "created_at"],
        )
    )

    not_scheduled = open_projects.filter(pl.col("kickoff_scheduled_at").is_null()).with_columns(
        elapsed("eligible_clock").alias("age_bd")
    )
    for rule_id, waiting, param in (
        ("ownership.kickoff_not_scheduled", not_scheduled, "business_days_by_segment"),
        (
            "ownership.kickoff_not_completed",
            open_projects.filter(pl.col("kickoff_completed_at").is_null()).with_columns(
                elapsed("eligible_clock").alias("age_bd")
            ),
            "business_days_by_segment",
        ),
    ):
        rule = ruleset.rule(rule_id)
        late = waiting.with_columns(ruleset.by_segment(rule_id, param).alias("sla_business_days")).filter(
            pl.col("age_bd") >= pl.col("sla_business_days")
        )
        findings.append(
            findings_from(
                rule,
                late,
                subject="onboarding_id",
                since="eligible_clock",
                evidence=["sla_segment", "sla_business_days", "age_bd", "kickoff_scheduled_for", "high_value"],
                **escalation(rule, "high_value", "high_value"),
            )
        )

    rule = ruleset.rule("ownership.kickoff_churn")
    churn = ctx.with_columns(
        (pl.col("kickoff_no_shows").fill_null(0) + pl.col("kickoff_reschedules").fill_null(0)).alias("kickoff_churn")
    )
    findings.append(
        findings_from(
            rule,
            churn.filter(pl.col("open") & (pl.col("kickoff_churn") >= rule.param("min_events"))),
            subject="onboarding_id",
            since="kickoff_scheduled_at",
            evidence=["kickoff_no_shows", "kickoff_reschedules"],
        )
    )

    metrics = pl.concat(
        [
            distribution_metrics(no_owner, "queue.owner_assignment", "age_bd"),
            distribution_metrics(not_scheduled, "queue.kickoff_scheduling", "age_bd"),
            *(
                distribution_metrics(
                    ctx.filter(pl.col(done).is_not_null() & pl.col("eligible")).with_columns(
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
    trace = pl.concat(
        [
            trace_from(
                ctx,
                event_type="owner_assigned",
                event_at="owner_assigned_at",
                ref_id="onboarding_id",
                attributes=["onboarding_owner", "csm_owner", "technical_owner", "finance_owner"],
            ),
            trace_from(
                ctx,
                event_type="kickoff_scheduled",
                event_at="kickoff_scheduled_at",
                ref_id="onboarding_id",
                attributes=["kickoff_scheduled_for", "kickoff_reschedules"],
            ),
            trace_from(
                ctx,
                event_type="kickoff_completed",
                event_at="kickoff_completed_at",
                ref_id="onboarding_id",
                attributes=["kickoff_no_shows"],
            ),
        ]
    )
    return AreaResult(findings=pl.concat(findings), metrics=metrics, trace=trace)
