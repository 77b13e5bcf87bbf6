"""The audit store's migrations, stable views and session settings."""

import psycopg
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
