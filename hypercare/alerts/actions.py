"""What people decide about alerts: acknowledge an episode, silence a route. Both are
written to the audit log in the same transaction."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg

from hypercare.store import append_audit, record_checkpoint


def acknowledge(
    conn: psycopg.Connection, finding_id: str, by: str, note: str | None = None, at: dt.datetime | None = None
) -> dt.date:
    """Acknowledge the current episode of a finding; returns the episode's start day."""
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        row = conn.execute(
            "select max(event_on) from hypercare.finding_events "
            "where finding_id = %s and event in ('opened', 'reopened')",
            (finding_id,),
        ).fetchone()
        if row is None or row[0] is None:
            raise LookupError(f"no finding {finding_id}")
        episode_on = row[0]
        conn.execute(
            "insert into hypercare.alert_acks (finding_id, episode_on, acknowledged_at, acknowledged_by, note) "
            "values (%s, %s, %s, %s, %s) on conflict (finding_id, episode_on) do nothing",
            (finding_id, episode_on, at, by, note),
        )
        append_audit(
            conn, by, "acknowledge", f"finding:{finding_id}", {"episode_on": episode_on, "note": note}, logged_at=at
        )
        record_checkpoint(conn, "acknowledge")
    return episode_on


def silence(
    conn: psycopg.Connection,
    *,
    author: str,
    reason: str,
    ends_at: dt.datetime,
    rule_id: str | None = None,
    subject_key: str | None = None,
    owner_role: str | None = None,
    starts_at: dt.datetime | None = None,
) -> str:
    """Hold back matching notifications until `ends_at`; at least one matcher is required."""
    if not (rule_id or subject_key or owner_role):
        raise ValueError("a silence needs a rule, a subject or a role to match")
    if not reason.strip():
        raise ValueError("a silence needs a reason")
    starts_at = starts_at or dt.datetime.now(dt.UTC)
    silence_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(
            "insert into hypercare.alert_silences (silence_id, rule_id, subject_key, owner_role, starts_at, ends_at, "
            "reason, author) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            (silence_id, rule_id, subject_key, owner_role, starts_at, ends_at, reason, author),
        )
        append_audit(
            conn,
            author,
            "silence",
            f"silence:{silence_id}",
            {
                "rule_id": rule_id,
                "subject_key": subject_key,
                "owner_role": owner_role,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "reason": reason,
            },
            logged_at=starts_at,
        )
        record_checkpoint(conn, "silence")
    return silence_id


def expire_silence(conn: psycopg.Connection, silence_id: str, by: str, at: dt.datetime | None = None) -> dt.datetime:
    """End a silence now (a silence that has not started yet ends at its start, a moment
    later); returns its new end. Written to the audit log in the same transaction."""
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        row = conn.execute(
            "update hypercare.alert_silences set ends_at = greatest(%s, starts_at + interval '1 microsecond') "
            "where silence_id = %s and ends_at > %s returning ends_at",
            (at, silence_id, at),
        ).fetchone()
        if row is None:
            raise LookupError(f"no silence {silence_id} in force")
        append_audit(conn, by, "expire_silence", f"silence:{silence_id}", {"ends_at": row[0]}, logged_at=at)
        record_checkpoint(conn, "expire_silence")
    return row[0]
