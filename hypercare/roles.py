"""Least-privilege database roles for the audit store.

- owner: owns schema hypercare and everything in it; runs migrations.
- writer: what loads, evaluation runs, the dispatcher, acknowledgements and the
  scorecard use. Reads and writes rows; the audit log is insert-only; the checkpoint
  table, migrations and role records are read-only; no DDL, so it can neither drop nor
  alter a table nor disable the audit log's append-only trigger. Landing partitions,
  their statistics and audit checkpoints go through SECURITY DEFINER functions.
- reader: SELECT on the documented views and tables, for BI.

Role names are cluster-wide; `Roles.from_prefix` names them `<prefix>_owner` etc., and
`setup_roles` is idempotent, so any number of databases on one server can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

READER_RELATIONS = (
    "findings",
    "metrics",
    "alert_quality",
    "finding_events",
    "finding_forecasts",
    "trace_events",
    "load_runs",
    "audit_log",
    "audit_checkpoints",
)
# What the writer may read but never change, and the tables it may only append to.
WRITER_READ_ONLY = ("audit_checkpoints", "schema_migrations", "database_roles")
WRITER_APPEND_ONLY = ("audit_log", "rule_sets", "config_versions")
DEFINER_FUNCTIONS = (
    "record_audit_checkpoint(text)",
    "create_landing_partition(text, date)",
    "analyze_landing_partition(text, date)",
    "refresh_store_statistics()",
)
WRITER_TABLE_PRIVILEGES = sql.SQL("select, insert, update, delete, truncate")
_OWNER_KEYWORD = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass(frozen=True)
class Roles:
    owner: str
    writer: str
    reader: str

    @classmethod
    def from_prefix(cls, prefix: str = "hypercare") -> Roles:
        return cls(owner=f"{prefix}_owner", writer=f"{prefix}_writer", reader=f"{prefix}_reader")

    def items(self) -> list[tuple[str, str]]:
        return [("owner", self.owner), ("writer", self.writer), ("reader", self.reader)]


def configured_roles(conn: psycopg.Connection) -> Roles | None:
    """The roles recorded by `setup_roles` in this database, if any."""
    if conn.execute("select to_regclass('hypercare.database_roles')").fetchone()[0] is None:
        return None
    found = dict(conn.execute("select kind, role_name from hypercare.database_roles").fetchall())
    return Roles(**found) if len(found) == 3 else None


def url_for(url: str, role: str, password: str | None = None) -> str:
    """`url` with its user (and password) replaced by `role`'s."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def _ensure_role(conn: psycopg.Connection, name: str, password: str | None) -> bool:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(name)))
    if password:
        conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(name), sql.Literal(password)))
    return not exists


def _take_ownership(conn: psycopg.Connection, owner: str) -> int:
    """Make `owner` the owner of schema hypercare and of every relation and function in it."""
    moved = 0
    schema_owned = conn.execute(
        "select nspowner = (select oid from pg_roles where rolname = %s) from pg_namespace where nspname = 'hypercare'",
        (owner,),
    ).fetchone()[0]
    if not schema_owned:
        conn.execute(sql.SQL("alter schema hypercare owner to {}").format(sql.Identifier(owner)))
        moved += 1
    relations = conn.execute(
        "select c.relname, c.relkind from pg_class c "
        "where c.relnamespace = 'hypercare'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f') "
        "and c.relowner <> (select oid from pg_roles where rolname = %s)",
        (owner,),
    ).fetchall()
    for name, kind in relations:
        conn.execute(
            sql.SQL("alter {} hypercare.{} owner to {}").format(
                sql.SQL(_OWNER_KEYWORD[kind]), sql.Identifier(name), sql.Identifier(owner)
            )
        )
        moved += 1
    functions = conn.execute(
        "select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'hypercare'::regnamespace "
        "and p.proowner <> (select oid from pg_roles where rolname = %s)",
        (owner,),
    ).fetchall()
    for (signature,) in functions:
        conn.execute(sql.SQL("alter function {} owner to {}").format(sql.SQL(signature), sql.Identifier(owner)))
        moved += 1
    return moved


def apply_grants(conn: psycopg.Connection, roles: Roles) -> None:
    """(Re)state every privilege of the writer and the reader; run after each migration."""
    owner, writer, reader = (sql.Identifier(name) for name in (roles.owner, roles.writer, roles.reader))
    database = sql.Identifier(conn.execute("select current_database()").fetchone()[0])

    def table(name: str) -> sql.Composed:
        return sql.SQL("hypercare.{}").format(sql.Identifier(name))

    statements = [
        sql.SQL("revoke create on schema hypercare from public"),
        sql.SQL("grant connect, temporary on database {} to {}, {}").format(database, writer, reader),
        sql.SQL("grant usage on schema hypercare to {}, {}").format(writer, reader),
        sql.SQL("grant {} on all tables in schema hypercare to {}").format(WRITER_TABLE_PRIVILEGES, writer),
        sql.SQL("grant usage, select on all sequences in schema hypercare to {}").format(writer),
        sql.SQL("alter default privileges for role {} in schema hypercare grant {} on tables to {}").format(
            owner, WRITER_TABLE_PRIVILEGES, writer
        ),
        sql.SQL("revoke all on all tables in schema hypercare from {}").format(reader),
    ]
    for name in WRITER_APPEND_ONLY:
        statements.append(sql.SQL("revoke update, delete, truncate on {} from {}").format(table(name), writer))
    for name in WRITER_READ_ONLY:
        statements.append(sql.SQL("revoke insert, update, delete, truncate on {} from {}").format(table(name), writer))
    for name in READER_RELATIONS:
        statements.append(sql.SQL("grant select on {} to {}").format(table(name), reader))
    for signature in DEFINER_FUNCTIONS:
        function = sql.SQL("hypercare.{}").format(sql.SQL(signature))
        statements.append(sql.SQL("revoke all on function {} from public").format(function))
        statements.append(sql.SQL("grant execute on function {} to {}").format(function, writer))
    for statement in statements:
        conn.execute(statement)


def setup_roles(
    conn: psycopg.Connection, roles: Roles, passwords: dict[str, str | None] | None = None
) -> dict[str, list[str] | int]:
    """Create the roles if missing, hand the schema to the owner, record the roles and grant.

    Idempotent. Needs a superuser (or a role with CREATEROLE that is a member of the
    current and new owners) the first time; afterwards the owner role can re-run it.
    The schema must be migrated first.
    """
    passwords = passwords or {}
    with conn.transaction():
        created = [name for kind, name in roles.items() if _ensure_role(conn, name, passwords.get(kind))]
        moved = _take_ownership(conn, roles.owner)
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(roles.owner)))
        for kind, name in roles.items():
            conn.execute(
                "insert into hypercare.database_roles (kind, role_name) values (%s, %s) "
                "on conflict (kind) do update set role_name = excluded.role_name",
                (kind, name),
            )
        apply_grants(conn, roles)
    return {"created": created, "ownership_moved": moved}
