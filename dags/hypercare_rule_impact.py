"""Airflow DAG hypercare_rule_impact: what a changed rules file would do, before a backfill runs it."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from hypercare_airflow.common import AREA_RUN_TIMEOUT, START_DATE, default_args, require_migrated, store_url

DOC = """
### hypercare_rule_impact
Owner: **hypercare-data-eng**; read by whoever changes `include/rules.yaml` and by RevOps before a backfill.

Triggered by hand with a proposed rules file (`rules_file`) and optionally a window
(`date_from`, `date_to`; default every evaluated day). It re-evaluates the window under
the proposed rule set in one transaction that is rolled back, exactly as a backfill
would run, and reports per rule the findings added, removed and unchanged, customers
newly and no longer flagged (segment, ARR at stake), alerts that would have fired and
severity changes. Nothing is written to the audit store. The table is in the task log;
`impact.json`, `impact_rules.csv` and `impact_customers.csv` are written under
`HYPERCARE_HOME/impact/<run id>/`. Same as `hypercare rules impact --rules FILE`.
"""


@dag(
    dag_id="hypercare_rule_impact",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=AREA_RUN_TIMEOUT,
    default_args=default_args(),
    tags=["hypercare", "monitoring"],
    doc_md=DOC,
    params={
        "rules_file": Param(type="string", description="the proposed rules configuration"),
        "date_from": Param(None, type=["null", "string"], format="date", description="first day of the window"),
        "date_to": Param(None, type=["null", "string"], format="date", description="last day of the window"),
    },
)
def hypercare_rule_impact():
    # A preview of every area over a month re-evaluates as much as a backfill of it.
    @task(execution_timeout=AREA_RUN_TIMEOUT - dt.timedelta(minutes=5))
    def preview_impact(**context) -> dict:
        import re

        from hypercare import db
        from hypercare.impact import preview_to_files
        from hypercare.ruleset import load_ruleset

        params = context["params"]
        days = [dt.date.fromisoformat(params[k]) if params.get(k) else None for k in ("date_from", "date_to")]
        out_dir = db.hypercare_home() / "impact" / re.sub(r"[^A-Za-z0-9_.-]", "_", context["run_id"])
        proposed = load_ruleset(params["rules_file"])
        with db.connect(store_url(), autocommit=True) as conn:
            require_migrated(conn)
            return preview_to_files(conn, proposed, out_dir, *days, actor=f"airflow:{context['dag'].dag_id}")

    preview_impact()


hypercare_rule_impact()
