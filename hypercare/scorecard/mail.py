"""The scorecard email: a MIME message built here, sent by a transport that only needs host,
port and credentials (the CLI reads them from HYPERCARE_SMTP_URL, Airflow from the SMTP
provider's connection).

Message shape: multipart/alternative of text/plain and multipart/related (the HTML plus
its charts as inline PNG parts whose Content-ID the HTML references with cid:).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit


def content_id(name: str, as_of: str) -> str:
    """The Content-ID of a chart in the email (without angle brackets)."""
    return f"chart-{name}.{as_of}@hypercare"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int | None = None
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    starttls: bool = False
    timeout: float = 30.0
    sender: str | None = None


def smtp_settings_from_url(url: str) -> SmtpSettings:
    """smtp://[user:pass@]host[:port][?starttls=true&from=addr]; smtps:// for implicit TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP URL must start with smtp:// or smtps://, not {url!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return SmtpSettings(
        host=parts.hostname or "localhost",
        port=parts.port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=parts.scheme == "smtps",
        starttls=query.get("starttls", "false").lower() in ("1", "true", "yes"),
        timeout=float(query.get("timeout", 30)),
        sender=query.get("from"),
    )


def build_message(
    subject: str,
    html: str,
    text: str,
    images: dict[str, bytes],
    as_of: str,
    sender: str,
    recipients: list[str],
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"scorecard.{as_of}", domain="hypercare")
    message["X-Hypercare-Scorecard"] = as_of
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for name, png in images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{content_id(name, as_of)}>",
            disposition="inline",
            filename=f"{name}.png",
        )
    return message


def send_message(message: EmailMessage, settings: SmtpSettings) -> list[str]:
    """Deliver `message` to every To address; returns the recipients the server accepted."""
    context = ssl.create_default_context()
    client_class = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    kwargs = {"context": context} if settings.use_ssl else {}
    with client_class(settings.host, settings.port or 0, timeout=settings.timeout, **kwargs) as client:
        if settings.starttls and not settings.use_ssl:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        refused = client.send_message(message)
    recipients = [a.strip() for a in str(message["To"]).split(",") if a.strip()]
    return [r for r in recipients if r not in refused]
