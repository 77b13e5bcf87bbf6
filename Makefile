# Hypercare: `make demo` runs the monitor on a synthetic month, `make test` runs the tests.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test fuzz lint bench profile lock airflow clean

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
	$(BIN)/python -m pytest

# The property-based tests with a long budget; prints how many inputs were tried.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q tests/test_loader_properties.py --hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python scripts/benchmark.py

# Where the demo's seconds go: a pyinstrument call tree in .hypercare/demo-profile.txt.
profile: $(STAMP)
	mkdir -p .hypercare
	$(BIN)/pyinstrument -r text -o .hypercare/demo-profile.txt $(BIN)/hypercare demo

lock: $(STAMP)
	$(BIN)/uv pip compile requirements.txt --universal --python-version 3.11 -o requirements.lock

# Airflow standalone (UI on http://localhost:8080) over this project's DAGs and the embedded store.
airflow: $(STAMP)
	AIRFLOW_HOME=$(CURDIR)/.hypercare/airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__PLUGINS_FOLDER=$(CURDIR)/plugins AIRFLOW__CORE__LOAD_EXAMPLES=False \
	HYPERCARE_SOURCE_DIR=$(CURDIR)/.hypercare/demo/2026-11-02-30d-2000c-seed7 \
	$(BIN)/airflow standalone

clean:
	rm -rf $(VENV) .hypercare
