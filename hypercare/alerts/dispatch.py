"""The dispatcher: outbox rows in, one grouped message per recipient out.

Each notification is claimed (committed) before its send and marked sent (committed)
after it; an outage marks it failed with a retry time; a crash between send and mark
leaves a stale claim that the next run confirms through the channel (Slack Web API
metadata, the capture folder) or, where the channel cannot tell, sends again with the
same fingerprint (email Message-ID).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field

import psycopg

from hypercare.alerts.messages import Notice, render
from hypercare.alerts.outbox import schedule_followups
from hypercare.alerts.senders import DeliveryError, Sender
from hypercare.db import named_queries
from hypercare.ruleset import RuleSet


@dataclass
class DispatchReport:
    messages_sent: int = 0
    notifications_sent: int = 0
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
    with conn.transaction():
        conn.execute(queries["cancel_outdated"])
        conn.execute(queries["cancel_unannounced_resolved"])
        conn.execute(queries["hold_silenced"], {"now": now})
        conn.execute(queries["hold_inhibited"], {"now": now, "rules": json.dumps(alerting.get("inhibit", []))})
        claimed = conn.execute(
            queries["claim_due"],
            {"dispatch_id": dispatch_id, "now": now, "batch_size": settings.get("batch_size", 500)},
        ).fetchall()

    groups: dict[str, list[Notice]] = {}
    attempts: dict[str, int] = {}
    for notification_id, kind, recipient, payload, tried in claimed:
        groups.setdefault(recipient, []).append(Notice(notification_id, kind, json.loads(payload)))
        attempts[recipient] = max(attempts.get(recipient, 0), tried + 1)
    for recipient, notices in sorted(groups.items()):
        ids = [n.notification_id for n in notices]
        fingerprint = group_fingerprint(recipient, ids)
        channel, target = recipient.split(":", 1)
        with conn.transaction():
            conn.execute(queries["set_group"], {"group": f"{dispatch_id}:{fingerprint}", "ids": ids})
        sender = senders.get(channel)
        try:
            if sender is None:
                raise DeliveryError(f"no sender configured for {channel}")
            ref = sender.send(target, render(recipient, notices, now), fingerprint)
        except DeliveryError as exc:
            wait = _backoff(attempts[recipient], settings.get("max_backoff_minutes", 60))
            if exc.retry_after:
                wait = max(wait, dt.timedelta(seconds=exc.retry_after))
            with conn.transaction():
                conn.execute(queries["mark_failed"], {"ids": ids, "error": str(exc)[:500], "retry_at": now + wait})
            report.failures.append(f"{recipient}: {exc}")
            continue
        with conn.transaction():
            conn.execute(queries["mark_sent"], {"ids": ids, "now": now, "ref": ref, "group": fingerprint})
        report.messages_sent += 1
        report.notifications_sent += len(ids)
        report.by_recipient[recipient] = report.by_recipient.get(recipient, 0) + len(ids)
    return report


def _reconcile(conn: psycopg.Connection, queries: dict[str, str], senders: dict[str, Sender], stale_before) -> None:
    """Settle claims left by a dispatcher that stopped between sending and recording."""
    confirmed = []
    for claimed_by, recipient in conn.execute(queries["stale_groups"], {"stale_before": stale_before}).fetchall():
        channel, target = recipient.split(":", 1)
        fingerprint = (claimed_by or "").rpartition(":")[2]
        sender = senders.get(channel)
        if sender is not None and fingerprint and sender.delivered(target, fingerprint):
            confirmed.append(claimed_by)
    conn.execute(queries["confirm_stale"], {"confirmed": confirmed})
    conn.execute(queries["release_stale"], {"stale_before": stale_before, "confirmed": confirmed})
