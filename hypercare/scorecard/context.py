"""The audit-store rows one scorecard reads, with lookups the scorecard sections share."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from hypercare.scorecard.config import ScorecardConfig

SEGMENTS = ("enterprise", "mid_market", "smb")


class MetricTable:
    """The day's metric rows, looked up by (day, metric, dimension, value)."""

    def __init__(self, rows: list[tuple]):
        self._values: dict[tuple, float | None] = {}
        self._details: dict[tuple, Any] = {}
        self._by: dict[tuple, dict[str, float | None]] = defaultdict(dict)
        for as_of, _area, metric, dimension, dimension_value, value, detail in rows:
            key = (as_of, metric, dimension, dimension_value)
            self._values[key] = value
            self._details[key] = detail
            self._by[(as_of, metric, dimension)][dimension_value] = value

    def get(self, day: dt.date, metric: str, dimension: str = "all", value: str = "all") -> float | None:
        return self._values.get((day, metric, dimension, value))

    def by(self, day: dt.date, metric: str, dimension: str) -> dict[str, float | None]:
        return dict(sorted(self._by.get((day, metric, dimension), {}).items()))

    def detail(self, day: dt.date, metric: str) -> Any:
        return self._details.get((day, metric, "all", "all"))

    def has_day(self, day: dt.date) -> bool:
        return any(key[0] == day for key in self._values)


class FindingCounts:
    """Finding counts per day and rule, split by severity."""

    def __init__(self, rows: list[tuple]):
        # Per day, then per (rule, severity): the health trends ask about each day of the
        # period in turn, and scanning every day's counts for each question took 0.15 s.
        self._count: dict[dt.date, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
        for as_of, _area, rule_id, severity, findings, _high_value, _alerting in rows:
            self._count[as_of][(rule_id, severity)] += findings

    def count(self, day: dt.date, rules: tuple[str, ...] | str, exceptions_only: bool = True) -> int:
        """Findings of `rules` (exact ids, or prefixes ending in ".") on `day`."""
        rules = (rules,) if isinstance(rules, str) else rules
        return sum(
            n
            for (rule_id, severity), n in self._count.get(day, {}).items()
            if (severity != "info" or not exceptions_only)
            and any(rule_id.startswith(r) if r.endswith(".") else rule_id == r for r in rules)
        )

    def total(self, day: dt.date) -> int:
        """Every exception (warn and above) on `day`."""
        return sum(n for (_rule, severity), n in self._count.get(day, {}).items() if severity != "info")

    def by_rule(self, day: dt.date) -> dict[tuple[str, str], int]:
        return dict(self._count.get(day, {}))


@dataclass(frozen=True)
class Context:
    as_of: dt.date
    previous: dt.date | None
    findings: FindingCounts
    metrics: MetricTable
    config: ScorecardConfig

    def metric(self, name: str, day: dt.date | None = None, dimension: str = "all", value: str = "all"):
        day = day or self.as_of
        return self.metrics.get(day, name, dimension, value)

    def previous_metric(self, name: str, default: float | None = None) -> float | None:
        if self.previous is None:
            return None
        found = self.metrics.get(self.previous, name)
        return default if found is None and self.metrics.has_day(self.previous) else found

    def count(self, rules: tuple[str, ...] | str) -> int:
        return self.findings.count(self.as_of, rules)

    def previous_count(self, rules: tuple[str, ...] | str) -> int | None:
        return None if self.previous is None else self.findings.count(self.previous, rules)
