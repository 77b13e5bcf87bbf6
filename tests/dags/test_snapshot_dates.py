"""Which snapshot dates a DAG run evaluates."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from common.hypercare_tasks import snapshot_dates


def test_param_wins_over_events_and_interval():
    context = {"params": {"as_of": "2026-11-05"}, "triggering_asset_events": {}, "data_interval_start": None}
    assert snapshot_dates(context) == [dt.date(2026, 11, 5)]


def test_every_date_named_by_triggering_events_is_evaluated_once():
    events = {
        "landing": [
            SimpleNamespace(extra={"snapshot_dates": ["2026-11-04"]}),
            SimpleNamespace(extra={"snapshot_dates": ["2026-11-03", "2026-11-04"]}),
            SimpleNamespace(extra=None),
        ]
    }
    context = {"params": {"as_of": None}, "triggering_asset_events": events}
    assert snapshot_dates(context) == [dt.date(2026, 11, 3), dt.date(2026, 11, 4)]


def test_scheduled_run_uses_its_data_interval():
    start = dt.datetime(2026, 11, 6, tzinfo=dt.UTC)
    context = {"params": {}, "triggering_asset_events": {}, "data_interval_start": start}
    assert snapshot_dates(context) == [dt.date(2026, 11, 6)]
