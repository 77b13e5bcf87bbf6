"""Writebacks and record drift: do the systems of record agree on each customer?"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, findings_from, metrics_by, trace_from
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot, onboarding_context

_CONTEXT = ["onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value"]


def _normalised(value: pl.Expr, field: pl.Expr) -> pl.Expr:
    """Values as compared across systems: trimmed, lower-cased; scope as a sorted set."""
    text = value.str.strip_chars().str.to_lowercase()
    as_set = text.str.split(";").list.eval(pl.element().str.strip_chars()).list.drop_nulls()
    scope = as_set.list.eval(pl.element().filter(pl.element() != "")).list.unique().list.sort().list.join(";")
    return pl.when(field == "scope").then(scope).otherwise(text)


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    as_of_end = ruleset.calendar.as_of_end(as_of).astimezone(dt.UTC)
    ctx = onboarding_context(snapshot, ruleset).select(_CONTEXT)
    writebacks = (
        snapshot["writebacks"]
        .join(ctx, on="onboarding_id", how="left")
        .with_columns(
            pl.col("strategic").fill_null(False),
            pl.col("high_value").fill_null(False),
            ((pl.lit(as_of_end) - pl.col("requested_at")).dt.total_seconds() / 3600).alias("hours_waiting"),
        )
    )
    evidence = ["target_system", "record_id", "status", "attempts", "error", "requested_at", "fields_changed"]
    findings = []

    rule = ruleset.rule("writeback.failed")
    stuck = pl.col("status").is_in(["pending", "retrying"]) & (pl.col("hours_waiting") >= rule.param("stuck_hours"))
    failed = writebacks.filter((pl.col("status") == "failed") | stuck)
    findings.append(findings_from(rule, failed, subject="writeback_id", since="requested_at", evidence=evidence))

    rule = ruleset.rule("writeback.retry_storm")
    findings.append(
        findings_from(
            rule,
            writebacks.filter(pl.col("attempts") >= rule.param("min_attempts")),
            subject="writeback_id",
            since="requested_at",
            evidence=evidence,
        )
    )

    rule = ruleset.rule("writeback.no_idempotency_key")
    findings.append(
        findings_from(
            rule,
            writebacks.filter(pl.col("idempotency_key").is_null()),
            subject="writeback_id",
            since="requested_at",
            evidence=["target_system", "actor", "status", "requested_at"],
        )
    )

    records = snapshot["system_records"].with_columns(_normalised(pl.col("value"), pl.col("field")).alias("normalised"))
    for rule_id in ("writeback.drift", "writeback.owner_or_status_drift"):
        rule = ruleset.rule(rule_id)
        drift = (
            records.filter(pl.col("field").is_in(list(rule.param("fields"))) & pl.col("normalised").is_not_null())
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
            .join(ctx, on="onboarding_id", how="left")
        )
        findings.append(
            findings_from(
                rule,
                drift,
                subject="onboarding_id",
                since="observed_at",
                evidence=["disagreeing_fields", "system_values"],
            )
        )

    sync_errors = writebacks.filter((pl.col("status") == "failed") | stuck)
    metrics = pl.concat(
        [
            metrics_by(writebacks, "failure_rate", "target_system", (pl.col("status") == "failed").mean()),
            metrics_by(sync_errors, "sync_errors", "target_system", pl.len()),
            metrics_by(sync_errors.with_columns(pl.lit("all").alias("all")), "sync_errors", "all", pl.len()),
        ]
    )
    trace = trace_from(
        writebacks,
        event_type="system_wrote_back",
        event_at="requested_at",
        ref_id="writeback_id",
        attributes=["target_system", "record_id", "fields_changed", "status", "attempts", "actor"],
    )
    return AreaResult(findings=pl.concat(findings), metrics=metrics, trace=trace)
