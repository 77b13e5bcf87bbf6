"""Two runs of one area writing different days at once take turns, so each computes a
finding's history with the other's rows (Airflow backfills and scheduled runs overlap)."""

from __future__ import annotations

import threading

from hypercare import db
from hypercare.store import register_ruleset, write_area_result
from tests.test_store import RULES, D, events, result_with, run


def test_a_second_write_of_the_same_area_waits_for_the_first(db_url):
    with db.connect(db_url) as first, db.connect(db_url) as second:
        run(first, D[0], ["p1"])
        first.commit()
        done = threading.Event()

        def write_later_day():
            run(second, D[2], [])
            second.commit()
            done.set()

        with first.transaction():
            register_ruleset(first, RULES)
            write_area_result(first, D[1], "trigger", RULES, result_with(["p1"]))
            writer = threading.Thread(target=write_later_day)
            writer.start()
            assert not done.wait(2), "the other day's write ran while this one was open"
        writer.join(30)
        assert done.is_set()
        # The later day saw D[1]'s occurrence: p1 resolves on D[2], not on D[1].
        assert [(kind, day) for _, kind, day in events(first)] == [("opened", D[0]), ("resolved", D[2])]
