"""A generated hypercare month, loaded and evaluated end to end, against its ground truth."""

from __future__ import annotations

import datetime as dt

import pytest

from hypercare import db
from hypercare.areas import AREAS
from hypercare.demo import truth_agreement
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import DEMO_RESPONSE, generate
from tests.conftest import fresh_database

START = dt.date(2026, 11, 2)
DAYS = 30
RULES = load_ruleset()


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    generate(out, start=START, days=DAYS, customers=400, seed=7, ruleset=RULES, response=DEMO_RESPONSE)
    return out


@pytest.fixture(scope="module")
def evaluated(pg_admin_url, month):
    """The month loaded and evaluated once for the module: every test leaves it as it found it
    (the re-evaluation test asserts exactly that)."""
    with fresh_database(pg_admin_url) as url, db.connect(url, autocommit=True) as conn:
        for offset in range(DAYS):
            day = START + dt.timedelta(days=offset)
            load_snapshot(conn, month, day)
            evaluate_day(conn, day, RULES)
        yield conn


def test_findings_match_ground_truth_exactly(evaluated, month):
    agreement = truth_agreement(evaluated, month / "ground_truth.csv", list(AREAS))
    assert agreement.expected > 0
    assert agreement.missed.to_dicts()[:20] == []
    assert agreement.unexpected.to_dicts()[:20] == []
    rules_seen = {r for (r,) in evaluated.execute("select distinct rule_id from hypercare.finding_occurrences")}
    # The month's faults are row-level; whole-file failures are covered by tests/test_bad_exports.py.
    file_level = {"contract.file_rejected", "contract.volume_drop"}
    assert {r for r in RULES.rules if r.split(".")[0] in AREAS} - file_level <= rules_seen


def test_reevaluating_a_day_leaves_an_identical_store(evaluated, month):
    def dump():
        return {
            t: evaluated.execute(f"select * from hypercare.{t} as t order by t::text").fetchall()
            for t in (
                "finding_occurrences",
                "finding_state",
                "finding_events",
                "metric_values",
                "trace_events",
            )
        }

    before = dump()
    day = START + dt.timedelta(days=12)
    load_snapshot(evaluated, month, day)
    evaluate_day(evaluated, day, RULES)
    evaluate_day(evaluated, day, RULES)
    assert dump() == before


def test_trace_has_the_journey_start_of_every_onboarding(evaluated):
    last = START + dt.timedelta(days=DAYS - 1)
    projects = evaluated.execute(
        "select count(distinct onboarding_id) from hypercare.landing_onboarding_projects where snapshot_date = %s",
        (last,),
    ).fetchone()[0]
    traced = evaluated.execute(
        "select count(distinct onboarding_id) from hypercare.trace_events where event_type = 'project_created'"
    ).fetchone()[0]
    assert traced >= projects > 0
    linked = evaluated.execute(
        "select count(*) from hypercare.trace_events t join hypercare.trace_events p "
        "on p.onboarding_id = t.onboarding_id and p.event_type = 'project_created' "
        "where t.event_type = 'trigger_received'"
    ).fetchone()[0]
    assert linked > 0
