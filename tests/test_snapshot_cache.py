"""Local copies of landed entities: read only for the load the store holds now, equal to
landing, and never in place of it when they do not match."""

from __future__ import annotations

import datetime as dt
import io
import logging

import polars as pl
import pytest

from hypercare.contract import load_contract
from hypercare.loader import load_snapshot, read_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.snapshot import Snapshot, entity_schema
from hypercare.snapshot_cache import SnapshotCache
from hypercare.synth import generate
from tests.test_contract import CONTRACT, valid_row, write_csv

DAY = dt.date(2026, 11, 3)
ENTITIES = [entity.name for entity in load_contract()]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Two days of a generated world; the second day's exports hold rows the contract quarantines."""
    out = tmp_path_factory.mktemp("source")
    generate(out, start=DAY - dt.timedelta(days=1), days=2, customers=60, seed=11, ruleset=load_ruleset())
    return out


def assert_same_values(copy: pl.DataFrame, landed: pl.DataFrame) -> None:
    """Equal frames, and float columns equal to the bit as well (frame equality takes -0.0
    for 0.0)."""
    assert copy.equals(landed)
    floats = [name for name, dtype in landed.schema.items() if dtype == pl.Float64]
    assert copy.select(pl.col(floats).cast(pl.String)).equals(landed.select(pl.col(floats).cast(pl.String)))


def current_load(conn, entity: str) -> tuple[str, int]:
    return conn.execute(
        "select load_id::text, rows_loaded from hypercare.load_runs where snapshot_date = %s and entity = %s",
        (DAY, entity),
    ).fetchone()


def test_every_landed_entity_reads_from_its_copy_exactly_as_from_landing(conn, source, tmp_path):
    cache = SnapshotCache(tmp_path / "copies")
    report = load_snapshot(conn, source, DAY, cache=cache)
    assert report.rows_quarantined > 0
    snapshot = Snapshot.from_db(conn, DAY, cache=cache)
    for entity in ENTITIES:
        load_id, rows = current_load(conn, entity)
        copy = cache.read(load_id, entity, entity_schema(entity), rows)
        assert copy is not None, entity
        landed = read_snapshot(conn, entity, DAY)
        assert landed.height > 0
        assert_same_values(copy, landed)
        assert_same_values(snapshot[entity], landed)


def test_a_negative_zero_reads_the_same_from_the_copy_as_from_landing(conn, tmp_path):
    """A decimal column in landing has no negative zero: the copy has none either."""
    deals = CONTRACT["deals"]
    write_csv(tmp_path / DAY.isoformat() / "deals.csv", [valid_row(deals, "1", arr="-0"), valid_row(deals, "2")])
    cache = SnapshotCache(tmp_path / "copies")
    load_snapshot(conn, tmp_path, DAY, cache=cache)
    load_id, rows = current_load(conn, "deals")
    copy = cache.read(load_id, "deals", entity_schema("deals"), rows)
    assert copy is not None and copy.height == 2
    assert_same_values(copy, read_snapshot(conn, "deals", DAY))


RENAMED = "Renamed after the first load"


def renamed_source(source, tmp_path) -> tuple:
    """The day's exports again, every deal's account renamed; and one renamed deal."""
    changed = tmp_path / "changed"
    folder = changed / DAY.isoformat()
    folder.mkdir(parents=True)
    for file in (source / DAY.isoformat()).iterdir():
        if file.name != "_manifest.json":
            (folder / file.name).write_bytes(file.read_bytes())
    deals = pl.read_csv(folder / "deals.csv", infer_schema=False)
    deals.with_columns(account_name=pl.lit(RENAMED)).write_csv(folder / "deals.csv")
    return changed, deals["opportunity_id"][0]


def account_name(snapshot: Snapshot, opportunity_id: str) -> str:
    deals = snapshot["deals"]
    return deals.filter(pl.col("opportunity_id") == opportunity_id)["account_name"].item()


def test_a_reload_is_read_from_its_own_copy_never_from_the_previous_one(conn, source, tmp_path):
    cache = SnapshotCache(tmp_path / "copies")
    changed, deal = renamed_source(source, tmp_path)
    load_snapshot(conn, changed, DAY, cache=cache)
    first, _ = current_load(conn, "deals")
    load_snapshot(conn, source, DAY, cache=cache)
    assert current_load(conn, "deals")[0] != first
    assert (cache.root / first / "deals.arrow").exists()
    snapshot = Snapshot.from_db(conn, DAY, cache=cache)
    assert account_name(snapshot, deal) != RENAMED
    assert snapshot["deals"].equals(read_snapshot(conn, "deals", DAY))


def test_a_reload_after_the_snapshot_opened_is_what_its_later_reads_get(conn, source, tmp_path):
    cache = SnapshotCache(tmp_path / "copies")
    changed, deal = renamed_source(source, tmp_path)
    load_snapshot(conn, source, DAY, cache=cache)
    snapshot = Snapshot.from_db(conn, DAY, cache=cache)
    load_snapshot(conn, changed, DAY, cache=cache)
    assert account_name(snapshot, deal) == RENAMED


def test_a_load_that_rolls_back_leaves_its_copies_unread(db_url, source, tmp_path):
    from hypercare import db

    cache = SnapshotCache(tmp_path / "copies")
    changed, deal = renamed_source(source, tmp_path)
    with db.connect(db_url, autocommit=True) as conn:
        load_snapshot(conn, source, DAY, cache=cache)
        kept = current_load(conn, "deals")[0]
        conn.autocommit = False
        with pytest.raises(RuntimeError), conn.transaction():
            load_snapshot(conn, changed, DAY, cache=cache)
            raise RuntimeError("the caller's transaction fails after the load")
        conn.autocommit = True
        assert current_load(conn, "deals")[0] == kept
        assert len([p for p in cache.root.iterdir() if p.is_dir()]) == 2
        snapshot = Snapshot.from_db(conn, DAY, cache=cache)
        assert account_name(snapshot, deal) != RENAMED
        assert snapshot["deals"].equals(read_snapshot(conn, "deals", DAY))


@pytest.mark.parametrize("damage", ["truncated", "garbled", "fewer rows", "other columns", "missing"])
def test_a_copy_that_does_not_match_the_store_is_passed_over_for_landing(conn, source, tmp_path, damage):
    cache = SnapshotCache(tmp_path / "copies")
    load_snapshot(conn, source, DAY, cache=cache)
    load_id, _ = current_load(conn, "customer_tasks")
    path = cache.root / load_id / "customer_tasks.arrow"
    copy = pl.read_ipc(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbled":
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(range(64))
        path.write_bytes(bytes(data))
    elif damage == "fewer rows":
        copy.head(copy.height - 1).write_ipc(path)
    elif damage == "other columns":
        copy.drop("task_type").write_ipc(path)
    else:
        path.unlink()
    assert cache.read(load_id, "customer_tasks", entity_schema("customer_tasks"), copy.height) is None
    landed = read_snapshot(conn, "customer_tasks", DAY)
    assert Snapshot.from_db(conn, DAY, cache=cache)["customer_tasks"].equals(landed)


def test_copies_are_kept_for_the_latest_loads_only_and_can_be_turned_off(conn, source, tmp_path, monkeypatch):
    cache = SnapshotCache(tmp_path / "copies", keep=2)
    unrelated = cache.root / "pgdata"
    unrelated.mkdir(parents=True)
    for _ in range(3):
        load_snapshot(conn, source, DAY, cache=cache)
    kept = {p.name for p in cache.root.iterdir()} - {unrelated.name}
    assert len(kept) == 2 and current_load(conn, "deals")[0] in kept
    assert unrelated.is_dir(), "only folders named by a load are pruned"

    monkeypatch.setenv("HYPERCARE_SNAPSHOT_CACHE", "off")
    assert SnapshotCache.from_env().root is None
    load_snapshot(conn, source, DAY)
    assert Snapshot.from_db(conn, DAY)["deals"].equals(read_snapshot(conn, "deals", DAY))


def test_a_copy_that_makes_the_reader_panic_is_passed_over(tmp_path):
    """Some damage makes polars panic (a BaseException) rather than raise an error: the
    reader still goes to landing."""
    cache = SnapshotCache(tmp_path)
    load_id = "5f0c2a8e-9a53-4c1e-8d3f-4f6d2b7a9c10"
    frame = pl.DataFrame({"name": [f"value-{i}" for i in range(200)], "arr": [i * 0.5 for i in range(200)]})
    cache.write(load_id, "deals", frame)
    path = tmp_path / load_id / "deals.arrow"
    data = path.read_bytes()
    for position in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[position // 8] ^= 1 << position % 8
        try:
            pl.read_ipc(io.BytesIO(bytes(damaged)))
        except pl.exceptions.PanicException:
            break
        except (OSError, pl.exceptions.PolarsError):
            continue
    else:
        pytest.fail("no single flipped bit makes polars panic on this file")
    path.write_bytes(bytes(damaged))
    assert cache.read(load_id, "deals", dict(frame.schema), frame.height) is None


def test_a_load_that_wrote_no_copy_prunes_quietly(tmp_path, caplog):
    """A first load whose every file was rejected leaves no folder to prune: nothing to warn of."""
    with caplog.at_level(logging.WARNING, logger="hypercare.snapshot_cache"):
        SnapshotCache(tmp_path / "never-written").prune()
    assert caplog.records == []
