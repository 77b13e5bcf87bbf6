"""Airflow for DAG tests: its own home and metadata DB, this project's DAGs and plugins folders.

Airflow puts the plugins folder on sys.path in every component; the tests do the same so
`hypercare_airflow` imports as it does in a deployment.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"
PLUGINS_FOLDER = DAGS_FOLDER.parent / "plugins"
_HOME = Path(tempfile.mkdtemp(prefix="hypercare-airflow-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)

os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)
if str(PLUGINS_FOLDER) not in sys.path:
    sys.path.append(str(PLUGINS_FOLDER))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated Airflow metadata database (SQLite) for dag.test()."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
    )
    return _HOME


@pytest.fixture(scope="session")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="session")
def runnable_dagbag():
    """A separate parse of the DAGs whose tasks fail fast: a dag.test() must not sit out
    production retry delays when something breaks."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    for dag in bag.dags.values():
        # dag.test() in Airflow 3.3 cannot prune a deadline alert when the run ends (it looks
        # the alert up by its definition, not its stored id); the scheduler test covers them.
        dag.deadline = None
        for task in dag.tasks:
            task.retries = 0
    return bag
