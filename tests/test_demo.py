"""`make demo` in small: the month generated in its own process, each next day loaded beside
the current day's evaluation, each day's scorecard compiled beside the next days' runs."""

from __future__ import annotations

import datetime as dt

import pytest

from hypercare.demo import MonthBeingGenerated, run_demo

START = dt.date(2026, 11, 2)  # the rules' go-live: days 1-5 are daily send days
DAYS = 3


def test_a_small_month_matches_its_ground_truth_and_sends_each_days_scorecard(db_url, tmp_path, capsys):
    month = tmp_path / "month"
    assert run_demo(db_url, START, days=DAYS, customers=60, seed=7, workdir=month) == 0
    out = capsys.readouterr().out
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    assert [line[:10] for line in out.splitlines() if "loaded" in line] == [d.isoformat() for d in days]
    assert ", 0 missed, 0 unexpected" in out
    assert sorted(p.name for p in (month / "scorecards").iterdir()) == [f"{d}.html" for d in days]
    assert len(list((month / "mail").glob("*.eml"))) == DAYS


def test_a_generator_that_fails_stops_the_month_with_its_traceback(tmp_path):
    """The month is made in another process: its failure reaches the demo as an error that
    shows where it failed, instead of a demo waiting forever for its first day."""
    occupied = tmp_path / "occupied"
    occupied.write_text("a file where the month's folder would go")
    with (
        MonthBeingGenerated(occupied / "month", START, days=2, customers=10, seed=7) as month,
        pytest.raises(RuntimeError, match="the generator failed") as failure,
    ):
        month.wait_for(START)
    assert "Traceback" in str(failure.value) and "occupied" in str(failure.value)
