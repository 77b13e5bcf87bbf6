"""Breach forecast: a forecast for day D is what opens on the next business day when that
day's snapshot holds nothing new."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from hypercare.evaluate import evaluate_day
from hypercare.forecast import horizon
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import generate

START = dt.date(2026, 11, 2)
FRIDAY = dt.date(2026, 11, 6)
RULES = load_ruleset()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Monday to Friday of a generated world, and Friday's export copied as Monday's."""
    out = tmp_path_factory.mktemp("world")
    generate(out, start=START, days=5, customers=300, seed=7, ruleset=RULES)
    monday = horizon(RULES.calendar, FRIDAY)
    shutil.copytree(out / FRIDAY.isoformat(), out / monday.isoformat())
    manifest = out / monday.isoformat() / "_manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"snapshot_date": monday.isoformat()}))
    return out, monday


def _forecast(conn, day, change="opens"):
    return set(
        conn.execute(
            "select rule_id, subject_key from hypercare.finding_forecasts where as_of = %s and change = %s",
            (day, change),
        ).fetchall()
    )


def test_forecast_equals_what_opens_next_business_day_on_unchanged_data(conn, world):
    out, monday = world
    assert monday == dt.date(2026, 11, 9)
    for offset in range(5):
        day = START + dt.timedelta(days=offset)
        load_snapshot(conn, out, day)
        evaluate_day(conn, day, RULES)
    forecast, clearing = _forecast(conn, FRIDAY), _forecast(conn, FRIDAY, "resolves")
    assert conn.execute(
        "select count(distinct horizon), min(horizon) from hypercare.finding_forecasts where as_of = %s", (FRIDAY,)
    ).fetchone() == (1, monday)

    load_snapshot(conn, out, monday)
    evaluate_day(conn, monday, RULES)
    opened = set(
        conn.execute(
            "select s.rule_id, s.subject_key from hypercare.finding_events e "
            "join hypercare.finding_state s using (finding_id) "
            "where e.event_on = %s and e.event in ('opened', 'reopened')",
            (monday,),
        ).fetchall()
    )
    resolved = set(
        conn.execute(
            "select s.rule_id, s.subject_key from hypercare.finding_events e "
            "join hypercare.finding_state s using (finding_id) where e.event_on = %s and e.event = 'resolved'",
            (monday,),
        ).fetchall()
    )
    assert sorted(forecast - opened)[:10] == []
    assert sorted(opened - forecast)[:10] == []
    assert sorted(clearing ^ resolved)[:10] == []
    # The clocks the issue names all move over a weekend of unchanged data.
    rules = {rule for rule, _ in forecast}
    assert len(forecast) >= 20, forecast
    assert {"ownership.no_owner", "customer.milestone_aged", "backlog.aged_high_value"} <= rules, sorted(rules)


def test_rerunning_a_day_leaves_the_same_forecast(conn, world):
    out, _ = world
    load_snapshot(conn, out, FRIDAY)
    evaluate_day(conn, FRIDAY, RULES)
    first = conn.execute("select * from hypercare.finding_forecasts order by 1, 5, 6").fetchall()
    evaluate_day(conn, FRIDAY, RULES)
    assert conn.execute("select * from hypercare.finding_forecasts order by 1, 5, 6").fetchall() == first
    assert first
