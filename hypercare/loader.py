"""Land one snapshot folder into PostgreSQL, and read landed snapshots back as dataframes.

A load replaces everything known about its snapshot date in one transaction (landing
partitions, quarantine, load_runs), so loading a day twice, or again after a fix,
leaves the store as if it had been loaded once.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
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
from hypercare.db import copy_frame

SOURCE_FORMATS = ("csv", "parquet")
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
        by_status = {s: sum(e.status == s for e in self.entities) for s in ("loaded", "rejected", "absent")}
        lines = [
            f"snapshot {self.snapshot_date}: {by_status['loaded']} loaded, {by_status['rejected']} rejected, "
            f"{by_status['absent']} absent; {self.rows_loaded} rows loaded, "
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


def _source_file(folder: Path, entity: Entity) -> Path | None:
    found = [folder / f"{entity.name}.{ext}" for ext in SOURCE_FORMATS if (folder / f"{entity.name}.{ext}").is_file()]
    if len(found) > 1:
        raise ContractError(f"{folder.name}: both {found[0].name} and {found[1].name} present; keep one per entity")
    return found[0] if found else None


def read_source_file(path: Path, name: str) -> pl.DataFrame:
    """The file's rows with nothing inferred: CSV cells as strings, Parquet columns as stored."""
    try:
        if path.suffix == ".parquet":
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, OSError) as exc:
        kind = path.suffix.lstrip(".").upper()
        raise ContractError(f"{name}: cannot be read as {kind}: {exc}") from exc


def _check_entity(folder: Path, entity: Entity) -> tuple[EntityLoad, ValidationResult | None]:
    try:
        path = _source_file(folder, entity)
    except ContractError as exc:
        return EntityLoad(entity.name, None, "rejected", message=str(exc)), None
    if path is None:
        return EntityLoad(entity.name, None, "absent"), None
    name = f"{folder.name}/{path.name}"
    rows_read = 0
    try:
        raw = read_source_file(path, name)
        rows_read = raw.height
        result = validate(entity, raw, name)
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


def _partition(entity: Entity, snapshot_date: dt.date) -> sql.Identifier:
    return sql.Identifier("hypercare", f"landing_{entity.name}_{snapshot_date:%Y%m%d}")


def load_snapshot(conn: psycopg.Connection, source_dir: Path, snapshot_date: dt.date) -> LoadReport:
    """Check and land every entity file of one snapshot, replacing what that date held.

    Files are read and checked before the transaction opens; the write is one
    transaction, so readers see either the previous or the new state of the day. (Inside
    a transaction the caller already holds, it is a savepoint the caller commits.)
    """
    folder = Path(source_dir) / snapshot_date.isoformat()
    contract = load_contract()
    present = folder.is_dir() and any(
        (folder / f"{entity.name}.{ext}").is_file() for entity in contract for ext in SOURCE_FORMATS
    )
    if not present:
        expected = ", ".join(f"<entity>.{ext}" for ext in SOURCE_FORMATS)
        raise ValueError(f"snapshot folder {folder} holds no entity files ({expected})")

    checked = [(entity, *_check_entity(folder, entity)) for entity in contract]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(%s, %s)", (_LOAD_LOCK, snapshot_date.toordinal()))
        for entity, _, result in checked:
            partition = _partition(entity, snapshot_date)
            # Partitions are created and analyzed with the owner's rights: the writer has no DDL.
            cur.execute("select hypercare.create_landing_partition(%s, %s)", (entity.name, snapshot_date))
            cur.execute(sql.SQL("truncate {}").format(partition))
            if result is not None:
                copy_frame(cur, partition, result.good.with_columns(snapshot_date=pl.lit(snapshot_date)))
            cur.execute("select hypercare.analyze_landing_partition(%s, %s)", (entity.name, snapshot_date))

        cur.execute("delete from hypercare.quarantine where snapshot_date = %s", (snapshot_date,))
        quarantine = [
            result.quarantine.with_columns(
                snapshot_date=pl.lit(snapshot_date),
                entity=pl.lit(load.entity),
                source_file=pl.lit(load.source_file),
            )
            for _, load, result in checked
            if result is not None
        ]
        if quarantine:
            copy_frame(cur, sql.Identifier("hypercare", "quarantine"), pl.concat(quarantine))

        cur.execute("delete from hypercare.load_runs where snapshot_date = %s", (snapshot_date,))
        cur.executemany(
            "insert into hypercare.load_runs (snapshot_date, entity, source_file, status, rows_read,"
            " rows_loaded, rows_quarantined, message) values (%s, %s, %s, %s, %s, %s, %s, %s)",
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
                )
                for _, load, _ in checked
            ],
        )
    return LoadReport(snapshot_date, tuple(load for _, load, _ in checked))


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
    """
    entity = load_contract()[entity_name]
    query = sql.SQL("copy (select {} from {} where snapshot_date = {} order by _source_row) to stdout (format csv)")
    query = query.format(
        sql.SQL(", ").join(_select_expression(c.name, c.type) for c in entity.columns),
        sql.Identifier("hypercare", f"landing_{entity.name}"),
        sql.Literal(snapshot_date.isoformat()),
    )
    buffer = io.BytesIO()
    with conn.transaction(), conn.cursor() as cur, cur.copy(query) as copy:
        for block in copy:
            buffer.write(block)
    schema = polars_schema(entity)
    if not buffer.getbuffer().nbytes:
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    text = pl.read_csv(buffer, has_header=False, new_columns=entity.column_names, infer_schema=False, encoding="utf8")
    return text.select(_from_text(c.name, c.type).alias(c.name) for c in entity.columns).cast(schema)
