# Hypercare: `make demo` runs the monitor on a synthetic month, `make test` runs the tests.
# Both create .venv and install the pinned dependencies on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test fuzz lint bench profile alert-faults lock airflow clean

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
	$(BIN)/python -m pytest --durations=5

# The property-based tests with a long budget; prints how many inputs were tried.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=long $(BIN)/python -m pytest -q tests/test_loader_properties.py tests/test_alert_property.py --hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python scripts/benchmark.py

# Where the demo's seconds go: a pyinstrument call tree in .hypercare/demo-profile.txt.
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

clean:
	rm -rf $(VENV) .hypercare
