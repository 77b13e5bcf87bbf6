"""Airflow DAG hypercare_scorecard: the daily scorecard, archived every day, emailed on the hypercare cadence."""

from __future__ import annotations

from airflow.sdk import Param, dag, task
from common.hypercare_tasks import (
    DEFAULT_ARGS,
    MONITORING_AREAS,
    START_DATE,
    area_asset,
    db_url,
    scorecard_smtp_settings,
    snapshot_dates,
)

DOC = """
### hypercare_scorecard
Owner: **hypercare-data-eng**; read by RevOps, CS ops, onboarding, finance and technical owners.

Runs once every monitoring area and the cross-cutting checks have written a snapshot
date, and compiles that day's scorecard from the audit store: the first dashboard, a
health line per monitoring area with its trend, the control loop, the stable-state
verdict and, on review days, the weekly review pack with the ranked fixes. Every day is
archived in `hypercare.scorecards` (data JSON and standalone HTML; a re-run replaces the
day's row). The email goes out on the hypercare cadence counted from `hypercare.go_live`
(daily on days 1-5, twice weekly on days 6-15, weekly on days 16-30, then weekly or
biweekly: `scorecard.cadence` in the rules file) to the recipients configured per role,
through the SMTP provider connection (`scorecard.smtp_conn_id`, default `smtp_default`,
or the `smtp_conn_id` param). A day already sent is not sent again.

Trigger by hand with `as_of` to recompile one day.
"""


@dag(
    dag_id="hypercare_scorecard",
    schedule=[*(area_asset(area) for area in MONITORING_AREAS), area_asset("crosscutting")],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["hypercare", "scorecard"],
    doc_md=DOC,
    params={
        "as_of": Param(None, type=["null", "string"], format="date", description="scorecard date to compile"),
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
        with db.connect(db_url()) as conn:
            db.migrate(conn)
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
        import datetime as dt

        from hypercare import db
        from hypercare.ruleset import load_ruleset
        from hypercare.scorecard.build import load_archived, send_scorecard, sent_at
        from hypercare.scorecard.config import scorecard_config

        ruleset = load_ruleset(context["params"].get("rules_file") or None)
        conn_id = context["params"].get("smtp_conn_id") or scorecard_config(ruleset).smtp_conn_id
        sent = []
        with db.connect(db_url()) as conn:
            for entry in compiled:
                day = dt.date.fromisoformat(entry["as_of"])
                if not entry["send_day"] or sent_at(conn, day) is not None:
                    continue
                accepted = send_scorecard(conn, load_archived(conn, day, ruleset), scorecard_smtp_settings(conn_id))
                sent.append(f"{day}: {len(accepted)} recipients")
        return sent

    send_scorecards(compile_scorecards())


hypercare_scorecard()
