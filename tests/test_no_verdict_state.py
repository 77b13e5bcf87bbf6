"""Stateful property test: whatever sequence of good and broken loads, evaluations and
re-evaluations, nothing resolves and nobody is paged on a day an input was unusable.

The world is a small generated month; each step loads and evaluates a day as exported,
or with one entity file broken or cut by more than the volume threshold, or evaluates a
day again.
"""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hypercare.areas import AREAS
from hypercare.evaluate import evaluate_day
from hypercare.exports import MANIFEST_NAME
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import generate
from tests.summaries import assert_page_summaries_match

START = dt.date(2026, 11, 2)
DAYS = [START + dt.timedelta(days=i) for i in range(4)]
RULES = load_ruleset()
SOURCE_AREAS = [a for a in AREAS if a != "contract"]
# Which areas read each entity that the test breaks (cross-cutting ones read the others' results).
READERS = {
    "deals": SOURCE_AREAS,
    "onboarding_projects": SOURCE_AREAS,
    "customer_tasks": ["customer", "audit", "backlog"],
    "writebacks": ["writeback", "audit", "backlog"],
}
HOW = ["garbage", "missing", "cut", "none"]
PER_RUN_TABLES = (
    "load_runs",
    "quarantine",
    "evaluation_runs",
    "evaluation_blocks",
    "finding_occurrences",
    "finding_state",
    "finding_events",
    "metric_values",
    "trace_events",
    "alert_outbox",
    "occurrence_counts",
    "finding_counts",
    "finding_forecasts",
)


def break_file(folder, entity: str, how: str) -> None:
    path = folder / f"{entity}.csv"
    if how == "garbage":
        path.write_bytes(b"\x00\x01 not a csv \xff")
    elif how == "missing":
        path.unlink()
        (folder / MANIFEST_NAME).unlink()
    elif how == "cut":
        frame = pl.read_csv(path, infer_schema=False)
        frame.head(frame.height // 4).write_csv(path)
        (folder / MANIFEST_NAME).unlink()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate(out, start=START, days=len(DAYS), customers=40, seed=5, ruleset=RULES)
    return out


def test_no_verdict_on_unusable_days_after_any_sequence(world, db_url, tmp_path_factory):
    class NoVerdictMachine(RuleBasedStateMachine):
        @initialize()
        def fresh_store(self):
            self.conn = psycopg.connect(db_url, autocommit=True)
            self.conn.execute(f"truncate {', '.join('hypercare.' + t for t in PER_RUN_TABLES)} cascade")
            self.source = tmp_path_factory.mktemp("source")
            shutil.copytree(world, self.source, dirs_exist_ok=True)

        def teardown(self):
            self.conn.close()

        @rule(day=st.sampled_from(DAYS), entity=st.sampled_from(list(READERS)), how=st.sampled_from(HOW))
        def load_and_evaluate(self, day, entity, how):
            folder = self.source / day.isoformat()
            shutil.rmtree(folder)
            shutil.copytree(world / day.isoformat(), folder)
            if how != "none":
                break_file(folder, entity, how)
            load_snapshot(self.conn, self.source, day, ruleset=RULES)
            evaluate_day(self.conn, day, RULES)

        @rule(day=st.sampled_from(DAYS))
        def evaluate_again(self, day):
            if self.conn.execute("select 1 from hypercare.load_runs where snapshot_date = %s", (day,)).fetchone():
                evaluate_day(self.conn, day, RULES)

        @invariant()
        def nothing_resolves_or_pages_without_a_verdict(self):
            if not hasattr(self, "conn"):
                return
            resolved_when_blocked = self.conn.execute(
                "select count(*) from hypercare.finding_events e join hypercare.finding_state s using (finding_id) "
                "join hypercare.evaluation_blocks b on b.as_of = e.event_on and b.area = s.area "
                "where e.event = 'resolved'"
            ).fetchone()[0]
            assert resolved_when_blocked == 0
            paged_when_blocked = self.conn.execute(
                "select count(*) from hypercare.alert_outbox o join hypercare.evaluation_blocks b using (as_of, area)"
            ).fetchone()[0]
            assert paged_when_blocked == 0
            forecast_when_blocked = self.conn.execute(
                "select count(*) from hypercare.finding_forecasts join hypercare.evaluation_blocks using (as_of, area)"
            ).fetchone()[0]
            assert forecast_when_blocked == 0
            readers = [(entity, area) for entity, areas in READERS.items() for area in areas]
            judged_unusable = self.conn.execute(
                "select r.as_of, r.area, l.entity from hypercare.evaluation_runs r "
                "join hypercare.load_runs l on l.snapshot_date = r.as_of and r.evaluated_at >= l.loaded_at "
                "join unnest(%s::text[], %s::text[]) as reads(entity, area) "
                "  on reads.entity = l.entity and reads.area = r.area "
                "where l.status in ('rejected', 'held')",
                ([e for e, _ in readers], [a for _, a in readers]),
            ).fetchall()
            assert judged_unusable == []
            assert_page_summaries_match(self.conn)

    NoVerdictMachine.TestCase.settings = settings(
        max_examples=6,
        stateful_step_count=6,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    NoVerdictMachine.TestCase().runTest()
