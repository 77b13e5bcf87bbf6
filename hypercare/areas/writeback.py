"""Writebacks and record drift: do the systems of record agree on each customer?"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleConfig
from hypercare.snapshot import onboarding_context

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value"]
_EVIDENCE = ["target_system", "record_id", "status", "attempts", "error", "requested_at", "fields_changed"]


def _normalised(value: pl.Expr, field: pl.Expr) -> pl.Expr:
    """Values as compared across systems: trimmed, lower-cased; scope as a sorted set."""
    text = value.str.strip_chars().str.to_lowercase()
    as_set = text.str.split(";").list.eval(pl.element().str.strip_chars()).list.drop_nulls()
    scope = as_set.list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort().list.join(";")
    return pl.when(field == "scope").then(scope).otherwise(text)


class WritebackRun(AreaRun):
    @cached_property
    def ctx(self) -> pl.DataFrame:
        return onboarding_context(self.snapshot, self.ruleset).select(_CONTEXT)

    @cached_property
    def writebacks(self) -> pl.DataFrame:
        as_of_end = self.cal.as_of_end(self.as_of).astimezone(dt.UTC)
        ctx = self.ctx  # onboardings first, then writebacks: a no-verdict reason names the first input unavailable
        return (
            self.snapshot["writebacks"]
            .join(ctx, on="onboarding_id", how="left")
            .with_columns(
                pl.col("strategic").fill_null(False),
                pl.col("high_value").fill_null(False),
                ((pl.lit(as_of_end) - pl.col("requested_at")).dt.total_seconds() / 3600).alias("hours_waiting"),
            )
        )

    @cached_property
    def records(self) -> pl.DataFrame:
        return self.snapshot["system_records"].with_columns(
            _normalised(pl.col("value"), pl.col("field")).alias("normalised")
        )

    def stuck(self) -> pl.Expr:
        """Pending or retrying for at least writeback.failed's `stuck_hours`."""
        hours = self.rule("writeback.failed").param("stuck_hours")
        return pl.col("status").is_in(["pending", "retrying"]) & (pl.col("hours_waiting") >= hours)

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        sync_errors = self.writebacks.filter((pl.col("status") == "failed") | self.stuck())
        return pl.concat(
            [
                metrics_by(self.writebacks, "failure_rate", "target_system", (pl.col("status") == "failed").mean()),
                metrics_by(sync_errors, "sync_errors", "target_system", pl.len()),
                metrics_by(sync_errors.with_columns(pl.lit("all").alias("all")), "sync_errors", "all", pl.len()),
            ]
        )

    def trace(self) -> pl.DataFrame:
        return trace_from(
            self.writebacks,
            event_type="system_wrote_back",
            event_at="requested_at",
            ref_id="writeback_id",
            attributes=["target_system", "record_id", "fields_changed", "status", "attempts", "actor"],
        )


area = Area("writeback", WritebackRun)


@area.rule("writeback.failed", params=("stuck_hours",))
def failed(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    failing = run.writebacks.filter((pl.col("status") == "failed") | run.stuck())
    return findings_from(rule, failing, subject="writeback_id", since="requested_at", evidence=_EVIDENCE)


@area.rule("writeback.retry_storm", params=("min_attempts",), clock=False)
def retry_storm(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.writebacks.filter(pl.col("attempts") >= rule.param("min_attempts")),
        subject="writeback_id",
        since="requested_at",
        evidence=_EVIDENCE,
    )


@area.rule("writeback.no_idempotency_key", clock=False)
def no_idempotency_key(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule,
        run.writebacks.filter(pl.col("idempotency_key").is_null()),
        subject="writeback_id",
        since="requested_at",
        evidence=["target_system", "actor", "status", "requested_at"],
    )


def _drift(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    """One finding per onboarding whose systems hold more than one value of the rule's `fields`."""
    drift = (
        run.records.filter(pl.col("field").is_in(list(rule.param("fields"))) & pl.col("normalised").is_not_null())
        .group_by("onboarding_id", "field")
        .agg(
            pl.col("normalised").n_unique().alias("distinct_values"),
            pl.struct("system", "value").sort_by("system").alias("values"),
            pl.col("observed_at").max(),
        )
        .filter(pl.col("distinct_values") > 1)
        .group_by("onboarding_id")
        .agg(
            pl.col("field").sort().alias("disagreeing_fields"),
            pl.struct("field", "values").sort_by("field").alias("system_values"),
            pl.col("observed_at").max(),
        )
        .join(run.ctx, on="onboarding_id", how="left")
    )
    return findings_from(
        rule, drift, subject="onboarding_id", since="observed_at", evidence=["disagreeing_fields", "system_values"]
    )


@area.rule("writeback.drift", params=("fields",), clock=False)
def drift(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    return _drift(run, rule)


@area.rule("writeback.owner_or_status_drift", params=("fields",), clock=False)
def owner_or_status_drift(run: WritebackRun, rule: RuleConfig) -> pl.DataFrame:
    return _drift(run, rule)


evaluate = area.evaluate
