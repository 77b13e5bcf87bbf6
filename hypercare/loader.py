"""Land one snapshot folder into PostgreSQL, and read landed snapshots back as dataframes.

A load replaces everything known about its snapshot date in one transaction (landing
partitions, quarantine, load_runs), so loading a day twice, or again after a fix,
leaves the store as if it had been loaded once.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
import psycopg
from psycopg import sql

from hypercare.contract import (
    POLARS_TYPES,
    ContractError,
    Entity,
    ValidationResult,
    load_contract,
    polars_schema,
    validate,
)
from hypercare.db import copy_frame, copy_out_frame
from hypercare.exports import MANIFEST_NAME
from hypercare.ruleset import RuleSet, load_ruleset
from hypercare.snapshot_cache import SnapshotCache
from hypercare.sources import SOURCE_FORMATS, SourceFile, read_source_file, scan_folder
from hypercare.store import append_audit

# load_runs statuses whose entity gives no verdict that day (see contract.file_rejected).
UNUSABLE_STATUSES = ("rejected", "held")
_LOAD_LOCK = 727_002


class IncompleteSnapshot(RuntimeError):
    """A snapshot was landed, but at least one entity file was rejected or held."""


@dataclass(frozen=True)
class EntityLoad:
    """What happened to one entity file of a snapshot (one row of hypercare.load_runs)."""

    entity: str
    source_file: str | None
    status: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None


@dataclass(frozen=True)
class LoadReport:
    snapshot_date: dt.date
    entities: tuple[EntityLoad, ...]
    warnings: tuple[str, ...] = ()

    def __getitem__(self, entity: str) -> EntityLoad:
        for load in self.entities:
            if load.entity == entity:
                return load
        raise KeyError(entity)

    def __iter__(self) -> Iterator[EntityLoad]:
        return iter(self.entities)

    @property
    def rows_loaded(self) -> int:
        return sum(e.rows_loaded for e in self.entities)

    @property
    def rows_quarantined(self) -> int:
        return sum(e.rows_quarantined for e in self.entities)

    @property
    def unusable(self) -> tuple[EntityLoad, ...]:
        """Entities no area may judge this day: the file was rejected, or its volume is held."""
        return tuple(e for e in self.entities if e.status in UNUSABLE_STATUSES)

    def raise_if_incomplete(self) -> None:
        """Fail loudly (after the good files were landed) when an entity is unusable."""
        if self.unusable:
            problems = "; ".join(f"{e.entity} {e.status}: {e.message}" for e in self.unusable)
            raise IncompleteSnapshot(
                f"snapshot {self.snapshot_date} is incomplete, the areas reading these entities are not "
                f"evaluated until it is fixed: {problems}"
            )

    def summary(self) -> str:
        by_status = {s: sum(e.status == s for e in self.entities) for s in ("loaded", "rejected", "held", "absent")}
        lines = [
            f"snapshot {self.snapshot_date}: {by_status['loaded']} loaded, {by_status['rejected']} rejected, "
            + (f"{by_status['held']} held, " if by_status["held"] else "")
            + f"{by_status['absent']} absent; {self.rows_loaded} rows loaded, "
            f"{self.rows_quarantined} rows quarantined"
        ]
        width = max(len(e.entity) for e in self.entities)
        for e in self.entities:
            line = f"  {e.entity:<{width}}  {e.status:<8}"
            if e.status != "absent":
                line += (
                    f"  read {e.rows_read}, loaded {e.rows_loaded}, quarantined {e.rows_quarantined}  ({e.source_file})"
                )
            if e.message and e.status != "loaded":
                line += f"  {e.message}"
            lines.append(line.rstrip())
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def snapshot_dates(source_dir: Path) -> list[dt.date]:
    """Dates of the snapshot folders (named YYYY-MM-DD) under `source_dir`, oldest first."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ValueError(f"source folder {source_dir} does not exist")
    dates = []
    for child in source_dir.iterdir():
        if not child.is_dir():
            continue
        try:
            day = dt.date.fromisoformat(child.name)
        except ValueError:
            continue
        if child.name == day.isoformat():
            dates.append(day)
    return sorted(dates)


def _check_entity(entity: Entity, source: SourceFile) -> tuple[EntityLoad, ValidationResult | None]:
    if source.problem:
        return EntityLoad(entity.name, source.name, "rejected", message=source.problem), None
    if source.path is None:
        return EntityLoad(entity.name, None, "absent"), None
    name = source.name
    rows_read = 0
    try:
        rows = read_source_file(source.path, name)
        rows_read = rows.frame.height
        if source.manifest_rows is not None and rows_read != source.manifest_rows:
            raise ContractError(
                f"{name}: {rows_read} data rows, {MANIFEST_NAME} says {source.manifest_rows}"
                " (truncated, or still being written?)"
            )
        result = validate(entity, rows.frame, name, line_numbers=rows.line_numbers, row_problems=rows.row_problems)
    except ContractError as exc:
        return EntityLoad(entity.name, name, "rejected", rows_read=rows_read, message=str(exc)), None
    message = None
    if result.rows_quarantined:
        message = f"{result.rows_quarantined} row(s) quarantined ({result.quarantine.height} violation(s))"
    load = EntityLoad(
        entity.name,
        name,
        "loaded",
        rows_read=result.rows_read,
        rows_loaded=result.rows_loaded,
        rows_quarantined=result.rows_quarantined,
        message=message,
    )
    return load, result


def _baselines(conn: psycopg.Connection, snapshot_date: dt.date) -> dict[str, tuple[dt.date, int]]:
    """Per entity, the latest earlier day it loaded in full, and its row count then."""
    rows = conn.execute(
        "select distinct on (entity) entity, snapshot_date, rows_read from hypercare.load_runs "
        "where snapshot_date < %s and status in ('loaded', 'absent') order by entity, snapshot_date desc",
        (snapshot_date,),
    ).fetchall()
    return {entity: (day, count) for entity, day, count in rows}


def _hold_drops(
    loads: list[EntityLoad],
    baselines: dict[str, tuple[dt.date, int]],
    max_drop_share: float,
    accepted: Collection[str],
) -> list[EntityLoad]:
    """Loads whose row count fell by more than `max_drop_share` become `held` (unless accepted)."""
    checked = []
    for load in loads:
        baseline = baselines.get(load.entity)
        if load.status not in ("loaded", "absent") or not baseline or baseline[1] == 0:
            checked.append(load)
            continue
        day, before = baseline
        drop = (before - load.rows_read) / before
        if drop <= max_drop_share:
            checked.append(load)
            continue
        figures = f"{load.rows_read} rows against {before} on {day} (-{drop:.1%}, more than {max_drop_share:.0%})"
        if load.entity in accepted:
            checked.append(replace(load, message=f"volume drop accepted: {figures}"))
        else:
            checked.append(
                replace(
                    load,
                    status="held",
                    message=f"{figures}: held for review; if the drop is real, reload with --accept-drop {load.entity}",
                )
            )
    return checked


def _partition(entity: Entity, snapshot_date: dt.date) -> sql.Identifier:
    return sql.Identifier("hypercare", f"landing_{entity.name}_{snapshot_date:%Y%m%d}")


def load_snapshot(
    conn: psycopg.Connection,
    source_dir: Path,
    snapshot_date: dt.date,
    *,
    ruleset: RuleSet | None = None,
    accept_drops: Collection[str] = (),
    actor: str = "hypercare",
    cache: SnapshotCache | None = None,
) -> LoadReport:
    """Check and land every entity file of one snapshot, replacing what that date held.

    Files are read and checked before the transaction opens; the write is one
    transaction, so readers see either the previous or the new state of the day. (Inside
    a transaction the caller already holds, it is a savepoint the caller commits.)
    Rejected files and held volume drops are recorded, never raised: the caller decides
    (`LoadReport.raise_if_incomplete`), and evaluation gives no verdict on them.
    Each landed entity is also copied to `cache` (default: from the environment) for the
    day's readers, under this load's identifier.
    """
    folder = Path(source_dir) / snapshot_date.isoformat()
    contract = load_contract()
    if not folder.is_dir():
        raise ValueError(f"snapshot folder {folder} holds no entity files: it does not exist")
    scan = scan_folder(folder, contract)
    if all(f.path is None and f.problem is None for f in scan.files.values()):
        expected = ", ".join(f"<entity>.{ext}" for ext in SOURCE_FORMATS)
        raise ValueError(f"snapshot folder {folder} holds no entity files ({expected})")
    unknown = set(accept_drops) - set(scan.files)
    if unknown:
        raise ValueError(f"--accept-drop: unknown entit(ies) {sorted(unknown)}")
    ruleset = ruleset or load_ruleset()
    max_drop_share = float(ruleset.rule("contract.volume_drop").param("max_drop_share"))

    cache = cache or SnapshotCache.from_env()
    load_id = str(uuid.uuid4())
    entities = list(contract)
    _create_partitions(conn, entities, snapshot_date)
    # The next file is checked in a worker thread while this thread copies the current
    # one: polars and the server's COPY keep both cores busy, and at most two files'
    # rows are held in memory at once. A third thread writes the local copies.
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="contract-check") as checker,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-copy") as copier,
    ):
        loads, quarantine = [], []
        upcoming = checker.submit(_check_entity, entities[0], scan.files[entities[0].name])
        with conn.transaction(), conn.cursor() as cur:
            _lock_day(cur, snapshot_date)
            for position, entity in enumerate(entities):
                load, result = upcoming.result()
                if position + 1 < len(entities):
                    following = entities[position + 1]
                    upcoming = checker.submit(_check_entity, following, scan.files[following.name])
                loads.append(load)
                _land(cur, entity, snapshot_date, result)
                if result is not None:
                    copier.submit(cache.write, load_id, entity.name, _as_read(entity, result.good))
                    quarantine.append(
                        result.quarantine.with_columns(
                            snapshot_date=pl.lit(snapshot_date),
                            entity=pl.lit(load.entity),
                            source_file=pl.lit(load.source_file),
                        )
                    )
            loads = _hold_drops(loads, _baselines(conn, snapshot_date), max_drop_share, accept_drops)
            _record_load(conn, cur, snapshot_date, load_id, loads, quarantine, accept_drops, actor)
    cache.prune()
    return LoadReport(snapshot_date, tuple(loads), scan.warnings)


def _lock_day(executor: psycopg.Connection | psycopg.Cursor, snapshot_date: dt.date) -> None:
    """Loads of one day take turns, until the caller's transaction ends."""
    executor.execute("select pg_advisory_xact_lock(%s, %s)", (_LOAD_LOCK, snapshot_date.toordinal()))


def _create_partitions(conn: psycopg.Connection, entities: list[Entity], snapshot_date: dt.date) -> None:
    """The day's landing partitions, each created and committed on its own before the load.

    Creating a partition locks its landing table against every reader until the creation
    commits, and a lock request that waits makes later readers queue behind it. So each
    creation gives up after a moment and is tried again: a reader of another day that holds
    one landing table while its other connection reads a second (the scorecard does) is
    never stuck behind the load, and the load's own transaction holds no landing table
    while it waits. The day's load lock keeps two loads of one day from creating the same
    partition at once. Inside a caller's transaction nothing can commit early, so the
    partitions are created there plainly. Partitions are created and analyzed with the
    owner's rights: the writer has no DDL.
    """
    create = "select hypercare.create_landing_partition(%s, %s)"
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        for entity in entities:
            conn.execute(create, (entity.name, snapshot_date))
        return
    for entity in entities:
        while True:
            try:
                with conn.transaction():
                    conn.execute("set local lock_timeout = '500ms'")
                    _lock_day(conn, snapshot_date)
                    conn.execute(create, (entity.name, snapshot_date))
                break
            except psycopg.errors.LockNotAvailable:
                time.sleep(0.1)


def _land(cur: psycopg.Cursor, entity: Entity, snapshot_date: dt.date, result: ValidationResult | None) -> None:
    """Replace the entity's landing partition for the day with the file's good rows."""
    partition = _partition(entity, snapshot_date)
    cur.execute(sql.SQL("truncate {}").format(partition))
    if result is not None:
        # Truncated in this transaction, so the rows can land frozen: the first reader (ten
        # evaluation tasks read each day) finds them committed instead of setting every
        # tuple's hint bits and writing the whole partition out again.
        copy_frame(cur, partition, result.good.with_columns(snapshot_date=pl.lit(snapshot_date)), freeze=True)
    cur.execute("select hypercare.analyze_landing_partition(%s, %s)", (entity.name, snapshot_date))


def _record_load(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    snapshot_date: dt.date,
    load_id: str,
    loads: list[EntityLoad],
    quarantine: list[pl.DataFrame],
    accept_drops: Collection[str],
    actor: str,
) -> None:
    """The day's quarantine, load_runs rows and accepted drops, replacing what it held."""
    cur.execute("delete from hypercare.quarantine where snapshot_date = %s", (snapshot_date,))
    if quarantine:
        copy_frame(cur, sql.Identifier("hypercare", "quarantine"), pl.concat(quarantine))

    cur.execute("delete from hypercare.load_runs where snapshot_date = %s", (snapshot_date,))
    cur.executemany(
        "insert into hypercare.load_runs (snapshot_date, entity, source_file, status, rows_read,"
        " rows_loaded, rows_quarantined, message, load_id) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                snapshot_date,
                load.entity,
                load.source_file,
                load.status,
                load.rows_read,
                load.rows_loaded,
                load.rows_quarantined,
                load.message,
                load_id,
            )
            for load in loads
        ],
    )
    for load in loads:
        if load.entity in accept_drops and load.message and load.message.startswith("volume drop accepted"):
            append_audit(
                conn, actor, "volume_drop.accepted", f"{load.entity}@{snapshot_date}", {"message": load.message}
            )


def _select_expression(name: str, type_: str) -> sql.Composable:
    """A landing column spelled so that its CSV text parses back losslessly and fast."""
    column = sql.Identifier(name)
    if type_ == "ts":
        return sql.SQL("(extract(epoch from {}) * 1000000)::bigint").format(column)
    if type_ == "list":
        return sql.SQL("array_to_json({})").format(column)
    return column


def _from_text(name: str, type_: str) -> pl.Expr:
    col = pl.col(name)
    if type_ == "ts":
        return col.cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if type_ == "list":
        return col.str.json_decode(pl.List(pl.String))
    if type_ == "bool":
        return col == "t"
    if type_ == "date":
        return col.str.to_date("%Y-%m-%d")
    return col.cast(POLARS_TYPES[type_])


def read_snapshot(conn: psycopg.Connection, entity_name: str, snapshot_date: dt.date) -> pl.DataFrame:
    """The landed good rows of one entity for one date, typed as the contract says, in file order.

    COPY with timestamps as epoch microseconds keeps 100k-row reads to a fraction of a second.
    The rows come back in the partition's own order and are put in file order here: the
    server's sort of a 2.4M-row day took a third of its COPY, polars' takes a few
    hundredths of a second (the rows were written in file order, so they mostly are).
    """
    entity = load_contract()[entity_name]
    query = sql.SQL("select _source_row, {} from {} where snapshot_date = {}")
    query = query.format(
        sql.SQL(", ").join(_select_expression(c.name, c.type) for c in entity.columns),
        sql.Identifier("hypercare", f"landing_{entity.name}"),
        sql.Literal(snapshot_date.isoformat()),
    )
    text = copy_out_frame(conn, query, {"_source_row": pl.Int64} | dict.fromkeys(entity.column_names, pl.String))
    return _as_read(
        entity, text.sort("_source_row").select(_from_text(c.name, c.type).alias(c.name) for c in entity.columns)
    )


def _as_read(entity: Entity, rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` (in file order) as every reader of the entity gets them: the contract's
    columns and types."""
    return rows.select(entity.column_names).cast(polars_schema(entity))
