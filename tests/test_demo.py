"""`make demo` in small: the month generated in its own process, each next day loaded beside
the current day's evaluation, each day's scorecard compiled beside the next days' runs."""

from __future__ import annotations

import datetime as dt

from hypercare.demo import run_demo

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
