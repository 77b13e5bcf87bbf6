"""How the onboarding team answers the hypercare reviews: the month's control loop.

A real hypercare is not a steady fault rate. On every review day of the scorecard cadence
the team takes the top fixes the review names and works them: over the following
business days the named area's new faults fall to a residual rate, and its open faults
are put right (a missing contact entered, a stuck writeback re-run). Meanwhile volume
grows, and one area that nobody is watching starts failing more (the regression).

The generator models this from its own ground truth, never from a monitor's store: before
each review it builds the month with the fixes decided so far, takes that review day's
truth and ranks it as the scorecard ranks fixes, simplified to worst severity weight x
findings per rule (the scorecard also weighs the oldest age and the ARR at risk). The
areas of the top fixes not yet being worked are named. Areas draw their faults from
independent streams and a fix changes nothing before its review, so that day's truth is
what the review would have shown, up to one approximation: a trigger fix adds and
removes projects, which re-draws the records created after them.

`TeamPlan` is what the loop decided; fault injectors ask it for each row's fault
intensity (1 = the baseline rate) and cleanup instant (`NEVER` while nobody works the area).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np

from hypercare.synth.clock import NEVER, Clock
from hypercare.synth.model import stream

DAY = 86_400
# Generator areas a review can name: each owns the fault injectors of its rules (a rule's
# area is its prefix unless listed in AREA_OF_RULE).
FAULT_AREAS = ("trigger", "handoff", "ownership", "customer", "outcome", "billing", "provisioning", "ai", "writeback")
# First value recorded without evidence is the scorecard's business-outcome area: a fix of
# its own, not part of chasing customer tasks.
AREA_OF_RULE = {"customer.first_value_without_evidence": "outcome"}
# The scorecard's fix ranking weighs a fix by its worst severity (scorecard.fix_ranking).
SEVERITY_WEIGHT = {"warn": 1.0, "high": 2.0, "critical": 3.0}


@dataclass(frozen=True)
class ReviewResponse:
    """The knobs of the team's response (the defaults make the demo month).

    - fixes_per_review: distinct areas a review names from the top of its ranked fixes.
    - min_findings: a fix needs at least this many findings to be worth a review's slot.
    - ramp_business_days: after the review, new faults of a named area fall linearly
      to `residual` of their baseline rate over this many business days.
    - cleanup_business_days: the area's open faults are put right at a uniform instant in
      this window (business days after the review) unless their own fix comes sooner.
    - regression_area / regression_day / regression_factor: from this hypercare day (1 =
      go-live) the growing volume multiplies that area's fault rate, ramping up over
      `ramp_business_days`; the area is only named by reviews after the regression starts.
    """

    fixes_per_review: int = 4
    min_findings: int = 3
    ramp_business_days: float = 2.0
    residual: float = 0.0
    cleanup_business_days: tuple[float, float] = (0.5, 4.0)
    regression_area: str | None = "writeback"
    regression_day: int = 16
    regression_factor: float = 3.0


DEMO_RESPONSE = ReviewResponse()
NO_RESPONSE = ReviewResponse(fixes_per_review=0, regression_area=None)


@dataclass(frozen=True)
class TeamPlan:
    """Which review named which area, and the regression: the whole response of a month."""

    response: ReviewResponse = NO_RESPONSE
    named: dict[dt.date, tuple[str, ...]] = field(default_factory=dict)
    regression_from: dt.date | None = None

    def fixed_on(self, area: str) -> dt.date | None:
        return next((day for day, areas in sorted(self.named.items()) if area in areas), None)

    def with_named(self, day: dt.date, areas: tuple[str, ...]) -> TeamPlan:
        return replace(self, named={**self.named, day: areas})

    def intensity(self, area: str, clock: Clock, ts: np.ndarray) -> np.ndarray:
        """Each row's fault rate relative to the baseline, by the instant it came to be."""
        ts = np.asarray(ts, dtype=np.int64)
        rate = np.ones(len(ts))
        fixed = self.fixed_on(area)
        if fixed is not None:
            rate *= 1.0 - self._progress(clock, fixed, ts) * (1.0 - self.response.residual)
        if area == self.response.regression_area and self.regression_from is not None:
            start = self.regression_from - dt.timedelta(days=1)
            rate *= 1.0 + self._progress(clock, start, ts) * (self.response.regression_factor - 1.0)
        return rate

    def cleanup(self, area: str, clock: Clock, seed: int, table: str, n: int) -> np.ndarray:
        """When the team puts each row's open fault right (NEVER while the area is not named)."""
        fixed = self.fixed_on(area)
        if fixed is None:
            return np.full(n, NEVER)
        rng = stream(seed, "response", area, table)
        low, high = self.response.cleanup_business_days
        return clock.add_business_days(np.full(n, clock.day_end(fixed)), rng.uniform(low, high, n))

    def _progress(self, clock: Clock, day: dt.date, ts: np.ndarray) -> np.ndarray:
        """0 up to the end of `day`, rising to 1 over the ramp's business days."""
        since = clock.business_seconds(ts) - clock.business_seconds(np.array([clock.day_end(day)]))
        ramp = max(self.response.ramp_business_days, 1e-9) * DAY
        return np.clip(np.where(ts >= NEVER, ramp, since) / ramp, 0.0, 1.0)

    def lines(self) -> list[str]:
        """The response, as the generator's report prints it."""
        out = [f"review {day.isoformat()}: team fixes {', '.join(areas)}" for day, areas in sorted(self.named.items())]
        if self.regression_from is not None:
            out.append(f"from {self.regression_from.isoformat()}: volume growth breaks {self.response.regression_area}")
        return out


NO_TEAM = TeamPlan()


def rule_area(rule_id: str) -> str | None:
    """The generator area whose injectors produce a rule's findings (None: derived rules)."""
    area = AREA_OF_RULE.get(rule_id, rule_id.split(".", 1)[0])
    return area if area in FAULT_AREAS else None


def rank_areas(truth_rows: list[tuple[str, str]], exclude: set[str], min_findings: int = 1) -> list[str]:
    """Areas in the order of their top fix: per rule, worst severity weight x findings.

    `truth_rows` are (rule_id, severity) of one day's findings; info findings are not
    exceptions and never make a fix, nor does a rule with fewer than `min_findings`.
    """
    counts: dict[str, int] = {}
    worst: dict[str, float] = {}
    for rule_id, severity in truth_rows:
        weight = SEVERITY_WEIGHT.get(severity)
        if weight is None:
            continue
        counts[rule_id] = counts.get(rule_id, 0) + 1
        worst[rule_id] = max(worst.get(rule_id, 0.0), weight)
    ranked = sorted((r for r in counts if counts[r] >= min_findings), key=lambda r: (-worst[r] * counts[r], r))
    areas: list[str] = []
    for rule_id in ranked:
        area = rule_area(rule_id)
        if area is not None and area not in exclude and area not in areas:
            areas.append(area)
    return areas
