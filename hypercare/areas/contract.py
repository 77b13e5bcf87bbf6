"""Contract quality: quarantined rows, rejected files and held volume drops are monitored signals.

This area reads only how each entity file loaded, never the entities themselves, so it
gives its verdict even on a day when every other area cannot.
"""

from __future__ import annotations

from functools import cached_property

import polars as pl

from hypercare.areas.registry import Area, AreaRun
from hypercare.findings import findings_from, metrics_by
from hypercare.ruleset import RuleConfig

_FILE_EVIDENCE = ["entity", "source_file", "status", "rows_read", "message"]


class ContractRun(AreaRun):
    @cached_property
    def loads(self) -> pl.DataFrame:
        """How each entity file of the day loaded, with its quarantined rows and share."""
        return self.snapshot.load_runs.with_columns(
            (pl.col("rows_read") - pl.col("rows_loaded")).alias("rows_quarantined"),
        ).with_columns(
            pl.when(pl.col("rows_read") > 0)
            .then(pl.col("rows_quarantined") / pl.col("rows_read"))
            .otherwise(0.0)
            .alias("quarantined_share"),
        )

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        loads = self.loads
        return pl.concat(
            [
                metrics_by(loads, "rows_read", "entity", pl.col("rows_read").sum()),
                metrics_by(loads, "rows_quarantined", "entity", pl.col("rows_quarantined").sum()),
                metrics_by(loads, "quarantined_share", "entity", pl.col("quarantined_share").max()),
            ]
        )


area = Area("contract", ContractRun)


@area.rule("contract.violation", params=("high_share",), options=("severity_when_share_above",))
def violation(run: ContractRun, rule: RuleConfig) -> pl.DataFrame:
    high = rule.extra.get("severity_when_share_above", rule.severity)
    return findings_from(
        rule,
        run.loads.filter(pl.col("rows_quarantined") > 0),
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


@area.rule("contract.file_rejected")
def file_rejected(run: ContractRun, rule: RuleConfig) -> pl.DataFrame:
    return findings_from(
        rule, run.loads.filter(pl.col("status") == "rejected"), subject="entity", evidence=_FILE_EVIDENCE
    )


@area.rule("contract.volume_drop", params=("max_drop_share",))
def volume_drop(run: ContractRun, rule: RuleConfig) -> pl.DataFrame:
    """`max_drop_share` is applied by the loader, which holds the entity; this rule reports it."""
    return findings_from(rule, run.loads.filter(pl.col("status") == "held"), subject="entity", evidence=_FILE_EVIDENCE)


evaluate = area.evaluate
