"""Contract quality: quarantined rows, rejected files and held volume drops are monitored signals.

This area reads only how each entity file loaded, never the entities themselves, so it
gives its verdict even on a day when every other area cannot.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from hypercare.findings import AreaResult, findings_from, metrics_by
from hypercare.ruleset import RuleSet
from hypercare.snapshot import Snapshot


def evaluate(snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
    rule = ruleset.rule("contract.violation")
    loads = snapshot.load_runs.with_columns(
        (pl.col("rows_read") - pl.col("rows_loaded")).alias("rows_quarantined"),
    ).with_columns(
        pl.when(pl.col("rows_read") > 0)
        .then(pl.col("rows_quarantined") / pl.col("rows_read"))
        .otherwise(0.0)
        .alias("quarantined_share"),
    )
    broken = loads.filter(pl.col("rows_quarantined") > 0)
    high = rule.extra.get("severity_when_share_above", rule.severity)
    findings = findings_from(
        rule,
        broken,
        subject="entity",
        evidence=[
            "entity",
            "source_file",
            "status",
            "rows_read",
            "rows_loaded",
            "rows_quarantined",
            "quarantined_share",
            "message",
        ],
        severity=pl.when(pl.col("quarantined_share") > rule.param("high_share"))
        .then(pl.lit(high))
        .otherwise(pl.lit(rule.severity)),
    )
    evidence = ["entity", "source_file", "status", "rows_read", "message"]
    findings = pl.concat(
        [
            findings,
            findings_from(
                ruleset.rule("contract.file_rejected"),
                loads.filter(pl.col("status") == "rejected"),
                subject="entity",
                evidence=evidence,
            ),
            findings_from(
                ruleset.rule("contract.volume_drop"),
                loads.filter(pl.col("status") == "held"),
                subject="entity",
                evidence=evidence,
            ),
        ]
    )
    metrics = pl.concat(
        [
            metrics_by(loads, "rows_read", "entity", pl.col("rows_read").sum()),
            metrics_by(loads, "rows_quarantined", "entity", pl.col("rows_quarantined").sum()),
            metrics_by(loads, "quarantined_share", "entity", pl.col("quarantined_share").max()),
        ]
    )
    return AreaResult(findings=findings, metrics=metrics)
