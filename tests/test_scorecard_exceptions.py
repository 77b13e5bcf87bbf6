"""The scorecard's answers from the day's exceptions (hypercare/scorecard/exceptions.py),
held against a plain reading of their definitions on small random days: fixes, the
accounts behind each fix, reopened counts and journeys stuck in the control loop."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hypercare.scorecard.config import SEVERITY_RANK
from hypercare.scorecard.exceptions import ROW_SCHEMA, STEP_AREAS, DayExceptions

AS_OF = dt.date(2026, 11, 20)
# Identifiers that order differently by code point than by most locales' rules.
NAMES = ["a", "B", "b", "Z", "é", "a b", "a-b", "10", "9"]
DEALS = {f"OPP-{name}": (f"ACC-{i % 3}", float(i % 4) * 12_500.5) for i, name in enumerate(NAMES)}


@st.composite
def exception_days(draw):
    rules = draw(st.lists(st.sampled_from(["trigger.missed", "handoff.incomplete", "customer.stalled"]), min_size=1))
    rows, seen = [], set()
    for _ in range(draw(st.integers(0, 30))):
        rule = draw(st.sampled_from(rules))
        subject = draw(st.sampled_from(NAMES))
        if (rule, subject) in seen:
            continue
        seen.add((rule, subject))
        opportunity = draw(st.one_of(st.none(), st.sampled_from([*DEALS, "OPP-unlanded"])))
        account, arr = DEALS.get(opportunity, (None, None))
        rows.append(
            {
                "area": rule.split(".")[0],
                "rule_id": rule,
                "reason_code": draw(st.sampled_from(["late", "missing"])),
                "severity": draw(st.sampled_from(["warn", "high", "critical"])),
                "subject_key": subject,
                "onboarding_id": draw(st.one_of(st.none(), st.sampled_from([f"ONB-{n}" for n in NAMES[:4]]))),
                "opportunity_id": opportunity,
                "high_value": draw(st.one_of(st.none(), st.booleans())),
                "owner_roles": draw(st.sampled_from(["revops", "onboarding_owner,revops", ""])),
                "account_id": account,
                "arr": arr,
                "opened_on": draw(st.one_of(st.none(), st.dates(AS_OF - dt.timedelta(days=20), AS_OF))),
                "reopened": draw(st.booleans()),
            }
        )
    return rows


def expected_fixes(rows: list[dict]) -> list[tuple]:
    fixes = defaultdict(list)
    for row in rows:
        fixes[row["rule_id"], row["reason_code"]].append(row)
    out = []
    for (rule, reason), group in sorted(fixes.items()):
        opened = [r["opened_on"] for r in group if r["opened_on"] is not None]
        oldest = min(group, key=lambda r: (r["opened_on"] is None, r["opened_on"] or AS_OF, r["subject_key"]))
        deals = {(r["opportunity_id"], r["arr"]) for r in group if r["arr"] is not None}
        out.append(
            (
                rule,
                reason,
                len(group),
                len({r["onboarding_id"] or r["opportunity_id"] or r["subject_key"] for r in group}),
                sum(r["high_value"] is True for r in group),
                max(SEVERITY_RANK[r["severity"]] for r in group),
                max(((AS_OF - day).days for day in opened), default=0),
                oldest["subject_key"],
                pytest.approx(sum(arr for _, arr in deals)),
                min(group, key=lambda r: r["subject_key"])["owner_roles"],
                len({r["onboarding_id"] for r in group if r["onboarding_id"] is not None}),
            )
        )
    return out


def expected_accounts(rows: list[dict], per_fix: int) -> list[tuple]:
    behind = defaultdict(set)
    for r in rows:
        if r["account_id"] is not None:
            behind[r["rule_id"], r["reason_code"]].add((r["account_id"], r["onboarding_id"], r["arr"]))
    out = []
    for fix, accounts in sorted(behind.items()):
        ranked = sorted(accounts, key=lambda a: (-a[2], a[0], a[1] is None, a[1] or ""))
        out.extend((*fix, *account) for account in ranked[:per_fix])
    return out


def expected_loop(rows: list[dict], journeys: list[tuple[str, str]]) -> list[tuple]:
    counts = defaultdict(lambda: [0, 0])
    for journey, stage in journeys:
        touching = {r["area"] for r in rows if journey in (r["onboarding_id"], r["opportunity_id"])}
        counts[stage][0] += 1
        counts[stage][1] += bool(touching & set(STEP_AREAS.get(stage, ())))
    return sorted((stage, n, stuck) for stage, (n, stuck) in counts.items())


@settings(max_examples=150, deadline=None)
@given(
    rows=exception_days(),
    per_fix=st.integers(1, 3),
    journeys=st.dictionaries(
        st.sampled_from([f"ONB-{n}" for n in NAMES[:4]] + list(DEALS)),
        st.sampled_from([*STEP_AREAS, "value_reached"]),
    ),
)
def test_the_days_answers_follow_their_definitions(rows, per_fix, journeys):
    day = DayExceptions(AS_OF, pl.DataFrame(rows, schema=ROW_SCHEMA, orient="row"))
    assert day.fixes() == expected_fixes(rows)
    assert day.accounts(per_fix) == expected_accounts(rows, per_fix)
    assert day.counts() == (len(rows), sum(r["reopened"] for r in rows))
    at_steps = pl.DataFrame(list(journeys.items()), schema={"journey": pl.String, "stage": pl.String}, orient="row")
    assert sorted(day.control_loop(at_steps)) == expected_loop(rows, list(journeys.items()))
