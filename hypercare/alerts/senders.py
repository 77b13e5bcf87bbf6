"""Delivery channels: Slack (incoming webhook or Web API), SMTP, and a local capture."""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import socket
from http.client import RemoteDisconnected
from pathlib import Path
from typing import Protocol
from urllib.error import URLError

from hypercare.alerts.messages import Message, email_message
from hypercare.secrets import guard_logger, register_secret, scrub

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send that did not go through; `retry_after` seconds when the server said so.

    `ambiguous` means the message may have arrived all the same (a timeout or a broken
    connection after the request went out): it is confirmed through the channel, or
    resent, only after the sending lease, never retried blindly.
    """

    def __init__(self, message: str, retry_after: float | None = None, ambiguous: bool = False):
        super().__init__(scrub(message))
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class Sender(Protocol):
    channel: str
    # True when `delivered` can answer from the channel itself (Slack Web API metadata).
    can_confirm: bool

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        """Deliver; return a delivery reference. Raise DeliveryError on failure."""

    def delivered(self, target: str, fingerprint: str, since: dt.datetime | None = None) -> bool | None:
        """Whether a message with this fingerprint already arrived; None when unknowable."""


def _refused(exc: BaseException) -> bool:
    """Whether a transport error proves the request never reached the server."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def _ambiguous(exc: BaseException) -> bool:
    return not _refused(exc) and isinstance(
        exc, TimeoutError | URLError | ConnectionError | RemoteDisconnected | OSError
    )


def _quiet_client(client, logger_attribute: str, logger_name: str):
    """No automatic resend of a post (the dispatcher decides), and a log that never shows secrets.

    A client built by an Airflow hook logs through Airflow's own logger; it is replaced by
    the SDK's standard one with the secret filter, which still reaches the task log."""
    client.retry_handlers = []
    logger = getattr(client, logger_attribute, None)
    if not isinstance(logger, logging.Logger):
        logger = logging.getLogger(logger_name)
        setattr(client, logger_attribute, logger)
    guard_logger(logger)
    return client


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if isinstance(value, list):
        value = value[0]
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class SlackWebhookSender:
    """Posts to an incoming webhook (slack_sdk WebhookClient, e.g. SlackWebhookHook.client)."""

    channel = "slack"
    can_confirm = False

    def __init__(self, client):
        register_secret(client.url)
        self.client = _quiet_client(client, "logger", "slack_sdk.webhook.client")

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        body = {
            "text": message.text,
            "blocks": message.blocks,
            "channel": target,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        try:
            response = self.client.send_dict(body)
        except Exception as exc:  # network errors and timeouts
            raise DeliveryError(f"slack webhook: {exc!r}", ambiguous=_ambiguous(exc)) from exc
        if response.status_code != 200:
            raise DeliveryError(
                f"slack webhook: HTTP {response.status_code} {response.body!s:.200}", _retry_after(response.headers)
            )
        return f"webhook:{fingerprint}"

    def delivered(self, target: str, fingerprint: str, since: dt.datetime | None = None) -> bool | None:
        return None


class SlackApiSender:
    """chat.postMessage through the Web API (slack_sdk WebClient, e.g. SlackHook.client).

    The fingerprint travels as message metadata, so a dispatcher that crashed after a
    send can look it up in the channel history instead of sending twice.
    """

    channel = "slack"
    can_confirm = True
    EVENT_TYPE = "hypercare_alert"
    HISTORY_PAGES = 10

    def __init__(self, client):
        register_secret(client.token)
        self.client = _quiet_client(client, "_logger", "slack_sdk.web.base_client")

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            response = self.client.chat_postMessage(
                channel=target,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": self.EVENT_TYPE, "event_payload": {"fingerprint": fingerprint}},
            )
        except SlackApiError as exc:
            raise DeliveryError(
                f"slack api: {exc.response.status_code} {exc.response.data}", _retry_after(exc.response.headers)
            ) from exc
        except Exception as exc:
            raise DeliveryError(f"slack api: {exc!r}", ambiguous=_ambiguous(exc)) from exc
        return f"slack:{response.get('channel')}:{response.get('ts')}"

    def delivered(self, target: str, fingerprint: str, since: dt.datetime | None = None) -> bool | None:
        """Looks for the fingerprint in the channel's message metadata since the claim (an hour's margin
        covers clock skew and a slow send)."""
        oldest = f"{(since - dt.timedelta(hours=1)).timestamp():.6f}" if since else None
        cursor = None
        for _ in range(self.HISTORY_PAGES):
            try:
                history = self.client.conversations_history(
                    channel=target, include_all_metadata=True, limit=200, oldest=oldest, cursor=cursor
                )
            except Exception as exc:
                log.warning("cannot read %s history to confirm a delivery: %s", target, scrub(repr(exc)))
                return None
            if any(
                (m.get("metadata") or {}).get("event_payload", {}).get("fingerprint") == fingerprint
                for m in history.get("messages", [])
            ):
                return True
            cursor = (history.get("response_metadata") or {}).get("next_cursor")
            if not (history.get("has_more") and cursor):
                return False
        return None


class SmtpSender:
    channel = "email"
    can_confirm = False

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30,
    ):
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = username, password, starttls, timeout
        register_secret(password)

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        mail = email_message(message, self.sender, target, fingerprint)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(f"smtp: {exc}") from exc  # the server answered: not accepted
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp: {exc!r}", ambiguous=_ambiguous(exc)) from exc
        return mail["Message-ID"]

    def delivered(self, target: str, fingerprint: str, since: dt.datetime | None = None) -> bool | None:
        return None


class CaptureSender:
    """Writes each message to a folder instead of sending it: the demo's default."""

    can_confirm = True

    def __init__(self, folder: Path, channel: str):
        self.folder, self.channel = folder, channel
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        path = self.folder / f"{fingerprint}.json"
        path.write_text(
            json.dumps(
                {
                    "channel": self.channel,
                    "to": target,
                    "subject": message.subject,
                    "text": message.text,
                    "blocks": message.blocks,
                    "notification_ids": list(message.notification_ids),
                },
                indent=2,
            )
        )
        return str(path)

    def delivered(self, target: str, fingerprint: str, since: dt.datetime | None = None) -> bool | None:
        return (self.folder / f"{fingerprint}.json").exists()
