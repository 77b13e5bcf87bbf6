"""Telling people: failed tasks and a late evaluation to the data engineers, alerts and the
scorecard to their recipients. Each channel goes through its Airflow connection, or is
captured to files under HYPERCARE_HOME/alert-capture when the connection does not exist,
so nothing is lost before the connections are set up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier

from hypercare_airflow.common import (
    BUSINESS_TZ,
    SETTINGS,
    SLACK_API_CONN_ID,
    SLACK_WEBHOOK_CONN_ID,
    SMTP_CONN_ID,
    connection,
)

log = logging.getLogger(__name__)


def capture_dir(kind: str) -> Path:
    from hypercare import db

    return db.hypercare_home() / "alert-capture" / kind


def _capture(kind: str, name: str, content: bytes) -> Path:
    folder = capture_dir(kind)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def smtp_settings(conn_id: str):
    """The SMTP provider connection `conn_id` as the mailer's settings, read through SmtpHook
    so the provider's conventions hold (disable_ssl, disable_tls, from_email, timeout)."""
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


def notify_operations(subject: str, text: str) -> list[str]:
    """Tell the data engineers (`operations.notify` in the rules file) on Slack and by email;
    returns where the message went. A failing channel is logged and captured, never raised:
    a notification must not fail the task it reports on."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", subject)[:80].strip("-")
    delivered = []

    def capture(channel: str) -> None:
        path = _capture("operations", f"{stamp}-{channel}-{slug}.txt", f"{subject}\n\n{text}\n".encode())
        delivered.append(f"captured: {path}")

    try:
        if SETTINGS.notify_slack_channel and connection(SLACK_API_CONN_ID):
            from airflow.providers.slack.hooks.slack import SlackHook

            hook = SlackHook(slack_conn_id=SLACK_API_CONN_ID, timeout=15)
            hook.client.chat_postMessage(channel=SETTINGS.notify_slack_channel, text=f"*{subject}*\n{text}")
            delivered.append(f"slack {SETTINGS.notify_slack_channel}")
        elif connection(SLACK_WEBHOOK_CONN_ID):
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            SlackWebhookHook(slack_webhook_conn_id=SLACK_WEBHOOK_CONN_ID, timeout=15).send(text=f"*{subject}*\n{text}")
            delivered.append("slack webhook")
        else:
            capture("slack")
    except Exception:
        log.exception("could not notify on Slack; capturing the message")
        capture("slack")

    if SETTINGS.notify_email:
        try:
            if connection(SMTP_CONN_ID):
                from email.message import EmailMessage

                from hypercare.scorecard.mail import send_message

                settings = smtp_settings(SMTP_CONN_ID)
                message = EmailMessage()
                message["Subject"], message["From"] = subject, settings.sender
                message["To"] = ", ".join(SETTINGS.notify_email)
                message.set_content(text)
                send_message(message, settings)
                delivered.append(f"email {', '.join(SETTINGS.notify_email)}")
            else:
                capture("email")
        except Exception:
            log.exception("could not notify by email; capturing the message")
            capture("email")
    log.info("notified: %s", "; ".join(delivered))
    return delivered


class FailureNotifier(BaseNotifier):
    """On a task's final failure: which task, which run, why, and where the log is."""

    def notify(self, context: dict[str, Any]) -> None:
        ti = context["ti"]
        subject = f"Hypercare task failed: {ti.dag_id}.{ti.task_id}"
        text = (
            f"Run {context.get('run_id')} (try {ti.try_number}) failed: {context.get('exception')}\n"
            f"Log: {getattr(ti, 'log_url', '')}"
        )
        notify_operations(subject, text)


async def evaluation_deadline_missed(context: dict[str, Any], **_: Any) -> None:
    """Deadline alert of the ingest DAG: a scheduled day's evaluation has not finished by
    `ingest.evaluated_by`. Backfills and manual runs reprocess the past and page nobody."""
    run = context["dag_run"]
    if run.get("run_type") != "scheduled":
        log.info("deadline passed for %s run %s; not paging about the past", run.get("run_type"), run.get("run_id"))
        return
    start = dt.datetime.fromisoformat(run["data_interval_start"]).astimezone(BUSINESS_TZ)
    subject = f"Hypercare: the evaluation of snapshot {start.date()} is late"
    text = (
        f"The evaluation of snapshot {start.date()} has not finished by {SETTINGS.evaluated_by:%H:%M} "
        f"({SETTINGS.timezone}) on the next day. Ingest run {run['run_id']} is {run.get('state')}: "
        "look for a task waiting on the export, a failed task, or a paused area DAG."
    )
    await asyncio.to_thread(notify_operations, subject, text)


def alert_senders() -> dict[str, Any]:
    """Slack through the Slack provider (Web API connection preferred, else incoming
    webhook), email through the SMTP connection; a channel with no connection is
    captured to files under HYPERCARE_HOME so nothing is lost."""
    from hypercare.alerts.senders import CaptureSender, SlackApiSender, SlackWebhookSender, SmtpSender

    senders: dict[str, Any] = {}
    if connection(SLACK_API_CONN_ID):
        from airflow.providers.slack.hooks.slack import SlackHook

        senders["slack"] = SlackApiSender(SlackHook(slack_conn_id=SLACK_API_CONN_ID, timeout=15).client)
    elif connection(SLACK_WEBHOOK_CONN_ID):
        from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

        senders["slack"] = SlackWebhookSender(
            SlackWebhookHook(slack_webhook_conn_id=SLACK_WEBHOOK_CONN_ID, timeout=15).client
        )
    smtp = connection(SMTP_CONN_ID)
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
    for channel in ("slack", "email"):
        senders.setdefault(channel, CaptureSender(capture_dir(channel), channel))
    return senders


def deliver_scorecard(conn, scorecard, conn_id: str) -> str:
    """Email the scorecard through `conn_id`; without that connection, write the email to
    HYPERCARE_HOME/alert-capture/scorecard (not recorded as sent, so it goes out once the
    connection exists and the day is re-run)."""
    from hypercare.scorecard.build import send_scorecard

    if connection(conn_id) is None:
        message = scorecard.message(sender=scorecard.config.sender)
        path = _capture("scorecard", f"{scorecard.as_of}.eml", bytes(message))
        return f"{scorecard.as_of}: no {conn_id} connection, captured to {path}"
    accepted = send_scorecard(conn, scorecard, smtp_settings(conn_id))
    return f"{scorecard.as_of}: sent to {len(accepted)} recipients"
