"""Which snapshot a run processes: the model the README and the DAG docs describe."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from hypercare.ruleset import load_ruleset
from hypercare_airflow.common import ingest_snapshot_date, snapshot_dates
from hypercare_airflow.settings import dag_settings


def test_area_param_wins_over_events():
    events = {"landing": [SimpleNamespace(extra={"snapshot_dates": ["2026-11-04"]})]}
    context = {"params": {"snapshot_date": "2026-11-05"}, "triggering_asset_events": events}
    assert snapshot_dates(context) == [dt.date(2026, 11, 5)]


def test_every_date_named_by_triggering_events_is_evaluated_once():
    events = {
        "landing": [
            SimpleNamespace(extra={"snapshot_dates": ["2026-11-04"]}),
            SimpleNamespace(extra={"snapshot_dates": ["2026-11-03", "2026-11-04"]}),
            SimpleNamespace(extra=None),
        ]
    }
    context = {"params": {"snapshot_date": None}, "triggering_asset_events": events}
    assert snapshot_dates(context) == [dt.date(2026, 11, 3), dt.date(2026, 11, 4)]


def test_area_run_without_a_date_is_refused_not_guessed():
    with pytest.raises(ValueError, match="snapshot_date"):
        snapshot_dates({"params": {}, "triggering_asset_events": {}})


def test_scheduled_and_backfill_runs_load_the_day_their_interval_starts():
    start = dt.datetime(2026, 11, 6, tzinfo=dt.UTC)
    context = {"params": {"snapshot_date": None}, "data_interval_start": start}
    assert ingest_snapshot_date(context) == dt.date(2026, 11, 6)


def test_manual_ingest_param_wins_and_without_interval_loads_the_last_complete_day():
    start = dt.datetime(2026, 11, 6, tzinfo=dt.UTC)
    assert ingest_snapshot_date({"params": {"snapshot_date": "2026-11-03"}, "data_interval_start": start}) == (
        dt.date(2026, 11, 3)
    )
    run = SimpleNamespace(run_after=dt.datetime(2026, 11, 10, 8, 30, tzinfo=dt.UTC))
    assert ingest_snapshot_date({"params": {}, "data_interval_start": None, "dag_run": run}) == dt.date(2026, 11, 9)


def test_parse_time_settings_agree_with_the_rule_set():
    """The DAG files read the rules file with plain YAML; the tasks parse it in full."""
    dag_side, ingest = dag_settings(), load_ruleset().ingest
    assert dag_side.first_snapshot == ingest.first_snapshot
    assert dag_side.catchup == ingest.catchup
    assert dag_side.export_poll == dt.timedelta(minutes=ingest.export_poll_minutes)
    assert dag_side.export_wait == dt.timedelta(hours=ingest.export_wait_hours)
    assert dag_side.evaluated_by == ingest.evaluated_by
    assert dag_side.timezone == load_ruleset().calendar.timezone
