"""Cross-cutting checks over what the other areas wrote to the audit store for the day.

Both run after every other area of the day: backlog ages the open findings of
high-value onboardings; audit checks that each onboarding past kickoff can be traced.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, findings_from, metrics_by
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context

_SEVERE = ["warn", "high", "critical"]


def evaluate_backlog(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    rule = ruleset.rule("backlog.aged_high_value")
    cal = ruleset.calendar
    today_end = cal.business_seconds_at_day_end(as_of)
    findings = snapshot.store("findings").filter(
        pl.col("high_value") & pl.col("severity").is_in(_SEVERE) & ~pl.col("rule_id").str.starts_with("backlog.")
    )
    opened_end = findings["episode_opened_on"].unique().drop_nulls().to_list()
    clock = pl.DataFrame(
        {
            "episode_opened_on": opened_end,
            "age_bd": [(today_end - cal.business_seconds_at_day_end(day)) / 86_400 for day in opened_end],
        },
        schema={"episode_opened_on": pl.Date, "age_bd": pl.Float64},
    )
    aged = (
        findings.join(clock, on="episode_opened_on")
        .filter(pl.col("age_bd") >= rule.param("business_days"))
        .with_columns(pl.coalesce("onboarding_id", "opportunity_id").alias("journey"))
        .sort("age_bd", "rule_id", "subject_key", descending=[True, False, False])
        .group_by("journey", maintain_order=True)
        .agg(
            pl.col("onboarding_id", "opportunity_id", "account_id", "segment", "strategic").first(),
            pl.lit(True).alias("high_value"),
            pl.col("age_bd").max().alias("oldest_business_days"),
            pl.col("episode_opened_on").min().cast(pl.Datetime("us", "UTC")).alias("oldest_opened_on"),
            pl.struct("rule_id", "subject_key", "age_bd").alias("aged_findings"),
        )
    )
    found = findings_from(
        rule, aged, subject="journey", since="oldest_opened_on", evidence=["oldest_business_days", "aged_findings"]
    )
    metrics = metrics_by(
        aged.with_columns(pl.col("segment").fill_null("unknown")), "aged_high_value_onboardings", "segment", pl.len()
    )
    return AreaResult(findings=found, metrics=metrics)


def evaluate_audit(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    rule = ruleset.rule("audit.trace_gap")
    required = list(rule.param("required_events"))
    traced = snapshot.store("trace").filter(pl.col("event_type").is_in(required)).unique()
    past_kickoff = onboarding_context(snapshot, ruleset).filter(pl.col("kickoff_completed_at").is_not_null())
    have = traced.group_by("onboarding_id").agg(pl.col("event_type").alias("traced"))
    gaps = (
        past_kickoff.join(have, on="onboarding_id", how="left")
        .with_columns(pl.lit(required, dtype=pl.List(pl.String)).alias("required_events"))
        .with_columns(
            pl.col("required_events")
            .list.set_difference(pl.col("traced").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .list.sort()
            .alias("missing_events")
        )
        .filter(pl.col("missing_events").list.len() > 0)
    )
    found = findings_from(
        rule,
        gaps,
        subject="onboarding_id",
        since="kickoff_completed_at",
        evidence=["missing_events", "kickoff_completed_at"],
    )
    metrics = metrics_by(
        past_kickoff.join(have, on="onboarding_id", how="left").with_columns(pl.lit("all").alias("all")),
        "trace_complete_rate",
        "all",
        (pl.col("traced").list.len().fill_null(0) == len(required)).mean(),
    )
    return AreaResult(findings=found, metrics=metrics)
