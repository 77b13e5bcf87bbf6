"""Cross-cutting checks over what the other areas wrote to the audit store for the day.

Both run after every other area of the day: backlog ages the open findings of
high-value onboardings; audit checks that each onboarding past kickoff can be traced.
"""

from __future__ import annotations

from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import findings_from, metrics_by
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context

_SEVERE = ["warn", "high", "critical"]


class BacklogRun(AreaRun):
    @cached_property
    def aged(self) -> pl.DataFrame:
        """High-value journeys with a finding (warn or above) whose episode is at least
        backlog.aged_high_value's `business_days` old, one row per journey."""
        rule, cal = self.rule("backlog.aged_high_value"), self.cal
        today_end = cal.business_seconds_at_day_end(self.as_of)
        findings = self.snapshot.store("findings").filter(
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
        return (
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

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        return metrics_by(
            self.aged.with_columns(pl.col("segment").fill_null("unknown")),
            "aged_high_value_onboardings",
            "segment",
            pl.len(),
        )


backlog = Area("backlog", BacklogRun)


@backlog.rule("backlog.aged_high_value", params=("business_days",))
def aged_high_value(run: BacklogRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule, run.aged, subject="journey", since="oldest_opened_on", evidence=["oldest_business_days", "aged_findings"]
    )


class AuditRun(AreaRun):
    @cached_property
    def required(self) -> list[str]:
        return list(self.rule("audit.trace_gap").param("required_events"))

    @cached_property
    def past_kickoff(self) -> pl.DataFrame:
        """Onboardings past kickoff with the required trace events observed so far."""
        traced = self.snapshot.store("trace", event_type=self.required).unique()
        past_kickoff = onboarding_context(self.snapshot, self.ruleset).filter(
            pl.col("kickoff_completed_at").is_not_null()
        )
        have = traced.group_by("onboarding_id").agg(pl.col("event_type").alias("traced"))
        return past_kickoff.join(have, on="onboarding_id", how="left")

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        return metrics_by(
            self.past_kickoff.with_columns(pl.lit("all").alias("all")),
            "trace_complete_rate",
            "all",
            (pl.col("traced").list.len().fill_null(0) == len(self.required)).mean(),
        )


audit = Area("audit", AuditRun)


@audit.rule("audit.trace_gap", params=("required_events",), clock=False)
def trace_gap(run: AuditRun, rule: RuleConfig) -> pl.DataFrame:
    gaps = (
        run.past_kickoff.with_columns(pl.lit(run.required, dtype=pl.List(pl.String)).alias("required_events"))
        .with_columns(
            pl.col("required_events")
            .list.set_difference(pl.col("traced").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .list.sort()
            .alias("missing_events")
        )
        .filter(pl.col("missing_events").list.len() > 0)
    )
    return findings_from(
        rule,
        gaps,
        subject="onboarding_id",
        since="kickoff_completed_at",
        evidence=["missing_events", "kickoff_completed_at"],
    )


evaluate_backlog = backlog.evaluate
evaluate_audit = audit.evaluate
