"""Rules as a registry: one function per rule, run by its monitoring area.

An area module declares `area = Area("trigger", TriggerRun)`, where `TriggerRun` holds
the area's shared preparation (frames computed once per run, as cached properties) and
builds its metrics and trace. Each rule is one function registered with
`@area.rule("trigger.missed_eligible", params=("business_days",))` that takes the run
and the rule's configuration and returns the rows that fire, as findings. The area runs
its rules in the order they are defined; a rule can read the findings of the rules
before it (`run.found`).

`check_ruleset` holds the rules configuration to the registry when it is loaded: every
configured rule has exactly one implementation and every implementation a configuration,
every key of a rule's configuration is one its implementation reads, and the tables
that name rules elsewhere (scorecard fix kinds, next actions, alert inhibition) name
only existing rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from hypercare.findings import METRIC_SCHEMA, TRACE_SCHEMA, AreaResult, empty
from hypercare.ruleset import SEVERITIES, RuleConfig, RuleSet
from hypercare.snapshot import Snapshot

# Keys every rule's configuration may hold, whatever its implementation.
COMMON_KEYS = frozenset({"severity", "alert", "owner_roles", "reason_code", "params"})


class AreaRun:
    """One area's evaluation of one snapshot date: shared frames, and the findings so far.

    Subclasses add the frames their rules share as `functools.cached_property`, so each
    is computed once per run however many rules read it, and override `metrics` and
    `trace`.
    """

    def __init__(self, snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet):
        self.snapshot = snapshot
        self.as_of = as_of
        self.ruleset = ruleset
        self.cal = ruleset.calendar
        self.found: dict[str, pl.DataFrame] = {}

    def rule(self, rule_id: str) -> RuleConfig:
        return self.ruleset.rule(rule_id)

    def metrics(self, findings: pl.DataFrame) -> pl.DataFrame:
        return empty(METRIC_SCHEMA)

    def trace(self) -> pl.DataFrame:
        return empty(TRACE_SCHEMA)


RuleFunction = Callable[[Any, RuleConfig], pl.DataFrame]


@dataclass(frozen=True)
class RuleImplementation:
    """A rule's function and the configuration keys it reads."""

    rule_id: str
    area: str
    function: RuleFunction
    params: frozenset[str]
    options: frozenset[str]
    clock: bool = True

    @property
    def location(self) -> str:
        return f"{self.function.__module__}.{self.function.__qualname__}"


# Every rule implementation of every area, by rule id, in definition order.
IMPLEMENTATIONS: dict[str, RuleImplementation] = {}


class Area:
    """A monitoring area: its run class and the rules registered to it, in order."""

    def __init__(self, name: str, run: type[AreaRun]):
        self.name = name
        self.run_class = run
        self.rules: dict[str, RuleImplementation] = {}

    def rule(
        self,
        rule_id: str,
        *,
        params: Iterable[str] = (),
        options: Iterable[str] = (),
        escalations: Iterable[str] = (),
        clock: bool = True,
    ) -> Callable[[RuleFunction], RuleFunction]:
        """Register the decorated function as the implementation of `rule_id`.

        `params` are the keys of its `params:` block (all required), `options` extra
        keys it reads (such as `severity_when_strategic`), and each name in `escalations`
        allows `severity_when_<name>` and `alert_when_<name>` (see findings.escalation).
        `clock=False` declares that neither the rule nor anything it reads depends on the
        as-of instant: the breach forecast then keeps the day's findings instead of
        evaluating it again (tests/test_forecast.py holds every such rule to it).
        """

        def register(function: RuleFunction) -> RuleFunction:
            if rule_id.split(".", 1)[0] != self.name:
                raise ValueError(f"{function.__qualname__}: rule {rule_id!r} does not belong to area {self.name!r}")
            if rule_id in IMPLEMENTATIONS:
                raise ValueError(
                    f"rule {rule_id!r} has two implementations: {IMPLEMENTATIONS[rule_id].location} "
                    f"and {function.__module__}.{function.__qualname__}"
                )
            extra = set(options)
            for name in escalations:
                extra |= {f"severity_when_{name}", f"alert_when_{name}"}
            implementation = RuleImplementation(
                rule_id=rule_id,
                area=self.name,
                function=function,
                params=frozenset(params),
                options=frozenset(extra),
                clock=clock,
            )
            self.rules[rule_id] = IMPLEMENTATIONS[rule_id] = implementation
            return function

        return register

    def evaluate(self, snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet) -> AreaResult:
        """Run every rule of the area on one snapshot date; (snapshot, as_of, ruleset) -> AreaResult."""
        run = self._run_rules(snapshot, as_of, ruleset)
        findings = pl.concat(list(run.found.values()))
        return AreaResult(findings=findings, metrics=run.metrics(findings), trace=run.trace())

    def findings_later(self, snapshot: Snapshot, later: dt.date, ruleset: RuleSet, found: pl.DataFrame) -> pl.DataFrame:
        """The findings `evaluate` would give as of `later` on the same snapshot, whose findings
        as of its own day are `found`: rules declared clock-free keep theirs, the others run."""
        unchanged = {
            rule_id: found.filter(pl.col("rule_id") == rule_id)
            for rule_id, implementation in self.rules.items()
            if not implementation.clock
        }
        return pl.concat(list(self._run_rules(snapshot, later, ruleset, unchanged).found.values()))

    def _run_rules(
        self, snapshot: Snapshot, as_of: dt.date, ruleset: RuleSet, known: dict[str, pl.DataFrame] | None = None
    ) -> AreaRun:
        run = self.run_class(snapshot, as_of, ruleset)
        for rule_id, implementation in self.rules.items():
            if known and rule_id in known:
                run.found[rule_id] = known[rule_id]
            else:
                run.found[rule_id] = implementation.function(run, ruleset.rule(rule_id))
        return run


def _rule_problems(rule_id: str, spec: dict[str, Any], implementation: RuleImplementation) -> list[str]:
    problems = []
    known = COMMON_KEYS | implementation.options
    for key in sorted(set(spec) - known):
        hint = f"; it reads {sorted(implementation.options)}" if implementation.options else ""
        problems.append(f"rules.{rule_id}: unknown key {key!r} (not read by {implementation.location}{hint})")
    given = set((spec.get("params") or {}).keys())
    for key in sorted(given - implementation.params):
        problems.append(
            f"rules.{rule_id}.params: unknown param {key!r} (known: {sorted(implementation.params) or 'none'})"
        )
    for key in sorted(implementation.params - given):
        problems.append(f"rules.{rule_id}.params: missing param {key!r}, read by {implementation.location}")
    for key in sorted(set(spec) & implementation.options):
        value = spec[key]
        if key.startswith("severity_when_") and value not in SEVERITIES:
            problems.append(f"rules.{rule_id}.{key}: {value!r} is not one of {list(SEVERITIES)}")
        if key.startswith("alert_when_") and not isinstance(value, bool):
            problems.append(f"rules.{rule_id}.{key}: {value!r} is not true or false")
    return problems


def _named_rule_problems(content: dict[str, Any], rule_ids: set[str]) -> list[str]:
    """Problems in the tables outside `rules:` that name rules."""
    areas = {rule_id.split(".", 1)[0] for rule_id in rule_ids}
    problems = []
    scorecard = content.get("scorecard") or {}
    for key in scorecard.get("fix_kind_by_rule") or {}:
        if key.endswith(".*"):
            if key[:-2] not in areas:
                problems.append(f"scorecard.fix_kind_by_rule: {key!r} names no area with rules")
        elif key not in rule_ids:
            problems.append(f"scorecard.fix_kind_by_rule: {key!r} is not a rule")
    alerting = content.get("alerting") or {}
    for key in alerting.get("next_actions") or {}:
        if key not in rule_ids:
            problems.append(f"alerting.next_actions: {key!r} is not a rule")
    for number, inhibit in enumerate(alerting.get("inhibit") or (), start=1):
        for key in [inhibit.get("source"), *(inhibit.get("targets") or ())]:
            if key not in rule_ids:
                problems.append(f"alerting.inhibit[{number}]: {key!r} is not a rule")
    return problems


def check_ruleset(content: dict[str, Any]) -> None:
    """Raise ValueError listing every way the configuration and the implementations disagree."""
    configured = content.get("rules") or {}
    problems = []
    for rule_id, spec in configured.items():
        implementation = IMPLEMENTATIONS.get(rule_id)
        if implementation is None:
            problems.append(f"rules.{rule_id}: no implementation (register one with @area.rule({rule_id!r}))")
        else:
            problems += _rule_problems(rule_id, spec or {}, implementation)
    for rule_id, implementation in IMPLEMENTATIONS.items():
        if rule_id not in configured:
            problems.append(f"rules.{rule_id}: implemented by {implementation.location} but not configured")
    problems += _named_rule_problems(content, set(configured))
    if problems:
        raise ValueError("rules configuration does not match the rule implementations:\n  " + "\n  ".join(problems))
