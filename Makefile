# Hypercare: `make demo` runs the monitor on a synthetic month, `make test` runs the tests.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-distributed fuzz lint lint-docker bench profile alert-faults lock airflow airflow-celery redis-server clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hypercare demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=5

# CeleryExecutor as processes (Redis broker, API server, scheduler, DAG processor, triggerer,
# Celery workers): a day through every DAG on a worker, then a worker killed mid-run.
test-distributed: $(STAMP) redis-server
	$(BIN)/python -m pytest -m distributed --durations=5 tests/dags/test_celery_executor.py

# The tests start their own redis-server from the binary; install it where it is missing.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# The property-based tests with a long budget; prints how many inputs were tried.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q tests/test_loader_properties.py tests/test_alert_property.py --hypothesis-show-statistics

lint: $(STAMP) lint-docker
	$(BIN)/ruff check .

# The image's Dockerfile, linted without a container engine.
lint-docker: $(STAMP)
	$(BIN)/hadolint Dockerfile

bench: $(STAMP)
	$(BIN)/python scripts/benchmark.py

# Where the demo's seconds go: a pyinstrument call tree of its main thread (each day's
# evaluation and dispatch; generation, loads and scorecards run beside it) in .hypercare/demo-profile.txt.
profile: $(STAMP)
	mkdir -p .hypercare
	$(BIN)/pyinstrument -r text -o .hypercare/demo-profile.txt $(BIN)/hypercare demo

# Sent, received, duplicate and lost alert notices under channel faults and dispatcher kills.
alert-faults: $(STAMP)
	$(BIN)/python scripts/alert_faults.py

lock: $(STAMP)
	$(BIN)/uv pip compile requirements.txt --universal --python-version 3.11 -o requirements.lock

# Airflow standalone over this project's DAGs: metadata database and audit store in the
# embedded PostgreSQL; prints the UI's address and login (see scripts/run_airflow.py).
airflow: $(STAMP)
	$(BIN)/python scripts/run_airflow.py

# The same on CeleryExecutor, each component a process, with a Redis broker of its own.
WORKERS ?= 2
airflow-celery: $(STAMP) redis-server
	$(BIN)/python scripts/run_airflow.py --celery $(WORKERS)

clean:
	rm -rf $(VENV) .hypercare
