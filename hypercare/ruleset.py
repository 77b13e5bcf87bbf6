"""The versioned rules configuration: thresholds, routing and the business calendar.

Each part of the configuration has its own version, a hash of only the sections it is
made of (`SCOPES`): the rule-set version stamped on findings and metrics covers what
evaluation reads, so changing an alert route or a scorecard recipient does not re-stamp
findings or count as a backfill; alert routing and scorecard settings carry their own
versions, recorded on notifications and scorecards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from hypercare import INCLUDE_DIR
from hypercare.calendar import BusinessCalendar

DEFAULT_RULES_FILE = INCLUDE_DIR / "rules.yaml"

# The top-level sections each version covers. `rules` is the rule-set version of every
# finding and metric: what the rules judge with. `operations` (how snapshots are
# ingested and the pipeline is run) changes what is loaded, never how a loaded day is
# judged, so it is versioned apart from the rules.
SCOPES: dict[str, tuple[str, ...]] = {
    "rules": ("calendar", "high_value", "rules", "handoff_required_fields", "unknown_segment"),
    "alerting": ("alerting",),
    "scorecard": ("hypercare", "scorecard"),
    "operations": ("ingest", "operations"),
}
SECTION_SCOPE = {section: scope for scope, sections in SCOPES.items() for section in sections}
SEVERITIES = ("info", "warn", "high", "critical")
OWNER_ROLES = (
    "revops",
    "onboarding_lead",
    "onboarding_owner",
    "account_owner",
    "finance_owner",
    "technical_owner",
    "automation_owner",
    "workflow_owner",
    "cs_ops",
)


@dataclass(frozen=True)
class RuleConfig:
    """One rule's severity, alert mark, routing, reason code and thresholds."""

    rule_id: str
    severity: str
    alert: bool
    owner_roles: tuple[str, ...]
    reason_code: str
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def area(self) -> str:
        return self.rule_id.split(".", 1)[0]

    def param(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise KeyError(f"rules configuration: {self.rule_id} has no param {name!r}") from None


@dataclass(frozen=True)
class IngestSettings:
    """How snapshot folders arrive (whether the source writes a manifest, see hypercare.exports)
    and how the ingest DAG schedules, waits for and times the day's run."""

    require_manifest: bool = False
    first_snapshot: dt.date = dt.date(2026, 11, 2)
    catchup: bool = False
    export_poll_minutes: float = 5
    export_wait_hours: float = 12
    evaluated_by: dt.time = dt.time(9, 0)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> IngestSettings:
        unknown = set(config) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"ingest: unknown setting(s) {sorted(unknown)}")
        defaults = cls()
        settings = cls(
            require_manifest=bool(config.get("require_manifest", defaults.require_manifest)),
            first_snapshot=dt.date.fromisoformat(str(config.get("first_snapshot", defaults.first_snapshot))),
            catchup=bool(config.get("catchup", defaults.catchup)),
            export_poll_minutes=float(config.get("export_poll_minutes", defaults.export_poll_minutes)),
            export_wait_hours=float(config.get("export_wait_hours", defaults.export_wait_hours)),
            evaluated_by=dt.time.fromisoformat(str(config.get("evaluated_by", defaults.evaluated_by))),
        )
        if settings.export_poll_minutes <= 0 or settings.export_wait_hours <= 0:
            raise ValueError("ingest: export_poll_minutes and export_wait_hours must be positive")
        return settings


@dataclass(frozen=True)
class RuleSet:
    """The parsed configuration; `version` is the rule-set version (scope `rules`) and
    `versions` holds every scope's version."""

    version: str
    calendar: BusinessCalendar
    high_value_arr: float
    go_live: dt.date | None
    rules: dict[str, RuleConfig]
    content: dict[str, Any]
    source: str
    handoff_required_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unknown_segment: str = "enterprise"
    ingest: IngestSettings = field(default_factory=IngestSettings)

    @cached_property
    def versions(self) -> dict[str, str]:
        """Every scope's version, from the content (`version` is the one of scope `rules`)."""
        return scope_versions(self.content)

    @property
    def alerting_version(self) -> str:
        return self.versions["alerting"]

    @property
    def scorecard_version(self) -> str:
        return self.versions["scorecard"]

    def scoped_content(self, scope: str) -> dict[str, Any]:
        """The sections of the configuration that make up `scope`'s version."""
        return scoped_content(self.content, scope)

    def rule(self, rule_id: str) -> RuleConfig:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise KeyError(f"rules configuration has no rule {rule_id!r}") from None

    def by_segment(self, rule_id: str, param: str) -> pl.Expr:
        """A per-segment threshold for each row, read off its `sla_segment` column."""
        return pl.col("sla_segment").replace_strict(dict(self.rule(rule_id).param(param)), return_dtype=pl.Float64)

    def area_rules(self, area: str) -> list[RuleConfig]:
        return [r for r in self.rules.values() if r.area == area]


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))


def scoped_content(content: dict[str, Any], scope: str) -> dict[str, Any]:
    return {section: content[section] for section in SCOPES[scope] if section in content}


def scope_versions(content: dict[str, Any]) -> dict[str, str]:
    """Each scope's version: a hash of its sections' parsed content (comments and layout do not count)."""
    return {
        scope: hashlib.sha256(_canonical(scoped_content(content, scope)).encode()).hexdigest()[:12] for scope in SCOPES
    }


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML that refuses a key given twice in one mapping (plain YAML keeps the last silently).

    On libyaml's parser where PyYAML has it: every load and every task parses the rules
    file, 65 ms with the pure-Python parser against 7 ms (docs/benchmarks.md, fourteenth round).
    """

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} given twice (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _rule(rule_id: str, spec: dict[str, Any], reason_codes: tuple[str, ...] | None) -> RuleConfig:
    known = {"severity", "alert", "owner_roles", "reason_code", "params"}
    severity = spec["severity"]
    if severity not in SEVERITIES:
        raise ValueError(f"{rule_id}: severity {severity!r} not one of {SEVERITIES}")
    roles = tuple(spec.get("owner_roles", ()))
    bad_roles = set(roles) - set(OWNER_ROLES)
    if bad_roles:
        raise ValueError(f"{rule_id}: unknown owner role(s) {sorted(bad_roles)}")
    reason = spec.get("reason_code", "unclassified")
    if reason_codes and reason not in reason_codes:
        raise ValueError(f"{rule_id}: unknown reason code {reason!r}")
    return RuleConfig(
        rule_id=rule_id,
        severity=severity,
        alert=bool(spec.get("alert", False)),
        owner_roles=roles,
        reason_code=reason,
        params=dict(spec.get("params") or {}),
        extra={k: v for k, v in spec.items() if k not in known},
    )


def parse_ruleset(source: str) -> RuleSet:
    """Parse and check a rules configuration; ValueError says what is wrong and where."""
    from hypercare.areas.registry import check_ruleset
    from hypercare.contract import load_contract

    try:
        content = yaml.load(source, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    if not isinstance(content, dict):
        raise ValueError("the rules configuration must be a mapping of sections")
    unknown = sorted(set(content) - set(SECTION_SCOPE))
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; known: {sorted(SECTION_SCOPE)}")
    check_ruleset(content)
    reason_codes = load_contract().reason_codes
    go_live = content.get("hypercare", {}).get("go_live")
    return RuleSet(
        version=scope_versions(content)["rules"],
        calendar=BusinessCalendar.from_config(content.get("calendar", {})),
        high_value_arr=float(content["high_value"]["arr_threshold"]),
        go_live=dt.date.fromisoformat(str(go_live)) if go_live else None,
        rules={rid: _rule(rid, spec, reason_codes) for rid, spec in content["rules"].items()},
        content=content,
        source=source,
        handoff_required_fields={
            segment: tuple(fields) for segment, fields in (content.get("handoff_required_fields") or {}).items()
        },
        unknown_segment=content.get("unknown_segment", "enterprise"),
        ingest=IngestSettings.from_config(content.get("ingest") or {}),
    )


def load_ruleset(path: Path | str | None = None) -> RuleSet:
    """Load the rules configuration from `path` (default HYPERCARE_RULES_FILE, else include/rules.yaml)."""
    path = Path(path or os.environ.get("HYPERCARE_RULES_FILE") or DEFAULT_RULES_FILE)
    try:
        return parse_ruleset(path.read_text())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
