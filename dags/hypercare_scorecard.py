"""Airflow DAG hypercare_scorecard: the daily scorecard, archived every day, emailed on the hypercare cadence."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import Param, dag, task

from hypercare_airflow.common import (
    MONITORING_AREAS,
    START_DATE,
    area_asset,
    default_args,
    require_migrated,
    snapshot_dates,
    store_url,
)

DOC = """
### hypercare_scorecard
Owner: **hypercare-data-eng**; read by RevOps, CS ops, onboarding, finance and technical owners.

Runs once every monitoring area and the cross-cutting checks have written a snapshot
date (the dates their asset events name; a manual run compiles its **Snapshot date**),
and compiles that day's scorecard from the audit store: the first dashboard, a health line
per monitoring area with its trend, the control loop, the stable-state verdict and, on
review days, the weekly review pack with the ranked fixes. Every day is archived in
`hypercare.scorecards` (data JSON and standalone HTML; a re-run replaces the day's row).
The email goes out on the hypercare cadence counted from `hypercare.go_live` (daily on
days 1-5, twice weekly on days 6-15, weekly on days 16-30, then weekly or biweekly:
`scorecard.cadence` in the rules file) to the recipients configured per role, through the
`hypercare_smtp` connection (`scorecard.smtp_conn_id`, or the `smtp_conn_id` param). A day
already sent is not sent again. Without the connection the email is written to
`HYPERCARE_HOME/alert-capture/scorecard/<date>.eml` and not marked sent.
"""


@dag(
    dag_id="hypercare_scorecard",
    schedule=[*(area_asset(area) for area in MONITORING_AREAS), area_asset("crosscutting")],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(hours=2),
    default_args=default_args(),
    tags=["hypercare", "scorecard"],
    doc_md=DOC,
    params={
        "snapshot_date": Param(
            None, type=["null", "string"], format="date", title="Snapshot date", description="scorecard day to compile"
        ),
        "rules_file": Param(None, type=["null", "string"], description="rules configuration override"),
        "smtp_conn_id": Param(None, type=["null", "string"], description="SMTP connection override"),
    },
)
def hypercare_scorecard():
    @task
    def compile_scorecards(**context) -> list[dict]:
        from hypercare import db
        from hypercare.ruleset import load_ruleset
        from hypercare.scorecard.build import compile_and_archive

        ruleset = load_ruleset(context["params"].get("rules_file") or None)
        compiled = []
        with db.connect(store_url()) as conn:
            require_migrated(conn)
            for day in snapshot_dates(context):
                scorecard = compile_and_archive(conn, day, ruleset)
                compiled.append(
                    {
                        "as_of": day.isoformat(),
                        "send_day": scorecard.send_day,
                        "cadence": scorecard.data["cadence_line"],
                    }
                )
        return compiled

    @task
    def send_scorecards(compiled: list[dict], **context) -> list[str]:
        from hypercare import db
        from hypercare.ruleset import load_ruleset
        from hypercare.scorecard.build import load_archived, sent_at
        from hypercare.scorecard.config import scorecard_config
        from hypercare_airflow.notify import deliver_scorecard

        ruleset = load_ruleset(context["params"].get("rules_file") or None)
        conn_id = context["params"].get("smtp_conn_id") or scorecard_config(ruleset).smtp_conn_id
        delivered = []
        with db.connect(store_url()) as conn:
            for entry in compiled:
                day = dt.date.fromisoformat(entry["as_of"])
                if not entry["send_day"] or sent_at(conn, day) is not None:
                    continue
                delivered.append(deliver_scorecard(conn, load_archived(conn, day, ruleset), conn_id))
        print("\n".join(delivered) or "no scorecard to send")
        return delivered

    send_scorecards(compile_scorecards())


hypercare_scorecard()
