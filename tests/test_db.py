"""The audit store's migrations, stable views, session settings and bulk writes."""

import datetime as dt
import json

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from hypercare import db


def test_migrate_is_idempotent_and_versioned(conn):
    assert db.migrate(conn) == []
    versions = [v for (v,) in conn.execute("select version from hypercare.schema_migrations order by 1")]
    assert versions == sorted(path.stem for path in db.MIGRATIONS_DIR.glob("*.sql"))
    assert versions[:5] == [
        "0001_audit_store",
        "0002_landing",
        "0003_alerts",
        "0004_scorecards",
        "0005_no_data_no_verdict",
    ]


def test_stable_views_expose_documented_columns(conn):
    def columns(view):
        rows = conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'hypercare' and table_name = %s order by ordinal_position",
            (view,),
        ).fetchall()
        return [r[0] for r in rows]

    assert columns("findings") == [
        "finding_id",
        "rule_id",
        "rule_version",
        "onboarding_id",
        "opportunity_id",
        "account_id",
        "segment",
        "high_value",
        "severity",
        "reason_code",
        "owner_roles",
        "status",
        "first_seen_on",
        "last_seen_on",
        "resolved_on",
        "evidence",
    ]
    assert columns("metrics") == [
        "as_of",
        "area",
        "metric",
        "dimension",
        "dimension_value",
        "value",
        "rule_version",
    ]


def test_landing_tables_mirror_the_contract(conn):
    from hypercare.contract import load_contract

    for entity in load_contract():
        rows = conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'hypercare' and table_name = %s order by ordinal_position",
            (f"landing_{entity.name}",),
        ).fetchall()
        assert [r[0] for r in rows] == ["snapshot_date", *entity.column_names, "_source_row", "_extra"]


def test_sessions_read_dates_in_iso_whatever_the_servers_style(db_url):
    """Dates come back through COPY as polars parses them, on a server set to another style."""
    with psycopg.connect(db_url, autocommit=True) as admin:
        name = admin.info.dbname
        admin.execute(sql.SQL("alter database {} set datestyle = 'SQL, DMY'").format(sql.Identifier(name)))
    day = "select date '2026-11-02'::text"
    with psycopg.connect(db_url) as plain:
        assert plain.execute(day).fetchone() == ("02/11/2026",)
    with db.connect(db_url) as conn:
        assert conn.execute(day).fetchone() == ("2026-11-02",)


# Every column type `copy_frame` writes in binary, as the polars dtype it comes from.
_BINARY_COLUMNS = {
    "words": ("text", pl.String),
    "big": ("bigint", pl.Int64),
    "small": ("integer", pl.Int64),
    "tiny": ("smallint", pl.Int64),
    "ratio": ("double precision", pl.Float64),
    "flag": ("boolean", pl.Boolean),
    "day": ("date", pl.Date),
    "moment": ("timestamptz", pl.Datetime("us", "UTC")),
    "wall": ("timestamp", pl.Datetime("us")),
    "tags": ("text[]", pl.List(pl.String)),
    "extra": ("jsonb", pl.String),
}
_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
_VALUES = {
    "words": _TEXT,
    "big": st.integers(-(2**63), 2**63 - 1),
    "small": st.integers(-(2**31), 2**31 - 1),
    "tiny": st.integers(-(2**15), 2**15 - 1),
    "ratio": st.floats(allow_nan=True, allow_infinity=True),
    "flag": st.booleans(),
    "day": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)),
    "moment": st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)).map(lambda t: t.replace(tzinfo=dt.UTC)),
    "wall": st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1)),
    "tags": st.lists(_TEXT, max_size=3),
    "extra": st.recursive(
        st.none() | st.booleans() | st.integers() | _TEXT, lambda inner: st.lists(inner, max_size=2)
    ).map(json.dumps),
}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({name: st.none() | values for name, values in _VALUES.items()}), max_size=5))
def test_binary_copy_lands_what_csv_copy_lands(conn, rows):
    """A frame written by binary COPY reads back, to the text of every value, as the same
    frame written by CSV (the path a table with a `numeric` column takes)."""
    frame = pl.DataFrame(rows, schema={name: dtype for name, (_, dtype) in _BINARY_COLUMNS.items()})
    frame = frame.with_columns(pl.int_range(pl.len()).alias("row"), pl.col("ratio").alias("ratio_again"))
    columns = ", ".join(f"{name} {type_}" for name, (type_, _) in _BINARY_COLUMNS.items())
    with conn.transaction(force_rollback=True):
        conn.execute(f"create temp table by_binary (row bigint, ratio_again double precision, {columns})")
        conn.execute(f"create temp table by_csv (row bigint, ratio_again numeric, {columns})")
        with conn.cursor() as cur:
            for table in ("by_binary", "by_csv"):
                db.copy_frame(cur, sql.Identifier(table), frame)
        landed = [
            conn.execute(
                f"select coalesce(array_agg(({', '.join(_BINARY_COLUMNS)})::text order by row), '{{}}') from {table}"
            ).fetchone()[0]
            for table in ("by_binary", "by_csv")
        ]
    assert landed[0] == landed[1]
    assert len(landed[0]) == len(rows)


_READ_BACK = {"words": pl.String, "big": pl.Int64, "ratio": pl.Float64, "flag": pl.Boolean, "day": pl.Date}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.fixed_dictionaries({name: st.none() | _VALUES[name] for name in _READ_BACK}), max_size=5),
    copies=st.sampled_from([1, 4000]),
)
def test_a_frame_read_back_by_copy_equals_the_frame_written(conn, rows, copies):
    """Rows of any text (quotes, commas, line breaks), numbers (NaN and infinities too), booleans, dates and nulls come
    back from `copy_out_frame` as written, also when there are more than the socket holds at
    once (4,000 copies of the rows, so the reader waits for the server between rows)."""
    frame = pl.concat([pl.DataFrame(rows, schema=_READ_BACK)] * copies)
    columns = ", ".join(f"{name} {_BINARY_COLUMNS[name][0]}" for name in _READ_BACK)
    with conn.transaction(force_rollback=True):
        conn.execute(f"create temp table written (row bigint, {columns})")
        with conn.cursor() as cur:
            db.copy_frame(cur, sql.Identifier("written"), frame.with_row_index("row"))
        read = db.copy_out_frame(conn, f"select {', '.join(_READ_BACK)} from written order by row", _READ_BACK)
    assert read.equals(frame)


def test_a_query_failing_mid_copy_raises_its_own_error_and_leaves_the_connection_usable(conn):
    """The server fails the query after sending 50k rows: the reader raises the server's own
    error class, and the caller's transaction and connection go on."""
    failing = (
        "select case when g < 50000 then repeat('x', 40) else (1 / (g - g))::text end"
        " from generate_series(1, 60000) g"
    )
    with conn.transaction():
        with pytest.raises(psycopg.errors.DivisionByZero):
            db.copy_out_frame(conn, failing, {"value": pl.String})
        assert conn.execute("select 1").fetchone() == (1,)
    assert db.copy_out_frame(conn, "select 'after'", {"value": pl.String})["value"].to_list() == ["after"]
