"""Senders from plain settings (URLs, tokens), for the CLI and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from hypercare.alerts.senders import CaptureSender, Sender, SlackApiSender, SlackWebhookSender, SmtpSender


def smtp_from_url(url: str) -> SmtpSender:
    """smtp://user:password@host:port?from=hypercare@example.com&starttls=true"""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return SmtpSender(
        host=parts.hostname or "localhost",
        port=parts.port or 25,
        sender=query.get("from", ["hypercare@localhost"])[0],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=query.get("starttls", ["false"])[0] == "true",
    )


def senders_from_settings(
    slack_webhook: str | None = None,
    slack_api_url: str | None = None,
    slack_token: str | None = None,
    smtp_url: str | None = None,
    capture_dir: Path | None = None,
) -> dict[str, Sender]:
    """Slack and email senders from arguments or HYPERCARE_* variables; a channel with
    nothing configured is captured to `capture_dir`."""
    slack_webhook = slack_webhook or os.environ.get("HYPERCARE_SLACK_WEBHOOK_URL")
    slack_token = slack_token or os.environ.get("HYPERCARE_SLACK_TOKEN")
    slack_api_url = slack_api_url or os.environ.get("HYPERCARE_SLACK_API_URL")
    smtp_url = smtp_url or os.environ.get("HYPERCARE_SMTP_URL")
    senders: dict[str, Sender] = {}
    if slack_token:
        from slack_sdk import WebClient

        kwargs = {"base_url": slack_api_url} if slack_api_url else {}
        senders["slack"] = SlackApiSender(WebClient(token=slack_token, timeout=15, **kwargs))
    elif slack_webhook:
        from slack_sdk.webhook import WebhookClient

        senders["slack"] = SlackWebhookSender(WebhookClient(slack_webhook, timeout=15))
    if smtp_url:
        senders["email"] = smtp_from_url(smtp_url)
    for channel in ("slack", "email"):
        if channel not in senders and capture_dir is not None:
            senders[channel] = CaptureSender(capture_dir / channel, channel)
    return senders
