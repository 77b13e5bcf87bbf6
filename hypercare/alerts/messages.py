"""Alert messages: what is wrong, for whom, how long, the evidence, the owner, the next
action and a link to the run; as Slack Block Kit and as email."""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

KIND_LABEL = {"firing": "New", "repeat": "Still open", "escalation": "Escalated", "resolved": "Resolved"}


@dataclass(frozen=True)
class Notice:
    """One notification in a grouped message."""

    notification_id: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    blocks: list[dict[str, Any]]
    html: str


def title(rule_id: str) -> str:
    area, name = rule_id.split(".", 1)
    return f"{area.capitalize()}: {name.replace('_', ' ')}"


def _age(payload: dict[str, Any], now: dt.datetime) -> str:
    if not payload.get("since"):
        return f"since {payload['as_of']}"
    since = dt.datetime.fromisoformat(payload["since"])
    days = (now - since).total_seconds() / 86_400
    return f"for {days:.1f} days (since {since:%Y-%m-%d %H:%M} UTC)"


def _customer(payload: dict[str, Any]) -> str:
    name = payload.get("account_name") or payload.get("onboarding_id") or payload.get("opportunity_id") or "unknown"
    return f"{name} ({payload.get('segment') or 'unknown segment'}, ARR {payload.get('arr_band', 'unknown')})"


def _evidence(payload: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in payload.get("evidence", {}).items())


def _lines(notice: Notice, now: dt.datetime) -> list[str]:
    p = notice.payload
    head = f"[{KIND_LABEL[notice.kind]}] {title(p['rule_id'])} ({p['severity']}) - {_customer(p)}"
    if notice.kind == "resolved":
        return [head, f"Cleared on {p.get('resolved_on')}; no action needed."]
    reopened = " Reopened after it had cleared." if p.get("reopened") else ""
    return [
        head,
        f"Open {_age(p, now)}.{reopened} Reason: {p['reason_code']}. Record: {p['subject_key']}.",
        f"Evidence: {_evidence(p)}",
        f"Owner: {', '.join(p['owner_roles'])}. Next action: {p['next_action']}",
        f"Run: {p['run_link']}",
    ]


def render(recipient: str, notices: list[Notice], now: dt.datetime) -> Message:
    """One message for one recipient listing every notice of this dispatch."""
    counts: dict[str, int] = {}
    for notice in notices:
        counts[notice.kind] = counts.get(notice.kind, 0) + 1
    summary = ", ".join(f"{n} {KIND_LABEL[k].lower()}" for k, n in sorted(counts.items()))
    subject = f"Hypercare: {len(notices)} alert update(s) ({summary})"
    paragraphs = [_lines(n, now) for n in notices]
    text = "\n\n".join("\n".join(lines) for lines in paragraphs)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": subject[:150]}}]
    for lines in paragraphs:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{lines[0]}*\n" + "\n".join(lines[1:])}})
        blocks.append({"type": "divider"})
    body = "".join(
        f"<p><strong>{html.escape(lines[0])}</strong><br>" + "<br>".join(html.escape(x) for x in lines[1:]) + "</p>"
        for lines in paragraphs
    )
    page = f"<html><body style='font-family:Arial,sans-serif'><h3>{html.escape(subject)}</h3>{body}</body></html>"
    return Message(subject=subject, text=text, blocks=blocks[:50], html=page)


def email_message(message: Message, sender: str, to: str, fingerprint: str) -> EmailMessage:
    """A MIME email whose Message-ID is the delivery fingerprint, so a resend is recognisable."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = to
    mail["Message-ID"] = f"<{fingerprint}@hypercare>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail
