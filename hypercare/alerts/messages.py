"""Alert messages: what is wrong, for whom, how long, the evidence, the owner, the next
action and a link to the run; as Slack Block Kit and as email.

A recipient's notices are split over as many messages as the channel's limits need
(Slack: 50 blocks, 3,000 characters per section, a short `text` fallback; email: a
bounded number of notices), so nothing is cut off, and a message whose delivery is
uncertain (a timeout, a crash) never carries more than one message's worth. Every value
that came from source data is masked (`redaction`) and escaped for its channel.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from hypercare.alerts.redaction import redact_text, redact_value, slack_escape

KIND_LABEL = {
    "firing": "New",
    "repeat": "Still open",
    "escalation": "Escalated",
    "resolved": "Resolved",
    "digest": "Due soon",
}
KIND_ORDER = {"escalation": 0, "firing": 1, "repeat": 2, "resolved": 3, "digest": 4}
# A digest item names its customer in at most this many characters, so the digest always fits one message.
DIGEST_NAME_CHARS = 80

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150
# Slack cuts `text` at 40,000 characters and recommends staying under 4,000.
SLACK_TEXT_CHARS = 4000
EMAIL_MAX_NOTICES = 50
NOTICE_HEADER = "X-Hypercare-Notices"


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
    notification_ids: tuple[str, ...] = ()


def title(rule_id: str) -> str:
    area, name = rule_id.split(".", 1)
    return f"{area.capitalize()}: {name.replace('_', ' ')}"


def _source(value: Any) -> str:
    """A source value as masked text."""
    return redact_text("" if value is None else str(value))


def _age(payload: dict[str, Any], now: dt.datetime) -> str:
    if not payload.get("since"):
        return f"since {payload['as_of']}"
    since = dt.datetime.fromisoformat(payload["since"])
    days = (now - since).total_seconds() / 86_400
    return f"for {days:.1f} days (since {since:%Y-%m-%d %H:%M} UTC)"


def _customer(payload: dict[str, Any]) -> str:
    name = payload.get("account_name") or payload.get("onboarding_id") or payload.get("opportunity_id") or "unknown"
    segment = payload.get("segment") or "unknown segment"
    return f"{_source(name)} ({_source(segment)}, ARR {payload.get('arr_band', 'unknown')})"


def _evidence(payload: dict[str, Any]) -> str:
    shown = ", ".join(
        f"{k}={json.dumps(redact_value(v), default=str, ensure_ascii=False)}"
        for k, v in payload.get("evidence", {}).items()
    )
    withheld = payload.get("evidence_withheld") or 0
    return shown + (f" ({withheld} more field(s) withheld)" if withheld else "") if shown or withheld else "none"


def _money(amount: float, currency: str) -> str:
    return f"{amount:,.0f} {currency}"


def headline(notice: Notice) -> str:
    p = notice.payload
    if notice.kind == "digest":
        role = p["owner_role"].replace("_", " ")
        return (
            f"[{KIND_LABEL['digest']}] {role}: {p['findings']} finding(s) on {p['customers']} customer(s) "
            f"open by the end of {p['horizon']} if nothing changes, ARR {_money(p['arr'], p['currency'])}"
        )
    return f"[{KIND_LABEL[notice.kind]}] {title(p['rule_id'])} ({p['severity']}) - {_customer(p)}"


def _digest_lines(notice: Notice) -> list[str]:
    """The day's breach forecast for one role: the largest ARR first, each with its journey."""
    p = notice.payload
    lines = [headline(notice)]
    for item in p["items"]:
        name = _source(item.get("account_name") or item["subject_key"])[:DIGEST_NAME_CHARS]
        would_alert = ", would alert" if item.get("alert") else ""
        journey = f" {item['journey_link']}" if item.get("journey_link") else ""
        lines.append(
            f"- {title(item['rule_id'])} ({item['severity']}{would_alert}): {name} "
            f"({_source(item.get('segment') or 'unknown segment')}, ARR {item['arr_band']}){journey}"
        )
    hidden = p["findings"] - len(p["items"])
    if hidden > 0:
        lines.append(f'... and {hidden} more: see the scorecard\'s "Due within the next business day".')
    lines.append(f"Forecast of {p['as_of']}: what the rules' clocks open by then; not a page, nothing to acknowledge.")
    return lines


def _lines(notice: Notice, now: dt.datetime) -> list[str]:
    p = notice.payload
    if notice.kind == "digest":
        return _digest_lines(notice)
    head = headline(notice)
    if notice.kind == "resolved":
        return [head, f"Cleared on {p.get('resolved_on')}; no action needed."]
    reopened = " Reopened after it had cleared." if p.get("reopened") else ""
    return [
        head,
        f"Open {_age(p, now)}.{reopened} Reason: {_source(p['reason_code'])}. Record: {_source(p['subject_key'])}.",
        f"Evidence: {_evidence(p)}",
        f"Owner: {', '.join(p['owner_roles'])}. Next action: {p['next_action']}",
        f"Run: {p['run_link']}",
        *([f"Acknowledge or silence: {p['finding_link']}"] if p.get("finding_link") else []),
    ]


def _pieces(text: str, limit: int) -> list[str]:
    """`text` escaped for mrkdwn, in pieces of at most `limit` characters, never splitting an entity."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return [escaped]
    pieces, current = [], ""
    for char in text:
        escaped = slack_escape(char)
        if len(current) + len(escaped) > limit:
            pieces.append(current)
            current = ""
        current += escaped
    return [*pieces, current] if current or not pieces else pieces


def _slack_sections(notice: Notice, now: dt.datetime) -> list[dict[str, Any]]:
    """One notice as section blocks of at most 3,000 characters each; block ids carry the notification id."""
    lines = _lines(notice, now)
    texts: list[str] = []
    current = ""
    for index, line in enumerate(lines):
        bold = index == 0
        budget = SLACK_SECTION_CHARS - (2 if bold else 0)
        for piece in _pieces(line, budget):
            rendered = f"*{piece}*" if bold and piece else piece
            joined = f"{current}\n{rendered}" if current else rendered
            if len(joined) <= SLACK_SECTION_CHARS:
                current = joined
            else:
                texts.append(current)
                current = rendered
    texts.append(current)
    return [
        {
            "type": "section",
            "block_id": notice.notification_id if i == 0 else f"{notice.notification_id}:{i}",
            "text": {"type": "mrkdwn", "text": text},
        }
        for i, text in enumerate(texts)
    ]


def _subject(notices: list[Notice], part: int, parts: int) -> str:
    if notices[0].kind == "digest":
        p = notices[0].payload
        return f"Hypercare: due by {p['horizon']} for {p['owner_role'].replace('_', ' ')}: {p['findings']} finding(s)"
    counts: dict[str, int] = {}
    for notice in notices:
        counts[notice.kind] = counts.get(notice.kind, 0) + 1
    summary = ", ".join(f"{n} {KIND_LABEL[k].lower()}" for k, n in sorted(counts.items()))
    suffix = f" [part {part} of {parts}]" if parts > 1 else ""
    return f"Hypercare: {len(notices)} alert update(s) ({summary}){suffix}"


def _slack_chunks(notices: list[Notice], now: dt.datetime) -> list[tuple[list[Notice], list[list[dict]]]]:
    """Notices packed greedily into messages within the block and text limits."""
    reserve = 120  # the part marker and "(part i of n)" line of the fallback text
    chunks: list[tuple[list[Notice], list[list[dict]]]] = []
    members: list[Notice] = []
    sections: list[list[dict]] = []
    blocks, text = 1, 0
    for notice in notices:
        own = _slack_sections(notice, now)
        line = len(slack_escape(headline(notice))) + 1
        if members and (blocks + len(own) > SLACK_MAX_BLOCKS or text + line > SLACK_TEXT_CHARS - reserve):
            chunks.append((members, sections))
            members, sections, blocks, text = [], [], 1, 0
        members.append(notice)
        sections.append(own)
        blocks += len(own)
        text += line
    if members:
        chunks.append((members, sections))
    return chunks


def _email_html(subject: str, paragraphs: list[list[str]], ids: list[str]) -> str:
    body = "".join(
        f"<p id='n-{html.escape(nid)}'><strong>{html.escape(lines[0])}</strong><br>"
        + "<br>".join(html.escape(x) for x in lines[1:])
        + "</p>"
        for nid, lines in zip(ids, paragraphs, strict=True)
    )
    return f"<html><body style='font-family:Arial,sans-serif'><h3>{html.escape(subject)}</h3>{body}</body></html>"


def render_messages(channel: str, notices: list[Notice], now: dt.datetime) -> list[Message]:
    """Every notice of one recipient, as one or more messages within the channel's limits."""
    notices = sorted(notices, key=lambda n: (KIND_ORDER[n.kind], n.payload.get("rule_id", ""), n.notification_id))
    digests = [n for n in notices if n.kind == "digest"]
    notices = [n for n in notices if n.kind != "digest"]
    if channel == "slack":
        chunks = _slack_chunks(notices, now)
    else:
        size = EMAIL_MAX_NOTICES
        chunks = [(notices[i : i + size], []) for i in range(0, len(notices), size)]
    parts = len(chunks)
    # Each digest is a message of its own: never split, never mixed with alerts.
    chunks += [([digest], [_slack_sections(digest, now)] if channel == "slack" else []) for digest in digests]
    messages = []
    for part, (members, sections) in enumerate(chunks, start=1):
        subject = _subject(members, part, parts)
        ids = [n.notification_id for n in members]
        paragraphs = [_lines(n, now) for n in members]
        if channel == "slack":
            text = "\n".join(slack_escape(headline(n)) for n in members)
            if parts > 1 and part <= parts:
                text += f"\n(part {part} of {parts})"
            blocks = [{"type": "header", "text": {"type": "plain_text", "text": subject[:SLACK_HEADER_CHARS]}}]
            blocks += [block for own in sections for block in own]
        else:
            text = subject + "\n\n" + "\n\n".join("\n".join(lines) for lines in paragraphs)
            blocks = []
        messages.append(
            Message(
                subject=subject,
                text=text,
                blocks=blocks,
                html=_email_html(subject, paragraphs, ids),
                notification_ids=tuple(ids),
            )
        )
    return messages


def email_message(message: Message, sender: str, to: str, fingerprint: str) -> EmailMessage:
    """A MIME email whose Message-ID is the delivery fingerprint, so a resend is recognisable."""
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = to
    mail["Message-ID"] = f"<{fingerprint}@hypercare>"
    if message.notification_ids:
        mail[NOTICE_HEADER] = " ".join(message.notification_ids)
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail
