"""What every Hypercare DAG shares. Imports here stay light: parsing must be fast.

The monitoring logic lives in the `hypercare` package and is imported inside tasks.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import Asset

OWNER = "hypercare-data-eng"
APPROVED_TAGS = frozenset({"hypercare", "ingest", "monitoring", "alerts", "scorecard"})
DB_CONN_ID = "hypercare_db"

LANDING = Asset("hypercare://audit-store/landing")


def area_asset(area: str) -> Asset:
    """Updated when an area's findings for a snapshot date are written."""
    return Asset(f"hypercare://audit-store/findings/{area}")


def failure_notifiers() -> list[Any]:
    """Tell the data engineers when a task finally fails: Slack through the webhook
    connection named by HYPERCARE_FAILURE_SLACK_CONN_ID, email to HYPERCARE_FAILURE_EMAIL
    through the `hypercare_smtp` connection; none when neither is configured."""
    notifiers: list[Any] = []
    text = "Hypercare task failed: {{ ti.dag_id }}.{{ ti.task_id }} ({{ run_id }}), see {{ ti.log_url }}"
    if os.environ.get("HYPERCARE_FAILURE_SLACK_CONN_ID"):
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        notifiers.append(
            SlackWebhookNotifier(slack_webhook_conn_id=os.environ["HYPERCARE_FAILURE_SLACK_CONN_ID"], text=text)
        )
    if os.environ.get("HYPERCARE_FAILURE_EMAIL"):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            SmtpNotifier(
                to=os.environ["HYPERCARE_FAILURE_EMAIL"], subject=text, html_content=text, smtp_conn_id="hypercare_smtp"
            )
        )
    return notifiers


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "on_failure_callback": failure_notifiers(),
}


def source_dir_default() -> str:
    return os.environ.get("HYPERCARE_SOURCE_DIR", "/opt/hypercare/source")


def db_url() -> str | None:
    """The `hypercare_db` connection's URL, or None to let `hypercare` pick its default."""
    conn = _connection(DB_CONN_ID)
    return conn.get_uri().replace("postgres://", "postgresql://", 1) if conn else None


def snapshot_dates(context: dict[str, Any]) -> list[dt.date]:
    """Dates this run evaluates: the `as_of` param, else every snapshot the triggering
    asset events name, else the start of the run's data interval."""
    as_of = (context.get("params") or {}).get("as_of")
    if as_of:
        return [dt.date.fromisoformat(as_of)]
    events = context.get("triggering_asset_events") or {}
    named = sorted(
        {
            dt.date.fromisoformat(day)
            for asset_events in events.values()
            for event in asset_events
            for day in (event.extra or {}).get("snapshot_dates", ())
        }
    )
    if named:
        return named
    interval_start = context.get("data_interval_start") or context["logical_date"]
    return [interval_start.date()]


def announce(context: dict[str, Any], asset: Asset, days: list[dt.date]) -> None:
    """Name the snapshot dates on the asset event, so downstream DAGs evaluate the same days."""
    context["outlet_events"][asset].extra = {"snapshot_dates": [day.isoformat() for day in days]}


def evaluate_areas(areas: list[str], context: dict[str, Any], outlet: Asset | None = None) -> list[str]:
    """Evaluate `areas` for the run's snapshot dates; returns one summary line per run."""
    from hypercare import db
    from hypercare.evaluate import evaluate_day
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset(context["params"].get("rules_file") or None)
    actor = f"airflow:{context['dag'].dag_id}"
    lines = []
    days = snapshot_dates(context)
    with db.connect(db_url()) as conn:
        db.migrate(conn)
        for day in days:
            lines += [s.line() for s in evaluate_day(conn, day, ruleset, areas=areas, actor=actor)]
    if outlet is not None:
        announce(context, outlet, days)
    return lines


MONITORING_AREAS = ("trigger", "handoff", "ownership", "customer", "billing", "provisioning", "ai", "writeback")
START_DATE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def run_params() -> dict[str, Any]:
    from airflow.sdk import Param

    return {
        "as_of": Param(None, type=["null", "string"], format="date", description="snapshot date to evaluate"),
        "rules_file": Param(None, type=["null", "string"], description="rules configuration override"),
    }


def build_area_dag(area: str, doc_md: str, schedule: Any = None, evaluates: tuple[str, ...] | None = None):
    """One monitoring area as a DAG: runs when a snapshot lands, evaluates the area for
    every snapshot date named by the triggering asset events, and updates the area's asset."""
    from airflow.sdk import dag, task

    @dag(
        dag_id=f"hypercare_{area}",
        schedule=schedule if schedule is not None else [LANDING],
        start_date=START_DATE,
        catchup=False,
        default_args=DEFAULT_ARGS,
        tags=["hypercare", "monitoring"],
        doc_md=doc_md,
        params=run_params(),
    )
    def area_dag():
        @task(task_id=f"evaluate_{area}", outlets=[area_asset(area)])
        def evaluate(**context) -> list[str]:
            return evaluate_areas(list(evaluates or (area,)), context, outlet=area_asset(area))

        evaluate()

    return area_dag()


SLACK_API_CONN_ID = "hypercare_slack_api"
SLACK_WEBHOOK_CONN_ID = "hypercare_slack_webhook"
SMTP_CONN_ID = "hypercare_smtp"


def _connection(conn_id: str):
    """The connection, or None when it is not defined anywhere Airflow looks."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    try:
        return BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):
        return None


def alert_senders() -> dict[str, Any]:
    """Slack through the Slack provider (Web API connection preferred, else incoming
    webhook), email through the SMTP connection; a channel with no connection is
    captured to files under HYPERCARE_HOME so nothing is lost."""
    from hypercare import db
    from hypercare.alerts.senders import CaptureSender, SlackApiSender, SlackWebhookSender, SmtpSender

    senders: dict[str, Any] = {}
    if _connection(SLACK_API_CONN_ID):
        from airflow.providers.slack.hooks.slack import SlackHook

        senders["slack"] = SlackApiSender(SlackHook(slack_conn_id=SLACK_API_CONN_ID, timeout=15).client)
    elif _connection(SLACK_WEBHOOK_CONN_ID):
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        senders["slack"] = SlackWebhookSender(
            SlackWebhookHook(slack_webhook_conn_id=SLACK_WEBHOOK_CONN_ID, timeout=15).client
        )
    smtp = _connection(SMTP_CONN_ID)
    if smtp:
        extra = smtp.extra_dejson
        senders["email"] = SmtpSender(
            host=smtp.host,
            port=smtp.port or 25,
            sender=extra.get("from_email", "hypercare@localhost"),
            username=smtp.login,
            password=smtp.password,
            starttls=bool(extra.get("starttls", False)),
        )
    capture = db.hypercare_home() / "alert-capture"
    for channel in ("slack", "email"):
        senders.setdefault(channel, CaptureSender(capture / channel, channel))
    return senders


def scorecard_smtp_settings(conn_id: str):
    """The SMTP provider connection `conn_id` as the scorecard mailer's settings, read
    through SmtpHook so the provider's conventions hold (disable_ssl, disable_tls,
    from_email, timeout)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from hypercare.scorecard.mail import SmtpSettings

    hook = SmtpHook(smtp_conn_id=conn_id)
    hook.smtp_connection = hook.get_connection(conn_id)
    return SmtpSettings(
        host=hook.host,
        port=hook.port,
        username=hook.smtp_user or None,
        password=hook.smtp_password or None,
        use_ssl=hook.use_ssl,
        starttls=hook.smtp_starttls and not hook.use_ssl,
        timeout=hook.timeout,
        sender=hook.from_email,
    )
