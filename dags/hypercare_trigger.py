"""Hypercare trigger health: did the right customers enter onboarding at the right time?"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task
from common.hypercare_tasks import DEFAULT_ARGS, LANDING, area_asset, evaluate_areas

DOC = """
### hypercare_trigger
Owner: **hypercare-data-eng**; findings go to RevOps and the onboarding lead.

Runs when a snapshot lands (the landing asset) and evaluates the `trigger.*` rules of the
rules catalog for that snapshot date: missed eligible deals, premature starts, duplicate
and manual projects, unlinked projects, deals stuck before eligibility, paused handoffs
and signed-but-not-closed deals. Each run replaces its own findings and metrics for the
date, so re-runs and backfills are safe. Trigger a run by hand with `as_of` to
re-evaluate one day.
"""


@dag(
    dag_id="hypercare_trigger",
    schedule=[LANDING],
    start_date=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["hypercare", "monitoring"],
    doc_md=DOC,
    params={
        "as_of": Param(None, type=["null", "string"], format="date", description="snapshot date to evaluate"),
        "rules_file": Param(None, type=["null", "string"], description="rules configuration override"),
    },
)
def hypercare_trigger():
    @task(outlets=[area_asset("trigger")])
    def evaluate_trigger(**context) -> list[str]:
        return evaluate_areas(["trigger"], context)

    evaluate_trigger()


hypercare_trigger()
