"""Delivery channels: Slack (incoming webhook or Web API), SMTP, and a local capture."""

from __future__ import annotations

import json
import smtplib
from pathlib import Path
from typing import Protocol

from hypercare.alerts.messages import Message, email_message


class DeliveryError(Exception):
    """A send that did not go through; `retry_after` seconds when the server said so."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Sender(Protocol):
    channel: str

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        """Deliver; return a delivery reference. Raise DeliveryError on failure."""

    def delivered(self, target: str, fingerprint: str) -> bool | None:
        """Whether a message with this fingerprint already arrived; None when unknowable."""


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

    def __init__(self, client):
        self.client = client

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        try:
            response = self.client.send_dict({"text": message.text, "blocks": message.blocks, "channel": target})
        except Exception as exc:  # network errors and timeouts
            raise DeliveryError(f"slack webhook: {exc}") from exc
        if response.status_code != 200:
            raise DeliveryError(
                f"slack webhook: HTTP {response.status_code} {response.body!s:.200}", _retry_after(response.headers)
            )
        return f"webhook:{fingerprint}"

    def delivered(self, target: str, fingerprint: str) -> bool | None:
        return None


class SlackApiSender:
    """chat.postMessage through the Web API (slack_sdk WebClient, e.g. SlackHook.client).

    The fingerprint travels as message metadata, so a dispatcher that crashed after a
    send can look it up in the channel history instead of sending twice.
    """

    channel = "slack"
    EVENT_TYPE = "hypercare_alert"

    def __init__(self, client):
        self.client = client

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        from slack_sdk.errors import SlackApiError

        try:
            response = self.client.chat_postMessage(
                channel=target,
                text=message.text,
                blocks=message.blocks,
                metadata={"event_type": self.EVENT_TYPE, "event_payload": {"fingerprint": fingerprint}},
            )
        except SlackApiError as exc:
            raise DeliveryError(
                f"slack api: {exc.response.status_code} {exc.response.data}", _retry_after(exc.response.headers)
            ) from exc
        except Exception as exc:
            raise DeliveryError(f"slack api: {exc}") from exc
        return f"slack:{response.get('channel')}:{response.get('ts')}"

    def delivered(self, target: str, fingerprint: str) -> bool | None:
        try:
            history = self.client.conversations_history(channel=target, include_all_metadata=True, limit=200)
        except Exception:
            return None
        return any(
            (m.get("metadata") or {}).get("event_payload", {}).get("fingerprint") == fingerprint
            for m in history.get("messages", [])
        )


class SmtpSender:
    channel = "email"

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

    def send(self, target: str, message: Message, fingerprint: str) -> str:
        mail = email_message(message, self.sender, target, fingerprint)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"smtp: {exc}") from exc
        return mail["Message-ID"]

    def delivered(self, target: str, fingerprint: str) -> bool | None:
        return None


class CaptureSender:
    """Writes each message to a folder instead of sending it: the demo's default."""

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
                },
                indent=2,
            )
        )
        return str(path)

    def delivered(self, target: str, fingerprint: str) -> bool | None:
        return (self.folder / f"{fingerprint}.json").exists()
