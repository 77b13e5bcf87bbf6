"""Airflow DAG hypercare_alerts: deliver alert notifications from the outbox every 15 minutes."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, task

from hypercare_airflow.common import SHORT_TASK_TIMEOUT, START_DATE, default_args, require_migrated, store_url

DOC = """
### hypercare_alerts
Owner: **hypercare-data-eng**; messages go to the roles routed in `include/rules.yaml` (`alerting`).

Every 15 minutes: queues repeats of open, unacknowledged alerts (at most once per
configured business hours) and escalations of unacknowledged critical ones, holds back
silenced and inhibited notifications, then sends one grouped message per recipient:
Slack through the `hypercare_slack_api` (Web API) or `hypercare_slack_webhook`
connection, email through `hypercare_smtp`. Failures are retried with backoff (Slack's
Retry-After honoured); a run that dies mid-send is reconciled by the next one, so an
outage delays a message but never loses or duplicates it. Channels without a
connection are written to files under `HYPERCARE_HOME/alert-capture`.
Acknowledge or silence with `hypercare alerts ack|silence`.
"""


@dag(
    dag_id="hypercare_alerts",
    schedule=dt.timedelta(minutes=15),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=dt.timedelta(minutes=30),
    default_args=default_args(),
    tags=["hypercare", "alerts"],
    doc_md=DOC,
)
def hypercare_alerts():
    @task(execution_timeout=SHORT_TASK_TIMEOUT)
    def dispatch_alerts(**context) -> str:
        from hypercare import db
        from hypercare.alerts.dispatch import dispatch
        from hypercare.ruleset import load_ruleset
        from hypercare_airflow.notify import alert_senders

        with db.connect(store_url()) as conn:
            require_migrated(conn)
            report = dispatch(conn, load_ruleset(), alert_senders(), dispatch_id=context["run_id"])
        if report.failures:
            print(f"{len(report.failures)} recipient(s) will be retried: {report.failures[:5]}")
        return report.summary()

    dispatch_alerts()


hypercare_alerts()
