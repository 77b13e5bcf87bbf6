"""The shapes every monitoring area returns: findings, metrics and trace events.

Areas build these frames with the helpers below so that severity, alert mark, owner
roles and reason code always come from the rule's configuration, never from area code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from hypercare.ruleset import RuleConfig

UTC_TS = pl.Datetime("us", "UTC")

FINDING_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String,
    "subject_key": pl.String,
    "onboarding_id": pl.String,
    "opportunity_id": pl.String,
    "account_id": pl.String,
    "segment": pl.String,
    "strategic": pl.Boolean,
    "high_value": pl.Boolean,
    "severity": pl.String,
    "reason_code": pl.String,
    "owner_roles": pl.List(pl.String),
    "alert": pl.Boolean,
    "since": UTC_TS,
    "evidence": pl.String,
}

METRIC_SCHEMA: dict[str, pl.DataType] = {
    "metric": pl.String,
    "dimension": pl.String,
    "dimension_value": pl.String,
    "value": pl.Float64,
    "detail": pl.String,
}

TRACE_SCHEMA: dict[str, pl.DataType] = {
    "onboarding_id": pl.String,
    "opportunity_id": pl.String,
    "account_id": pl.String,
    "event_type": pl.String,
    "event_at": UTC_TS,
    "ref_id": pl.String,
    "attributes": pl.String,
}

_CONTEXT_COLUMNS = ("onboarding_id", "opportunity_id", "account_id", "segment", "strategic", "high_value")


def empty(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=dict(schema))


@dataclass
class AreaResult:
    """What one area found for one as-of date."""

    findings: pl.DataFrame = field(default_factory=lambda: empty(FINDING_SCHEMA))
    metrics: pl.DataFrame = field(default_factory=lambda: empty(METRIC_SCHEMA))
    trace: pl.DataFrame = field(default_factory=lambda: empty(TRACE_SCHEMA))


def json_object(columns: list[str]) -> pl.Expr:
    """Evidence as a JSON object of the named columns' values."""
    if not columns:
        return pl.lit("{}")
    return pl.struct([pl.col(c) for c in columns]).struct.json_encode()


def findings_from(
    rule: RuleConfig,
    frame: pl.DataFrame,
    *,
    subject: str,
    evidence: list[str],
    since: str | None = None,
    severity: pl.Expr | None = None,
    reason_code: pl.Expr | None = None,
    alert: pl.Expr | None = None,
) -> pl.DataFrame:
    """One finding per row of `frame` (already filtered to the rows that fire).

    Severity, reason code and alert default to the rule's configuration; areas pass an
    expression only for configured escalations (e.g. high when strategic).
    """
    if frame.is_empty():
        return empty(FINDING_SCHEMA)
    context = [
        (pl.col(c) if c in frame.columns else pl.lit(None)).cast(FINDING_SCHEMA[c]).alias(c) for c in _CONTEXT_COLUMNS
    ]
    out = frame.select(
        pl.lit(rule.rule_id).alias("rule_id"),
        pl.col(subject).cast(pl.String).alias("subject_key"),
        *context,
        (severity if severity is not None else pl.lit(rule.severity)).alias("severity"),
        (reason_code if reason_code is not None else pl.lit(rule.reason_code)).alias("reason_code"),
        pl.lit(list(rule.owner_roles), dtype=pl.List(pl.String)).alias("owner_roles"),
        (alert if alert is not None else pl.lit(rule.alert)).alias("alert"),
        (pl.col(since) if since else pl.lit(None)).cast(UTC_TS).alias("since"),
        json_object(evidence).alias("evidence"),
    )
    return out.cast(FINDING_SCHEMA).unique(subset=["rule_id", "subject_key"], keep="first", maintain_order=True)


def metric_rows(rows: list[tuple[str, str, str, float | None]]) -> pl.DataFrame:
    """Metrics from (metric, dimension, dimension_value, value) tuples."""
    return pl.DataFrame(
        [(m, d, v, None if x is None else float(x), None) for m, d, v, x in rows],
        schema=METRIC_SCHEMA,
        orient="row",
    )


def metrics_by(frame: pl.DataFrame, metric: str, dimension: str, value: pl.Expr) -> pl.DataFrame:
    """A metric broken down by one column of `frame` (nulls reported as 'unknown')."""
    if frame.is_empty():
        return empty(METRIC_SCHEMA)
    return (
        frame.group_by(pl.col(dimension).fill_null("unknown").cast(pl.String).alias("dimension_value"))
        .agg(value.cast(pl.Float64).alias("value"))
        .select(
            pl.lit(metric).alias("metric"),
            pl.lit(dimension).alias("dimension"),
            "dimension_value",
            "value",
            pl.lit(None, dtype=pl.String).alias("detail"),
        )
        .sort("dimension_value")
    )


def trace_from(
    frame: pl.DataFrame, *, event_type: str, event_at: str, ref_id: str, attributes: list[str]
) -> pl.DataFrame:
    """Trace events for rows of `frame` whose `event_at` is set."""
    rows = frame.filter(pl.col(event_at).is_not_null())
    if rows.is_empty():
        return empty(TRACE_SCHEMA)
    return rows.select(
        *[
            (pl.col(c) if c in rows.columns else pl.lit(None)).cast(pl.String).alias(c)
            for c in ("onboarding_id", "opportunity_id", "account_id")
        ],
        pl.lit(event_type).alias("event_type"),
        pl.col(event_at).cast(UTC_TS).alias("event_at"),
        pl.col(ref_id).cast(pl.String).alias("ref_id"),
        json_object(attributes).alias("attributes"),
    )


def escalation(rule: RuleConfig, flag: str, when: str) -> dict[str, pl.Expr]:
    """Severity/alert overrides configured as `severity_when_<when>` / `alert_when_<when>`,
    applied to rows where boolean column `flag` is true."""
    overrides = {}
    severity = rule.extra.get(f"severity_when_{when}")
    if severity:
        overrides["severity"] = pl.when(pl.col(flag)).then(pl.lit(severity)).otherwise(pl.lit(rule.severity))
    alert = rule.extra.get(f"alert_when_{when}")
    if alert is not None:
        overrides["alert"] = pl.when(pl.col(flag)).then(pl.lit(bool(alert))).otherwise(pl.lit(rule.alert))
    return overrides


def _quantiles(frame: pl.DataFrame, value: str, item: str) -> pl.DataFrame:
    return frame.select(
        pl.len().cast(pl.Float64).alias("count"),
        pl.col(value).quantile(0.5, "linear").alias("p50"),
        pl.col(value).quantile(0.9, "linear").alias("p90"),
        pl.col(value).max().alias("max"),
        pl.col(item).sort_by(value, descending=True).first().alias("oldest"),
    )


def distribution_metrics(
    frame: pl.DataFrame, name: str, value: str, item: str = "onboarding_id", with_count: bool = True
) -> pl.DataFrame:
    """Count, p50, p90 and max of `value` (never an average alone), overall, by segment
    and by high value; the max row names its item in `detail`."""
    rows = []
    views = [("all", "all", frame)]
    for dimension in ("segment", "high_value"):
        if dimension in frame.columns:
            for key, part in frame.group_by(dimension):
                label = "unknown" if key[0] is None else str(key[0]).lower()
                views.append((dimension, label, part))
    for dimension, label, part in views:
        stats = _quantiles(part, value, item).row(0, named=True) if part.height else {"count": 0.0}
        suffixes = ("count", "p50", "p90", "max") if with_count else ("p50", "p90", "max")
        for suffix in suffixes:
            if suffix != "count" and not part.height:
                continue
            detail = json.dumps({item: stats["oldest"]}) if suffix == "max" else None
            rows.append((f"{name}.{suffix}", dimension, label, stats[suffix], detail))
    return pl.DataFrame(rows, schema=METRIC_SCHEMA, orient="row").sort("metric", "dimension", "dimension_value")
