"""Least-privilege roles: each role connects and does what it may, and only that."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from hypercare import cli, db
from hypercare.alerts.actions import acknowledge
from hypercare.alerts.dispatch import dispatch
from hypercare.alerts.senders import CaptureSender
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.roles import Roles, configured_roles, setup_roles, url_for
from hypercare.ruleset import load_ruleset
from hypercare.scorecard.build import compile_and_archive
from hypercare.store import append_audit, verify_audit
from hypercare.synth import generate

RULES = load_ruleset()
START = dt.date(2026, 11, 2)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    out = tmp_path_factory.mktemp("roles-source")
    generate(out, start=START, days=2, customers=60, seed=11, ruleset=RULES)
    return out


def refused(conn: psycopg.Connection, statement: str) -> bool:
    """Whether `statement` is refused for lack of privilege (or by the append-only trigger)."""
    try:
        with conn.transaction():
            conn.execute(statement)
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.RaiseException):
        return True
    return False


def test_roles_are_idempotent_and_the_owner_owns_every_object(db_url, role_urls, test_roles):
    with db.connect(role_urls["owner"]) as owner:
        assert setup_roles(owner, test_roles)["created"] == []  # the owner can re-run it
        assert configured_roles(owner) == test_roles
        foreign = owner.execute(
            "select c.relname from pg_class c where c.relnamespace = 'hypercare'::regnamespace "
            "and c.relkind in ('r', 'p', 'v') and c.relowner::regrole::text <> %s "
            "union all select p.proname from pg_proc p where p.pronamespace = 'hypercare'::regnamespace "
            "and p.proowner::regrole::text <> %s",
            (test_roles.owner, test_roles.owner),
        ).fetchall()
        assert foreign == []


def test_the_writer_runs_a_day_end_to_end_without_ddl(role_urls, source, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="hypercare.evaluate")
    with db.connect(role_urls["writer"]) as writer:
        assert db.migrate(writer) == []  # an up-to-date store is recognised without DDL
        for day in (START, START + dt.timedelta(days=1)):
            load_snapshot(writer, source, day)  # creates and analyzes its partitions through the owner's functions
            evaluate_day(writer, day, RULES, actor="writer-test")
        # The evaluation gave the store's tables planner statistics through the owner's function.
        unanalyzed = writer.execute(
            "select relname from pg_class where relnamespace = 'hypercare'::regnamespace and reltuples < 0 "
            "and relname in ('finding_occurrences', 'finding_events', 'finding_state', 'alert_outbox')"
        ).fetchall()
        assert unanalyzed == []
        capture = {c: CaptureSender(tmp_path / c, c) for c in ("slack", "email")}
        report = dispatch(writer, RULES, capture, now=dt.datetime(2026, 11, 4, tzinfo=dt.UTC))
        assert report.notifications_sent > 0 and not report.failures
        finding_id = writer.execute(
            "select finding_id::text from hypercare.finding_state where alert and status = 'open' limit 1"
        ).fetchone()[0]
        acknowledge(writer, finding_id, by="lead@example.com")
        scorecard = compile_and_archive(writer, START + dt.timedelta(days=1), RULES)
        assert f"hypercare audit verify --head {scorecard.data['audit_head']['token']}" in scorecard.text()
        ok, message = verify_audit(
            writer, head=(scorecard.data["audit_head"]["entries"], scorecard.data["audit_head"]["hash"])
        )
        assert ok, message
        recorded_by = {r for (r,) in writer.execute("select distinct recorded_by from hypercare.audit_checkpoints")}
        assert recorded_by == {writer.info.user}
    assert any("audit log head:" in r.getMessage() for r in caplog.records)


def test_the_writer_cannot_change_the_schema_or_the_audit_trail(role_urls):
    with db.connect(role_urls["writer"]) as writer:
        with writer.transaction():
            append_audit(writer, "writer", "acknowledge", "finding:1", {})  # appending is its job
        for statement in (
            "update hypercare.audit_log set actor = 'mallory'",
            "delete from hypercare.audit_log",
            "truncate hypercare.audit_log",
            "alter table hypercare.audit_log disable trigger audit_log_append_only",
            "drop trigger audit_log_append_only on hypercare.audit_log",
            "drop table hypercare.audit_log",
            "set session_replication_role = replica",
            "insert into hypercare.audit_checkpoints (recorded_by, entries, head_hash, consistent) "
            "values ('writer', 0, repeat('0', 64), true)",
            "delete from hypercare.audit_checkpoints",
            "update hypercare.schema_migrations set checksum = 'x'",
            "delete from hypercare.database_roles",
            "update hypercare.rule_sets set source = 'x'",
            "create table hypercare.sneaky (x int)",
            "create schema sneaky",
            "create or replace function hypercare.record_audit_checkpoint(context text default null) "
            "returns table (entries bigint, head_hash text, consistent boolean) "
            "language sql as 'select 0::bigint, repeat(''0'', 64), true'",
            "alter table hypercare.finding_state add column sneaky int",
        ):
            assert refused(writer, statement), statement


def test_the_writer_cannot_apply_migrations(db_url, role_urls):
    with db.connect(db_url) as admin, admin.transaction():
        admin.execute("delete from hypercare.schema_migrations where version = '0006_roles_and_audit_anchor'")
    with db.connect(role_urls["writer"]) as writer, pytest.raises(RuntimeError, match=r"as hc_\w+_owner"):
        db.migrate(writer)


def test_migrations_after_setup_run_as_the_owner_and_grant_the_writer(
    db_url, role_urls, test_roles, tmp_path, monkeypatch
):
    migrations = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, migrations)
    (migrations / "9999_extra.sql").write_text("create table hypercare.extra (id int primary key);")
    monkeypatch.setattr(db, "MIGRATIONS_DIR", migrations)
    with db.connect(db_url) as admin:  # a superuser, as a deployment script would be
        assert db.migrate(admin) == ["9999_extra"]
        owner = admin.execute("select relowner::regrole::text from pg_class where oid = 'hypercare.extra'::regclass")
        assert owner.fetchone()[0] == test_roles.owner
    with db.connect(role_urls["writer"]) as writer, writer.transaction():
        writer.execute("insert into hypercare.extra values (1)")


def test_the_reader_sees_the_documented_views_only(role_urls):
    with db.connect(role_urls["reader"]) as reader:
        for view in (
            "findings",
            "metrics",
            "alert_quality",
            "finding_events",
            "finding_forecasts",
            "trace_events",
            "load_runs",
            "audit_log",
            "audit_checkpoints",
        ):
            reader.execute(f"select * from hypercare.{view} limit 1")
            reader.commit()
        for statement in (
            "select * from hypercare.finding_state",
            "select * from hypercare.alert_outbox",
            "select * from hypercare.quarantine",
            "select * from hypercare.landing_deals",
            "insert into hypercare.audit_log (logged_at, actor, action, subject, details, prev_hash, hash) "
            "values (now(), 'r', 'a', 's', '{}', 'p', 'h')",
            "select hypercare.record_audit_checkpoint('reader')",
            "select hypercare.create_landing_partition('deals', '2026-11-02')",
        ):
            assert refused(reader, statement), statement


def test_the_compose_flow_owner_migrates_and_grants_a_database_it_owns(pg_admin_url):
    """docker-init creates the roles and a database owned by the owner; `db roles` then runs as the owner."""
    roles = Roles.from_prefix(f"hc_{uuid.uuid4().hex[:8]}")
    database = f"hypercare_compose_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        for _, name in roles.items():
            admin.execute(f"create role \"{name}\" login password 'pw'")
        admin.execute(f'create database "{database}" owner "{roles.owner}"')
    base = urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{database}"))
    try:
        owner_url = url_for(base, roles.owner, "pw")
        args = ["--db", owner_url, "db", "roles", "--owner", roles.owner, "--writer", roles.writer]
        assert cli.main([*args, "--reader", roles.reader]) == 0
        with db.connect(url_for(base, roles.writer, "pw")) as writer:
            assert db.migrate(writer) == []
            with writer.transaction():
                append_audit(writer, "writer", "acknowledge", "finding:1", {})
            assert refused(writer, "delete from hypercare.audit_log")
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{database}" with (force)')
            for _, name in reversed(roles.items()):
                admin.execute(f'drop role if exists "{name}"')
