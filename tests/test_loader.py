"""Landing snapshot folders in PostgreSQL and reading them back."""

from __future__ import annotations

import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pytest

from hypercare import db, loader
from hypercare.contract import polars_schema
from hypercare.loader import LoadReport, load_snapshot, read_snapshot, snapshot_dates
from tests.test_contract import CONTRACT, source_frame, typed_row, valid_row, write_csv

DAY = dt.date(2026, 11, 3)
UTC = dt.UTC


def snapshot_folder(tmp_path, day: dt.date = DAY):
    return tmp_path / day.isoformat()


def write_all_entities(tmp_path, day: dt.date = DAY, rows_per_entity: int = 2) -> None:
    """A complete, clean snapshot: `rows_per_entity` good rows for each of the ten entities."""
    for entity in CONTRACT:
        rows = [valid_row(entity, str(i)) for i in range(1, rows_per_entity + 1)]
        write_csv(snapshot_folder(tmp_path, day) / f"{entity.name}.csv", rows)


def counts(conn, day: dt.date = DAY) -> dict[str, int]:
    """Row counts of everything a load of `day` writes."""
    found = {}
    for entity in CONTRACT:
        found[entity.name] = conn.execute(
            f"select count(*) from {entity.landing_table} where snapshot_date = %s", (day,)
        ).fetchone()[0]
    for table in ("quarantine", "load_runs"):
        found[table] = conn.execute(
            f"select count(*) from hypercare.{table} where snapshot_date = %s", (day,)
        ).fetchone()[0]
    return found


def load_runs(conn, day: dt.date = DAY) -> dict[str, tuple]:
    rows = conn.execute(
        "select entity, source_file, status, rows_read, rows_loaded, rows_quarantined, message "
        "from hypercare.load_runs where snapshot_date = %s",
        (day,),
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_snapshot_dates_lists_date_folders_in_order(tmp_path):
    for name in ("2026-11-04", "2026-11-02", "2026-11-03", "notes", "2026-13-01", "2026-11-5"):
        (tmp_path / name).mkdir()
    (tmp_path / "2026-11-01").write_text("a file, not a folder")
    assert snapshot_dates(tmp_path) == [dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)]
    with pytest.raises(ValueError, match="does not exist"):
        snapshot_dates(tmp_path / "missing")


def test_every_entity_loads_and_round_trips_typed(conn, tmp_path):
    write_all_entities(tmp_path)
    report = load_snapshot(conn, tmp_path, DAY)

    assert isinstance(report, LoadReport)
    assert [(e.entity, e.status, e.rows_read, e.rows_loaded, e.rows_quarantined) for e in report] == [
        (entity.name, "loaded", 2, 2, 0) for entity in CONTRACT
    ]
    for entity in CONTRACT:
        landed = read_snapshot(conn, entity.name, DAY)
        assert landed.schema == polars_schema(entity)
        assert landed.height == 2
        assert landed.rows(named=True) == [typed_row(entity, "1"), typed_row(entity, "2")], entity.name


def test_awkward_values_survive_the_round_trip(conn, tmp_path):
    deals = CONTRACT["deals"]
    rows = [
        valid_row(
            deals,
            "1",
            account_name='Acme, "the" Company\nLtd',
            arr="1234567.891",
            closed_won_at="2026-11-03T23:30:00.123456-02:00",
            modules='core;say "hi";back\\slash;{braces},comma',
            seats="9007199254740993",
            sales_team="ÉMEA – Süd",
        ),
        valid_row(deals, "2", account_name=None, modules=None, seats=None, non_standard_terms="false"),
    ]
    write_csv(snapshot_folder(tmp_path) / "deals.csv", rows)
    load_snapshot(conn, tmp_path, DAY)

    landed = read_snapshot(conn, "deals", DAY)
    first, second = landed.rows(named=True)
    assert first["account_name"] == 'Acme, "the" Company\nLtd'
    assert first["arr"] == 1234567.891
    assert first["closed_won_at"] == dt.datetime(2026, 11, 4, 1, 30, 0, 123456, tzinfo=UTC)
    assert first["modules"] == ["core", 'say "hi"', "back\\slash", "{braces},comma"]
    assert first["seats"] == 9007199254740993
    assert first["sales_team"] == "ÉMEA – Süd"
    assert (second["account_name"], second["modules"], second["seats"], second["non_standard_terms"]) == (
        None,
        None,
        None,
        False,
    )


def test_bad_rows_are_quarantined_and_good_rows_of_the_same_file_load(conn, tmp_path):
    deals = CONTRACT["deals"]
    write_csv(
        snapshot_folder(tmp_path) / "deals.csv",
        [
            valid_row(deals, "1"),
            valid_row(deals, "2", seats="abc"),
            valid_row(deals, "3", segment="huge"),
            valid_row(deals, "4", sales_owner=None),
            valid_row(deals, "5", contract_state="signed", contract_signed_at=None),
            valid_row(deals, "6", seats="-1"),
            valid_row(deals, "7", payment_received_at="2026-11-03T16:00:00"),
            valid_row(deals, "8", strategic="yes"),
            valid_row(deals, "dup"),
            valid_row(deals, "dup"),
            valid_row(deals, "11"),
        ],
    )
    items = CONTRACT["provisioning_items"]
    write_csv(
        snapshot_folder(tmp_path) / "provisioning_items.csv",
        [
            valid_row(items, "1", completed_at="2026-11-03T08:00:00Z"),
            valid_row(items, "2"),
        ],
    )
    load_snapshot(conn, tmp_path, DAY)

    quarantined = conn.execute(
        "select entity, source_file, row_number, column_name, value, reason from hypercare.quarantine "
        "where snapshot_date = %s order by entity, row_number",
        (DAY,),
    ).fetchall()
    file = "2026-11-03/deals.csv"
    assert quarantined == [
        ("deals", file, 2, "seats", "abc", "not a valid int"),
        ("deals", file, 3, "segment", "huge", "not one of: enterprise, mid_market, smb"),
        ("deals", file, 4, "sales_owner", None, "null in required column"),
        (
            "deals",
            file,
            5,
            "contract_signed_at",
            None,
            "required when contract_state in (signed, countersigned)",
        ),
        ("deals", file, 6, "seats", "-1", "less than minimum 0"),
        ("deals", file, 7, "payment_received_at", "2026-11-03T16:00:00", "timestamp without offset"),
        ("deals", file, 8, "strategic", "yes", "not a valid bool (expected true or false)"),
        ("deals", file, 9, "opportunity_id", "opportunity_id-dup", "duplicate key (opportunity_id)"),
        ("deals", file, 10, "opportunity_id", "opportunity_id-dup", "duplicate key (opportunity_id)"),
        (
            "provisioning_items",
            "2026-11-03/provisioning_items.csv",
            1,
            "completed_at",
            "2026-11-03T08:00:00Z",
            "completed_at before created_at",
        ),
    ]
    record = conn.execute(
        "select record from hypercare.quarantine where entity = 'deals' and row_number = 2"
    ).fetchone()[0]
    assert record["seats"] == "abc" and record["opportunity_id"] == "opportunity_id-2"

    assert read_snapshot(conn, "deals", DAY)["opportunity_id"].to_list() == [
        "opportunity_id-1",
        "opportunity_id-11",
    ]
    assert read_snapshot(conn, "provisioning_items", DAY)["item_id"].to_list() == ["item_id-2"]
    runs = load_runs(conn)
    assert runs["deals"][:5] == (file, "loaded", 11, 2, 9)
    assert runs["provisioning_items"][:5] == ("2026-11-03/provisioning_items.csv", "loaded", 2, 1, 1)


@pytest.mark.parametrize("entity_name", ["deals", "system_records"])
def test_no_copy_of_a_duplicated_key_lands_whether_or_not_the_table_indexes_it(conn, tmp_path, entity_name):
    """Deals keep a unique index in landing; system records keep their key by the contract
    check alone (migration 0021). Either way every copy of a duplicate is quarantined."""
    write_all_entities(tmp_path)
    entity = CONTRACT[entity_name]
    rows = [valid_row(entity, "1"), valid_row(entity, "2"), valid_row(entity, "1"), valid_row(entity, "3")]
    write_csv(snapshot_folder(tmp_path) / f"{entity_name}.csv", rows)

    report = load_snapshot(conn, tmp_path, DAY)

    assert (report[entity_name].rows_loaded, report[entity_name].rows_quarantined) == (2, 2)
    first_key = entity.key[0]
    assert read_snapshot(conn, entity_name, DAY)[first_key].to_list() == [f"{first_key}-2", f"{first_key}-3"]
    duplicates = conn.execute(
        "select row_number from hypercare.quarantine where entity = %s and reason like 'duplicate key%%' "
        "order by row_number",
        (entity_name,),
    ).fetchall()
    assert duplicates == [(1,), (3,)]


def test_missing_required_column_rejects_that_file_alone(conn, tmp_path):
    write_all_entities(tmp_path)
    tasks = CONTRACT["customer_tasks"]
    rows = [valid_row(tasks, str(i)) for i in (1, 2)]
    for row in rows:
        del row["blocks_first_value"]
    write_csv(snapshot_folder(tmp_path) / "customer_tasks.csv", rows)

    report = load_snapshot(conn, tmp_path, DAY)

    rejected = report["customer_tasks"]
    assert rejected.status == "rejected"
    assert rejected.message == "2026-11-03/customer_tasks.csv: missing required column(s): blocks_first_value"
    assert (rejected.rows_loaded, rejected.rows_quarantined) == (0, 0)
    runs = load_runs(conn)
    assert runs["customer_tasks"] == (
        "2026-11-03/customer_tasks.csv",
        "rejected",
        2,
        0,
        0,
        "2026-11-03/customer_tasks.csv: missing required column(s): blocks_first_value",
    )
    assert read_snapshot(conn, "customer_tasks", DAY).is_empty()
    assert all(runs[e.name][1] == "loaded" for e in CONTRACT if e.name != "customer_tasks")
    assert counts(conn)["deals"] == 2
    assert "customer_tasks" in report.summary() and "blocks_first_value" in report.summary()


def test_unreadable_file_is_rejected_not_fatal(conn, tmp_path):
    write_all_entities(tmp_path)
    (snapshot_folder(tmp_path) / "milestones.csv").write_bytes(b"\xff\xfe\x00garbage\x00\n\x01\x02")
    report = load_snapshot(conn, tmp_path, DAY)
    assert report["milestones"].status == "rejected"
    assert report["milestones"].message == "2026-11-03/milestones.csv: line 1, byte 1: header is not UTF-8"
    assert report["deals"].status == "loaded"


def test_an_unclosed_quote_is_reported_at_the_line_its_record_starts(conn, tmp_path):
    write_all_entities(tmp_path, rows_per_entity=5)
    path = snapshot_folder(tmp_path) / "milestones.csv"
    lines = path.read_text().splitlines()
    lines[3] += ',"unclosed'
    path.write_text("\n".join(lines) + "\n")
    report = load_snapshot(conn, tmp_path, DAY)
    assert report["milestones"].status == "rejected"
    assert report["milestones"].message == (
        f"2026-11-03/milestones.csv: line 4 (a record running to line {len(lines)}): "
        "not valid CSV (unexpected end of data)"
    )
    assert report["deals"].status == "loaded"


def test_unknown_extra_columns_land_in_extra(conn, tmp_path):
    deals = CONTRACT["deals"]
    write_csv(
        snapshot_folder(tmp_path) / "deals.csv",
        [valid_row(deals, "1", crm_region="EMEA", partner=None), valid_row(deals, "2", crm_region="NA")],
    )
    load_snapshot(conn, tmp_path, DAY)
    extras = conn.execute(
        "select _source_row, _extra from hypercare.landing_deals where snapshot_date = %s order by 1", (DAY,)
    ).fetchall()
    assert extras == [
        (1, {"crm_region": "EMEA", "partner": None}),
        (2, {"crm_region": "NA", "partner": None}),
    ]
    assert read_snapshot(conn, "deals", DAY).columns == deals.column_names


def test_reloading_a_snapshot_leaves_the_store_identical(conn, tmp_path):
    write_all_entities(tmp_path)
    deals = CONTRACT["deals"]
    write_csv(
        snapshot_folder(tmp_path) / "deals.csv",
        [valid_row(deals, "1"), valid_row(deals, "2", seats="x"), valid_row(deals, "3", segment="x")],
    )
    load_snapshot(conn, tmp_path, DAY)
    first = counts(conn)
    first_quarantine = conn.execute("select * from hypercare.quarantine order by entity, row_number").fetchall()
    first_deals = read_snapshot(conn, "deals", DAY)

    load_snapshot(conn, tmp_path, DAY)

    assert counts(conn) == first
    assert first["deals"] == 1 and first["quarantine"] == 2 and first["load_runs"] == 10
    assert conn.execute("select * from hypercare.quarantine order by entity, row_number").fetchall() == (
        first_quarantine
    )
    assert read_snapshot(conn, "deals", DAY).equals(first_deals)


def test_reloading_replaces_what_the_date_held_and_leaves_other_dates(conn, tmp_path):
    other_day = DAY + dt.timedelta(days=1)
    write_all_entities(tmp_path, rows_per_entity=3)
    write_all_entities(tmp_path, day=other_day, rows_per_entity=3)
    load_snapshot(conn, tmp_path, DAY)
    load_snapshot(conn, tmp_path, other_day)

    (snapshot_folder(tmp_path) / "deals.csv").unlink()
    write_all_entities(tmp_path, rows_per_entity=1)
    (snapshot_folder(tmp_path) / "deals.csv").unlink()
    report = load_snapshot(conn, tmp_path, DAY)

    assert report["deals"].status == "absent"
    assert counts(conn)["deals"] == 0
    assert counts(conn)["milestones"] == 1
    assert counts(conn, other_day)["deals"] == 3
    assert read_snapshot(conn, "deals", other_day).height == 3


def test_a_new_day_loads_beside_a_reader_of_an_earlier_day_without_deadlock(conn, db_url, tmp_path):
    """A new partition locks its landing table against every reader. The load waits for a
    reader of another day holding a table open, but holds no other landing table while it
    waits, so the reader's next table does not deadlock with it."""
    next_day = _first_day_loaded_next_written(conn, tmp_path)
    with (
        db.connect(db_url) as reader,
        db.connect(db_url, autocommit=True) as writer,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        reader.execute("select count(*) from hypercare.landing_writebacks where snapshot_date = %s", (DAY,))
        loading = pool.submit(load_snapshot, writer, tmp_path, next_day)
        _until_it_waits_for_a_lock(conn, writer, loading)
        reader.execute("select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,))
        reader.commit()
        report = loading.result(timeout=60)
    assert {load.status for load in report.entities} == {"loaded"}
    assert counts(conn, next_day)["deals"] == 2


def test_a_load_waiting_to_create_a_partition_does_not_queue_readers_of_other_days(conn, db_url, tmp_path):
    """A scorecard holds one landing table in its transaction while its second connection
    reads the same table. A partition creation queued between them would wait for the
    first while the second waited for it, a wait PostgreSQL cannot see: creations give up
    after a moment and try again, so the second read goes through."""
    next_day = _first_day_loaded_next_written(conn, tmp_path)
    with (
        db.connect(db_url) as holder,
        db.connect(db_url, autocommit=True) as beside,
        db.connect(db_url, autocommit=True) as writer,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        holder.execute("select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,))
        loading = pool.submit(load_snapshot, writer, tmp_path, next_day)
        try:
            _until_it_waits_for_a_lock(conn, writer, loading)
            beside.execute("set statement_timeout = '10s'")
            beside.execute("select count(*) from hypercare.landing_deals where snapshot_date = %s", (DAY,))
        finally:
            holder.commit()  # lets the load finish whatever happened above
        report = loading.result(timeout=60)
    assert {load.status for load in report.entities} == {"loaded"}


def test_two_loads_of_one_new_day_at_once_both_succeed(conn, db_url, tmp_path):
    next_day = DAY + dt.timedelta(days=1)
    write_all_entities(tmp_path, day=next_day)
    with (
        db.connect(db_url, autocommit=True) as first,
        db.connect(db_url, autocommit=True) as second,
        ThreadPoolExecutor(max_workers=2) as pool,
    ):
        reports = [
            r.result(timeout=60) for r in [pool.submit(load_snapshot, c, tmp_path, next_day) for c in (first, second)]
        ]
    assert all({load.status for load in report.entities} == {"loaded"} for report in reports)
    assert counts(conn, next_day)["deals"] == 2


def _first_day_loaded_next_written(conn, tmp_path) -> dt.date:
    next_day = DAY + dt.timedelta(days=1)
    write_all_entities(tmp_path)
    write_all_entities(tmp_path, day=next_day)
    load_snapshot(conn, tmp_path, DAY)
    conn.commit()
    return next_day


def _until_it_waits_for_a_lock(conn, writer, loading) -> None:
    """Return once the load on `writer` waits for a lock; fail if it finishes or never waits."""
    for _ in range(600):
        row = conn.execute(
            "select wait_event_type from pg_stat_activity where pid = %s", (writer.info.backend_pid,)
        ).fetchone()
        conn.commit()
        if row is not None and row[0] == "Lock":
            return
        assert not loading.done(), "the load should wait for the other connection's table"
        time.sleep(0.05)
    raise AssertionError("the load never waited for a lock")


def test_landed_partitions_are_analyzed_from_a_small_sample(conn, tmp_path):
    """Plans need row counts and whether an identifier is unique; a statistics target of 10
    gives those (a histogram of at most 11 bounds) at a fraction of the default's cost."""
    write_all_entities(tmp_path, rows_per_entity=300)
    load_snapshot(conn, tmp_path, DAY)
    bounds, distinct = conn.execute(
        "select array_length(histogram_bounds, 1), n_distinct from pg_stats"
        " where schemaname = 'hypercare' and tablename = %s and attname = 'opportunity_id'",
        (f"landing_deals_{DAY:%Y%m%d}",),
    ).fetchone()
    assert bounds == 11 and distinct == -1


def test_a_failed_write_leaves_the_previous_load_in_place(conn, tmp_path, monkeypatch):
    write_all_entities(tmp_path, rows_per_entity=3)
    load_snapshot(conn, tmp_path, DAY)
    before = counts(conn)
    write_all_entities(tmp_path, rows_per_entity=1)
    written = []

    def copy_then_fail(cur, table, frame, **options):
        written.append(table)
        if len(written) == 5:
            raise RuntimeError("connection lost mid-load")
        real_copy(cur, table, frame, **options)

    real_copy = loader.copy_frame
    monkeypatch.setattr(loader, "copy_frame", copy_then_fail)
    with pytest.raises(RuntimeError, match="mid-load"):
        load_snapshot(conn, tmp_path, DAY)
    assert counts(conn) == before
    assert before["deals"] == 3


def test_absent_entity_file_means_no_rows(conn, tmp_path):
    milestones = CONTRACT["milestones"]
    write_csv(snapshot_folder(tmp_path) / "milestones.csv", [valid_row(milestones)])
    report = load_snapshot(conn, tmp_path, DAY)

    assert report["milestones"].status == "loaded"
    absent = [e for e in report if e.entity != "milestones"]
    assert {(e.status, e.source_file, e.rows_read, e.rows_loaded) for e in absent} == {("absent", None, 0, 0)}
    assert load_runs(conn)["deals"] == (None, "absent", 0, 0, 0, None)
    empty = read_snapshot(conn, "deals", DAY)
    assert empty.is_empty() and empty.schema == polars_schema(CONTRACT["deals"])


def test_snapshot_folder_without_entity_files_is_an_error(conn, tmp_path):
    folder = snapshot_folder(tmp_path)
    folder.mkdir()
    message = re.escape(f"snapshot folder {folder} holds no entity files")
    with pytest.raises(ValueError, match=message):
        load_snapshot(conn, tmp_path, DAY)
    (folder / "readme.txt").write_text("nothing here")
    (folder / "deals.json").write_text("{}")
    with pytest.raises(ValueError, match=message):
        load_snapshot(conn, tmp_path, DAY)
    with pytest.raises(ValueError, match="2026-11-04 holds no entity files"):
        load_snapshot(conn, tmp_path, dt.date(2026, 11, 4))
    assert conn.execute("select count(*) from hypercare.load_runs").fetchone()[0] == 0


def test_parquet_loads_the_same_as_the_equivalent_csv(conn, tmp_path):
    csv_day, parquet_day = DAY, DAY + dt.timedelta(days=1)
    deals = CONTRACT["deals"]
    rows = [
        valid_row(deals, "1", notes="x"),
        valid_row(deals, "2", closed_won_at="2026-11-03T17:00:00.5+01:00", modules=None, seats=None),
        valid_row(deals, "3", seats="-5"),
    ]
    write_csv(snapshot_folder(tmp_path, csv_day) / "deals.csv", rows)
    text = source_frame(rows)
    typed = text.with_columns(
        strategic=pl.col("strategic") == "true",
        arr=pl.col("arr").cast(pl.Float64),
        seats=pl.col("seats").cast(pl.Int64),
        closed_won_at=pl.col("closed_won_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC"),
        promised_go_live=pl.col("promised_go_live").str.to_date(),
        modules=pl.col("modules").str.split(";"),
    )
    folder = snapshot_folder(tmp_path, parquet_day)
    folder.mkdir()
    typed.write_parquet(folder / "deals.parquet")
    text.write_parquet(snapshot_folder(tmp_path, csv_day) / "milestones_unused.parquet")

    csv_report = load_snapshot(conn, tmp_path, csv_day)
    parquet_report = load_snapshot(conn, tmp_path, parquet_day)

    assert parquet_report["deals"].source_file == "2026-11-04/deals.parquet"
    assert [(e.status, e.rows_loaded, e.rows_quarantined) for e in parquet_report] == [
        (e.status, e.rows_loaded, e.rows_quarantined) for e in csv_report
    ]
    assert read_snapshot(conn, "deals", parquet_day).equals(read_snapshot(conn, "deals", csv_day))
    quarantine = "select row_number, column_name, value, reason from hypercare.quarantine where snapshot_date = %s"
    assert conn.execute(quarantine, (parquet_day,)).fetchall() == [(3, "seats", "-5", "less than minimum 0")]
    assert conn.execute(quarantine, (csv_day,)).fetchall() == [(3, "seats", "-5", "less than minimum 0")]
    extra = "select _extra from hypercare.landing_deals where snapshot_date = %s and _source_row = 1"
    assert conn.execute(extra, (parquet_day,)).fetchone() == ({"notes": "x"},)


def test_parquet_naive_datetimes_violate_the_contract(conn, tmp_path):
    records = CONTRACT["system_records"]
    rows = [valid_row(records, str(i)) for i in (1, 2)]
    naive = source_frame(rows).with_columns(
        observed_at=pl.col("observed_at").str.to_datetime(time_zone="UTC").dt.replace_time_zone(None)
    )
    folder = snapshot_folder(tmp_path)
    folder.mkdir()
    naive.write_parquet(folder / "system_records.parquet")

    report = load_snapshot(conn, tmp_path, DAY)

    assert (report["system_records"].rows_loaded, report["system_records"].rows_quarantined) == (0, 2)
    reasons = conn.execute(
        "select row_number, column_name, value, reason from hypercare.quarantine order by row_number"
    ).fetchall()
    assert reasons == [
        (1, "observed_at", "2026-11-03T08:30:00", "timestamp without offset"),
        (2, "observed_at", "2026-11-03T08:30:00", "timestamp without offset"),
    ]


def test_csv_and_parquet_for_one_entity_is_ambiguous(conn, tmp_path):
    write_all_entities(tmp_path)
    folder = snapshot_folder(tmp_path)
    source_frame([valid_row(CONTRACT["deals"])]).write_parquet(folder / "deals.parquet")
    report = load_snapshot(conn, tmp_path, DAY)
    assert report["deals"].status == "rejected"
    assert "deals.csv and deals.parquet" in report["deals"].message
    assert counts(conn)["deals"] == 0


def test_summary_reads_as_a_table(conn, tmp_path):
    deals = CONTRACT["deals"]
    write_csv(snapshot_folder(tmp_path) / "deals.csv", [valid_row(deals, "1"), valid_row(deals, "2", arr="x")])
    summary = load_snapshot(conn, tmp_path, DAY).summary()
    lines = summary.splitlines()
    assert lines[0] == "snapshot 2026-11-03: 1 loaded, 0 rejected, 9 absent; 1 rows loaded, 1 rows quarantined"
    assert lines[1].split() == [
        "deals",
        "loaded",
        "read",
        "2,",
        "loaded",
        "1,",
        "quarantined",
        "1",
        "(2026-11-03/deals.csv)",
    ]
    assert lines[2].split() == ["onboarding_projects", "absent"]


def test_landed_rows_keep_source_row_numbers(conn, tmp_path):
    tasks = CONTRACT["customer_tasks"]
    write_csv(
        snapshot_folder(tmp_path) / "customer_tasks.csv",
        [valid_row(tasks, "1", task_type="nope"), valid_row(tasks, "2"), valid_row(tasks, "3")],
    )
    load_snapshot(conn, tmp_path, DAY)
    rows = conn.execute(
        "select task_id, _source_row from hypercare.landing_customer_tasks order by _source_row"
    ).fetchall()
    assert rows == [("task_id-2", 2), ("task_id-3", 3)]
    partition = conn.execute("select count(*) from hypercare.landing_customer_tasks_20261103").fetchone()[0]
    assert partition == 2
    assert load_runs(conn)["customer_tasks"][1:5] == ("loaded", 3, 2, 1)


ONE_BAD_CELL = [
    ("closed_won_at", "9999-12-31T23:59:59-14:00", "outside the supported range 1900-01-01..2199-12-31"),
    ("closed_won_at", "0001-01-01T00:00:00+14:00", "outside the supported range"),
    ("closed_won_at", "0000-06-01T00:00:00Z", "outside the supported range"),
    ("promised_go_live", "0000-01-01", "outside the supported range"),
    ("promised_go_live", "2300-01-01", "outside the supported range"),
    ("account_name", "Acme\x00Corp", "contains a NUL character"),
    ("arr", "1e309", "not a finite number"),
    ("arr", "inf", "not a valid decimal"),
    ("arr", "1e-400", "too small to represent"),
    ("opportunity_id", "opp\n2", "control character"),
    ("opportunity_id", "o" * 201, "identifier longer than 200"),
    ("account_name", "x" * 1_000_000, "text longer than 20000"),
    ("seats", "99999999999999999999", "not a valid int"),
]


@pytest.mark.parametrize(
    ("column", "value", "reason"), ONE_BAD_CELL, ids=[f"{c}:{v[:12]!r}" for c, v, _ in ONE_BAD_CELL]
)
def test_one_bad_cell_is_quarantined_and_never_aborts_the_load(conn, tmp_path, column, value, reason):
    deals = CONTRACT["deals"]
    rows = [valid_row(deals, "1"), valid_row(deals, "2", **{column: value}), valid_row(deals, "3")]
    rows[0]["account_name"] = "Two\nlines"  # a quoted newline: row 2 starts on line 4
    write_csv(snapshot_folder(tmp_path) / "deals.csv", rows)
    report = load_snapshot(conn, tmp_path, DAY)
    assert (report["deals"].status, report["deals"].rows_loaded, report["deals"].rows_quarantined) == ("loaded", 2, 1)
    found = conn.execute(
        "select source_file, row_number, line_number, column_name, value, reason from hypercare.quarantine"
    ).fetchall()
    assert [(f, r, line, c) for f, r, line, c, _, _ in found] == [("2026-11-03/deals.csv", 2, 4, column)]
    stored, why = found[0][4], found[0][5]
    assert reason in why
    assert "\x00" not in stored and len(stored) < 600
    assert [r["opportunity_id"] for r in read_snapshot(conn, "deals", DAY).to_dicts()] == [
        "opportunity_id-1",
        "opportunity_id-3",
    ]


def test_a_row_with_too_many_fields_is_quarantined_with_its_line(conn, tmp_path):
    deals = CONTRACT["deals"]
    path = write_csv(snapshot_folder(tmp_path) / "deals.csv", [valid_row(deals, str(i)) for i in (1, 2, 3)])
    lines = path.read_bytes().split(b"\r\n")
    lines[2] += b",surplus,\x80cells"
    lines[3] = lines[3].replace(b"account_name-1", b"caf\xe9")
    path.write_bytes(b"\r\n".join(lines))
    report = load_snapshot(conn, tmp_path, DAY)
    assert (report["deals"].status, report["deals"].rows_loaded, report["deals"].rows_quarantined) == ("loaded", 1, 2)
    found = conn.execute(
        "select row_number, line_number, column_name, value, reason from hypercare.quarantine order by row_number"
    ).fetchall()
    width = len(deals.columns)
    assert found == [
        (2, 3, None, "surplus,\\x80cells", f"{width + 2} fields, the header has {width}"),
        (3, 4, "account_name", "caf\\xe9", "not UTF-8"),
    ]
