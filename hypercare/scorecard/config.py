"""The `scorecard:` section of the rules configuration, parsed and checked once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hypercare.ruleset import RuleSet

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SEVERITY_RANK = {"info": 0, "warn": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Cadence:
    """When the scorecard is sent, relative to the go-live date (day 1)."""

    go_live: dt.date | None
    daily_business_days_only: bool = True
    twice_weekly_on: tuple[int, ...] = (0, 3)
    weekly_on: int = 0
    after_day_30: str = "weekly"


@dataclass(frozen=True)
class FixRanking:
    top: int = 10
    weights: dict[str, float] = field(default_factory=lambda: {"count": 0.4, "oldest_days": 0.2, "arr_at_risk": 0.4})
    severity_weight: dict[str, float] = field(default_factory=lambda: {"warn": 1.0, "high": 2.0, "critical": 3.0})


@dataclass(frozen=True)
class HealthStatus:
    """What colours a monitoring area's health line: red with at least `red_min_high` high or
    critical exceptions open, else amber with at least `amber_min_exceptions` exceptions
    (warn and above), else green."""

    red_min_high: int = 1
    amber_min_exceptions: int = 1

    def status(self, high: int, warn: int) -> str:
        if high >= self.red_min_high:
            return "red"
        return "amber" if high + warn >= self.amber_min_exceptions else "green"

    def legend(self) -> dict[str, str]:
        """Each colour's rule in words, with the numbers that decide it."""
        red, amber = self.red_min_high, self.amber_min_exceptions
        return {
            "red": f"{red} or more high or critical exceptions open",
            "amber": f"fewer than {red} high, and {amber} or more exceptions (warn and above)",
            "green": f"fewer than {red} high and fewer than {amber} exceptions",
            "no verdict": "inputs incomplete, not evaluated",
        }


@dataclass(frozen=True)
class ScorecardConfig:
    cadence: Cadence
    sender: str
    recipients: dict[str, tuple[str, ...]]
    smtp_conn_id: str
    fix_ranking: FixRanking
    fix_kinds: dict[str, str]
    fix_kind_by_rule: dict[str, str]
    weak_limit: int
    thresholds: dict[str, float]
    currency: str = "USD"
    accounts_per_fix: int = 5
    rule_names: dict[str, str] = field(default_factory=dict)
    health: HealthStatus = field(default_factory=HealthStatus)
    journey_base_url: str | None = None  # the Airflow UI (alerting.airflow_base_url): accounts link to journeys
    version: str | None = None  # of the configuration's `scorecard` scope, recorded on archived scorecards

    @property
    def all_recipients(self) -> list[str]:
        """Every configured address once, in role order."""
        return list(dict.fromkeys(a for addresses in self.recipients.values() for a in addresses))

    def fix_kind(self, rule_id: str) -> str:
        """The kind of fix for a rule: its exact entry, else its area's `<area>.*` entry."""
        kind = self.fix_kind_by_rule.get(rule_id) or self.fix_kind_by_rule.get(rule_id.split(".", 1)[0] + ".*")
        if kind is None:
            raise KeyError(f"scorecard.fix_kind_by_rule has no entry for {rule_id!r} or its area")
        return kind

    def rule_name(self, rule_id: str) -> str:
        """The rule's plain-language name: its `name` in the rules configuration, else read from its id."""
        named = self.rule_names.get(rule_id)
        if named:
            return named
        area, _, rest = rule_id.partition(".")
        return f"{capitalized(plain(area))}: {plain(rest)}" if rest else capitalized(plain(area))

    def threshold(self, name: str) -> float:
        try:
            return float(self.thresholds[name])
        except KeyError:
            raise KeyError(f"scorecard.stable_state.thresholds has no {name!r}") from None


WORDS = {"ai": "AI", "revops": "RevOps", "cs": "CS", "sla": "SLA", "crm": "CRM", "arr": "ARR", "id": "ID"}


def plain(key: str) -> str:
    """An identifier as words: `workflow_owner` reads "workflow owner", `cs_ops` "CS ops"."""
    return " ".join(WORDS.get(word, word) for word in key.replace("_", " ").replace(".", " ").split())


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def _weekday(name: Any, where: str) -> int:
    text = str(name).lower()
    if text not in WEEKDAYS:
        raise ValueError(f"scorecard.{where}: {name!r} is not a weekday")
    return WEEKDAYS.index(text)


def scorecard_config(ruleset: RuleSet) -> ScorecardConfig:
    """Read the scorecard settings; raises ValueError on settings the scorecard cannot use."""
    section = ruleset.content.get("scorecard") or {}
    cadence_cfg = section.get("cadence") or {}
    after = str(cadence_cfg.get("after_day_30", "weekly"))
    if after not in ("weekly", "biweekly"):
        raise ValueError(f"scorecard.cadence.after_day_30 must be weekly or biweekly, not {after!r}")
    cadence = Cadence(
        go_live=ruleset.go_live,
        daily_business_days_only=bool(cadence_cfg.get("daily_business_days_only", True)),
        twice_weekly_on=tuple(
            _weekday(d, "cadence.twice_weekly_on") for d in cadence_cfg.get("twice_weekly_on", ("monday", "thursday"))
        ),
        weekly_on=_weekday(cadence_cfg.get("weekly_on", "monday"), "cadence.weekly_on"),
        after_day_30=after,
    )
    ranking_cfg = section.get("fix_ranking") or {}
    defaults = FixRanking()
    ranking = FixRanking(
        top=int(ranking_cfg.get("top", defaults.top)),
        weights={k: float(v) for k, v in (ranking_cfg.get("weights") or defaults.weights).items()},
        severity_weight={
            k: float(v) for k, v in (ranking_cfg.get("severity_weight") or defaults.severity_weight).items()
        },
    )
    fix_kinds = {str(k): str(v) for k, v in (section.get("fix_kinds") or {}).items()}
    by_rule = {str(k): str(v) for k, v in (section.get("fix_kind_by_rule") or {}).items()}
    unknown_kinds = set(by_rule.values()) - set(fix_kinds)
    if unknown_kinds:
        raise ValueError(f"scorecard.fix_kind_by_rule names unknown kind(s) {sorted(unknown_kinds)}")
    stable = section.get("stable_state") or {}
    health_cfg = section.get("health_status") or {}
    health = HealthStatus(
        red_min_high=int(health_cfg.get("red_min_high", 1)),
        amber_min_exceptions=int(health_cfg.get("amber_min_exceptions", 1)),
    )
    if health.red_min_high < 1 or health.amber_min_exceptions < 1:
        raise ValueError("scorecard.health_status thresholds must be at least 1")
    base_url = str((ruleset.content.get("alerting") or {}).get("airflow_base_url") or "").rstrip("/")
    config = ScorecardConfig(
        cadence=cadence,
        sender=str(section.get("sender", "hypercare@localhost")),
        recipients={str(role): tuple(addresses or ()) for role, addresses in (section.get("recipients") or {}).items()},
        smtp_conn_id=str(section.get("smtp_conn_id", "hypercare_smtp")),
        fix_ranking=ranking,
        fix_kinds=fix_kinds,
        fix_kind_by_rule=by_rule,
        weak_limit=int(stable.get("weak_limit", 2)),
        thresholds=dict(stable.get("thresholds") or {}),
        currency=str(section.get("currency", "USD")),
        accounts_per_fix=int(section.get("accounts_per_fix", 5)),
        rule_names={
            rule_id: str(rule.extra.get("name") or rule.extra.get("title") or "")
            for rule_id, rule in ruleset.rules.items()
        },
        health=health,
        journey_base_url=base_url or None,
        version=ruleset.scorecard_version,
    )
    for rule_id in ruleset.rules:
        config.fix_kind(rule_id)
    return config
