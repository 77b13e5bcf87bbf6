"""The dispatcher: outbox rows in, messages per recipient out.

Each message (a recipient's notices, split within the channel's limits) is claimed
(committed) before its send and marked sent (committed) after it. A refusal (HTTP error,
429, refused connection) marks it failed with a retry time. A timeout or a crash between
send and mark leaves the claim in place; once the sending lease has run out the next pass
asks the channel (Slack Web API metadata, the capture folder) and records it as sent, or,
where the channel cannot tell (incoming webhook, SMTP), sends it again with the same
fingerprint (the email keeps its Message-ID). At most that one message can arrive twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field

import psycopg

from hypercare.alerts.messages import Notice, render_messages
from hypercare.alerts.outbox import schedule_followups
from hypercare.alerts.senders import DeliveryError, Sender
from hypercare.db import named_queries
from hypercare.ruleset import RuleSet
from hypercare.secrets import scrub

GROUP_MARK = "|"


@dataclass
class DispatchReport:
    messages_sent: int = 0
    notifications_sent: int = 0
    unconfirmed: int = 0
    # The pass claimed fewer notices than a batch, so it took everything due at its time;
    # what it could not send waits for a later retry, so another pass at the same time
    # would find nothing to send.
    drained: bool = False
    failures: list[str] = field(default_factory=list)
    by_recipient: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        failed = f"; {len(self.failures)} failed: {'; '.join(self.failures[:3])}" if self.failures else ""
        return f"sent {self.messages_sent} message(s) carrying {self.notifications_sent} notification(s){failed}"


def group_fingerprint(recipient: str, notification_ids: list[str]) -> str:
    return hashlib.sha256("|".join([recipient, *sorted(notification_ids)]).encode()).hexdigest()[:32]


def _backoff(attempts: int, cap_minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=min(cap_minutes, 2 ** max(attempts - 1, 0)))


def dispatch(
    conn: psycopg.Connection,
    ruleset: RuleSet,
    senders: dict[str, Sender],
    now: dt.datetime | None = None,
    dispatch_id: str | None = None,
) -> DispatchReport:
    """One dispatcher pass at `now` (default: the wall clock)."""
    queries = named_queries("alerts")
    alerting = ruleset.content["alerting"]
    settings = alerting.get("dispatch", {})
    now = now or dt.datetime.now(dt.UTC)
    dispatch_id = dispatch_id or uuid.uuid4().hex
    report = DispatchReport()

    with conn.transaction():
        schedule_followups(conn, ruleset, now)
    with conn.transaction():
        _reconcile(conn, queries, senders, now - dt.timedelta(minutes=settings.get("sending_lease_minutes", 10)))
    batch_size = settings.get("batch_size", 500)
    with conn.transaction():
        conn.execute(queries["cancel_outdated"])
        conn.execute(queries["cancel_stale_digests"])
        conn.execute(queries["cancel_unannounced_resolved"])
        conn.execute(queries["hold_silenced"], {"now": now})
        conn.execute(queries["hold_inhibited"], {"now": now, "rules": json.dumps(alerting.get("inhibit", []))})
        claimed = conn.execute(
            queries["claim_due"],
            {"dispatch_id": dispatch_id, "now": now, "batch_size": batch_size},
        ).fetchall()
    report.drained = len(claimed) < batch_size

    groups: dict[str, list[Notice]] = {}
    attempts: dict[str, int] = {}
    for notification_id, kind, recipient, payload, tried in claimed:
        groups.setdefault(recipient, []).append(Notice(notification_id, kind, json.loads(payload)))
        attempts[recipient] = max(attempts.get(recipient, 0), tried + 1)
    for recipient, notices in sorted(groups.items()):
        channel, target = recipient.split(":", 1)
        sender = senders.get(channel)
        messages = render_messages(channel, notices, now)
        for index, message in enumerate(messages):
            ids = list(message.notification_ids)
            fingerprint = group_fingerprint(recipient, ids)
            with conn.transaction():
                conn.execute(queries["set_group"], {"group": f"{dispatch_id}{GROUP_MARK}{fingerprint}", "ids": ids})
            try:
                if sender is None:
                    raise DeliveryError(f"no sender configured for {channel}")
                ref = sender.send(target, message, fingerprint)
            except DeliveryError as exc:
                wait = _backoff(attempts[recipient], settings.get("max_backoff_minutes", 60))
                if exc.retry_after:
                    wait = max(wait, dt.timedelta(seconds=exc.retry_after))
                error = scrub(str(exc))[:500]
                unsent = [n for later in messages[index + 1 :] for n in later.notification_ids]
                with conn.transaction():
                    if exc.ambiguous:
                        conn.execute(queries["mark_unconfirmed"], {"ids": ids, "error": error})
                    else:
                        conn.execute(queries["mark_failed"], {"ids": ids, "error": error, "retry_at": now + wait})
                    conn.execute(queries["defer"], {"ids": unsent, "retry_at": now + wait})
                report.failures.append(f"{recipient}: {error}")
                report.unconfirmed += len(ids) if exc.ambiguous else 0
                break
            with conn.transaction():
                conn.execute(queries["mark_sent"], {"ids": ids, "now": now, "ref": ref, "group": fingerprint})
            report.messages_sent += 1
            report.notifications_sent += len(ids)
            report.by_recipient[recipient] = report.by_recipient.get(recipient, 0) + len(ids)
    return report


def _reconcile(conn: psycopg.Connection, queries: dict[str, str], senders: dict[str, Sender], stale_before) -> None:
    """Settle messages whose delivery is unknown: confirmed through the channel, else queued again.

    A channel that can confirm but could not be asked right now keeps the claim, so the
    Slack Web API never gets a message twice; one that can never confirm gets it again.
    """
    confirmed, released = [], []
    for group, recipient, claimed_at in conn.execute(queries["stale_groups"], {"stale_before": stale_before}):
        channel, target = recipient.split(":", 1)
        fingerprint = (group or "").rpartition(GROUP_MARK)[2] if GROUP_MARK in (group or "") else None
        sender = senders.get(channel)
        answer = sender.delivered(target, fingerprint, since=claimed_at) if sender and fingerprint else False
        if answer:
            confirmed.append(group)
        elif answer is False or not getattr(sender, "can_confirm", False):
            released.append(group)
    conn.execute(queries["confirm_stale"], {"groups": confirmed})
    conn.execute(queries["release_stale"], {"groups": released})
