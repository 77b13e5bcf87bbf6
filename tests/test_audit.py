"""The audit log anchored by checkpoints: removed or rewritten entries are detected, not
only edited ones, and the writer cannot move the anchor."""

from __future__ import annotations

import psycopg
import pytest

from hypercare import cli, db
from hypercare.store import _GENESIS, _row_hash, append_audit, record_checkpoint, verify_audit


def decisions(conn, count: int, start: int = 0) -> None:
    with conn.transaction():
        for i in range(start, start + count):
            append_audit(conn, "lead@example.com", "silence", f"silence:{i}", {"reason": f"maintenance {i}"})


def as_superuser_bypassing_the_trigger(conn, statement: str, params=()) -> None:
    """What only a superuser or the owner can do: switch the append-only trigger off."""
    with conn.transaction():
        conn.execute("alter table hypercare.audit_log disable trigger audit_log_append_only")
        conn.execute(statement, params)
        conn.execute("alter table hypercare.audit_log enable trigger audit_log_append_only")


def test_a_checkpoint_records_the_head_and_later_entries_extend_it(conn):
    decisions(conn, 3)
    with conn.transaction():
        head = record_checkpoint(conn, "test")
    assert head.entries == 3 and head.consistent
    decisions(conn, 2, start=3)
    ok, message = verify_audit(conn, head=(head.entries, head.head_hash))
    assert ok and "5 entries" in message and "matches 2 checkpoint(s)" in message


def test_removing_the_newest_entries_is_detected(conn):
    decisions(conn, 4)
    with conn.transaction():
        record_checkpoint(conn, "after four")
    as_superuser_bypassing_the_trigger(
        conn, "delete from hypercare.audit_log where seq > (select min(seq) + 1 from hypercare.audit_log)"
    )
    ok, message = verify_audit(conn)
    assert not ok and "truncated: 2 entries" in message and "saw 4" in message
    with conn.transaction():
        assert not record_checkpoint(conn, "after the cut").consistent


def test_a_chain_rewritten_with_recomputed_hashes_is_detected(conn):
    decisions(conn, 3)
    with conn.transaction():
        record_checkpoint(conn, "before")
    rows = conn.execute(
        "select seq, logged_at, actor, action, subject, details from hypercare.audit_log order by seq"
    ).fetchall()
    prev = _GENESIS
    rewritten = []
    for seq, logged_at, actor, action, subject, details in rows:
        details = {"reason": "nothing to see"} if seq == rows[1][0] else details
        row_hash = _row_hash(prev, logged_at, actor, action, subject, details)
        rewritten.append((seq, psycopg.types.json.Jsonb(details), prev, row_hash))
        prev = row_hash
    as_superuser_bypassing_the_trigger(conn, "alter table hypercare.audit_log drop constraint audit_log_hash_key")
    for seq, details, prev_hash, row_hash in rewritten:
        as_superuser_bypassing_the_trigger(
            conn,
            "update hypercare.audit_log set details = %s, prev_hash = %s, hash = %s where seq = %s",
            (details, prev_hash, row_hash, seq),
        )
    ok, message = verify_audit(conn)
    assert not ok and "rewritten: entry 3" in message


def test_a_published_head_catches_what_the_checkpoints_alone_would_not(conn):
    decisions(conn, 2)
    with conn.transaction():
        published = record_checkpoint(conn, "emailed with the scorecard")
    # Someone with the owner's rights rewrites the log and its checkpoints wholesale.
    as_superuser_bypassing_the_trigger(conn, "delete from hypercare.audit_log")
    with conn.transaction():
        conn.execute("alter table hypercare.audit_checkpoints disable trigger audit_checkpoints_append_only")
        conn.execute("delete from hypercare.audit_checkpoints")
        conn.execute("alter table hypercare.audit_checkpoints enable trigger audit_checkpoints_append_only")
    decisions(conn, 2, start=10)
    assert verify_audit(conn)[0]
    ok, message = verify_audit(conn, head=(published.entries, published.head_hash))
    assert not ok and "published head" in message


def test_cli_verify_and_checkpoint(db_url, capsys):
    with db.connect(db_url) as conn:
        decisions(conn, 2)
    assert cli.main(["--db", db_url, "audit", "checkpoint"]) == 0
    token = capsys.readouterr().out.split("--head ")[1].strip().rstrip(")")
    assert cli.main(["--db", db_url, "audit", "verify", "--head", token]) == 0
    assert "intact: 2 entries" in capsys.readouterr().out
    assert cli.main(["--db", db_url, "audit", "verify", "--head", f"3:{'a' * 64}"]) == 1
    assert "truncated" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["--db", db_url, "audit", "verify", "--head", "two:abc"])
