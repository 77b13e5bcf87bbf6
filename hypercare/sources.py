"""Finding and reading the entity files of one snapshot folder, whatever state they are in.

Everything an export can get wrong at the level of a file is decided here: a path that
is not a regular file, a name in the wrong case, a file the manifest does not vouch for,
bytes that are not UTF-8, a duplicated header, rows with too many fields. A file that
cannot be read at all is rejected with a message naming it (and the line, where there
is one); a file with some broken rows is read, and those rows are handed on as row
problems so they are quarantined with the contract's violations.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from hypercare.contract import ROW_PROBLEM_SCHEMA, Contract, ContractError
from hypercare.exports import MANIFEST_NAME, Manifest, ManifestError

SOURCE_FORMATS = ("csv", "parquet")
_HEADER_PROBE_BYTES = 1 << 20
_DIALECT_HINTS = {";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass(frozen=True)
class SourceFile:
    """What the folder holds for one entity: a usable path, or why there is none."""

    entity: str
    path: Path | None = None
    problem: str | None = None
    manifest_rows: int | None = None

    @property
    def name(self) -> str | None:
        return f"{self.path.parent.name}/{self.path.name}" if self.path else None


@dataclass(frozen=True)
class FolderScan:
    files: dict[str, SourceFile]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceRows:
    """A file's rows as strings, each row's line in the file, and the rows already known broken."""

    frame: pl.DataFrame
    line_numbers: pl.Series | None = None
    row_problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ROW_PROBLEM_SCHEMA))


def _kind(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "not a regular file"


def scan_folder(folder: Path, contract: Contract) -> FolderScan:
    """Match the folder's entries to contract entities, checking them against its manifest."""
    try:
        entries = {entry.name: Path(entry.path) for entry in os.scandir(folder)}
    except OSError as exc:
        raise ValueError(f"snapshot folder {folder} cannot be listed: {exc}") from exc
    warnings: list[str] = []
    try:
        manifest = Manifest.read(folder)
    except ManifestError as exc:
        rejected = {e.name: SourceFile(e.name, problem=f"{exc}: the export cannot be trusted") for e in contract}
        return FolderScan(rejected)

    expected = {f"{entity.name}.{ext}" for entity in contract for ext in SOURCE_FORMATS}
    files: dict[str, SourceFile] = {}
    for entity in contract:
        own = [f"{entity.name}.{ext}" for ext in SOURCE_FORMATS]
        exact = [name for name in own if name in entries]
        misspelt = [name for name in entries if name.lower() in own and name not in own]
        files[entity.name] = _source_file(folder, entity.name, exact, misspelt, entries, manifest)

    for name in sorted(set(entries) - expected - {MANIFEST_NAME}):
        if not name.startswith(".") and name.lower() not in expected:
            warnings.append(f"{folder.name}/{name}: not an entity file of the contract; ignored")
    if manifest:
        for name in sorted(set(manifest.rows) - expected):
            warnings.append(f"{folder.name}/{MANIFEST_NAME}: lists {name}, which is not an entity file; ignored")
    return FolderScan(files, tuple(warnings))


def _source_file(
    folder: Path, entity: str, exact: list[str], misspelt: list[str], entries: dict[str, Path], manifest
) -> SourceFile:
    where = folder.name
    if misspelt:
        return SourceFile(
            entity, problem=f"{where}/{misspelt[0]}: entity file names are lower case ({entity}.csv or .parquet)"
        )
    if len(exact) > 1:
        return SourceFile(entity, problem=f"{where}: both {exact[0]} and {exact[1]} present; keep one per entity")
    listed = manifest.rows.get(exact[0]) if manifest and exact else None
    if manifest and not exact:
        missing = [(n, manifest.rows[n]) for n in (f"{entity}.{ext}" for ext in SOURCE_FORMATS) if n in manifest.rows]
        if missing and missing[0][1] > 0:
            name, rows = missing[0]
            return SourceFile(entity, problem=f"{where}/{name}: listed in {MANIFEST_NAME} ({rows} rows) but missing")
        return SourceFile(entity)
    if not exact:
        return SourceFile(entity)
    path = entries[exact[0]]
    kind = _kind(path)
    if kind != "a regular file":
        return SourceFile(entity, problem=f"{where}/{path.name}: is {kind}, not an entity file")
    if manifest and listed is None:
        return SourceFile(entity, problem=f"{where}/{path.name}: not listed in {MANIFEST_NAME} (stray or partial file)")
    return SourceFile(entity, path=path, manifest_rows=listed)


def read_source_file(path: Path, name: str) -> SourceRows:
    """The file's rows with nothing inferred: CSV cells as strings, Parquet columns as stored."""
    if path.suffix == ".parquet":
        try:
            return SourceRows(pl.read_parquet(path))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ContractError(f"{name}: cannot be read as Parquet: {exc}") from exc
    return read_csv(path, name)


def _header(path: Path, name: str) -> list[str]:
    with path.open("rb") as handle:
        probe = handle.read(_HEADER_PROBE_BYTES)
    if not probe.strip():
        raise ContractError(f"{name}: empty file (no header row)")
    try:
        text = probe.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < probe.find(b"\n") or b"\n" not in probe:
            raise ContractError(f"{name}: line 1, byte {exc.start + 1}: header is not UTF-8") from None
        text = probe[: exc.start].decode("utf-8-sig")
    try:
        header = next(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ContractError(f"{name}: line 1: header is not valid CSV ({exc})") from None
    if any(ch < " " or ch == "\x7f" for column in header for ch in column if ch != "\t"):
        raise ContractError(f"{name}: line 1: the header holds control characters (binary data, not CSV?)")
    seen: dict[str, int] = {}
    for position, column in enumerate(header, start=1):
        if column in seen:
            raise ContractError(
                f"{name}: line 1: column {column!r} appears twice in the header (columns {seen[column]} and {position})"
            )
        seen[column] = position
    if len(header) == 1:
        for separator, label in _DIALECT_HINTS.items():
            if separator in header[0]:
                raise ContractError(
                    f"{name}: line 1: one column {header[0][:80]!r}; the file looks {label}-separated,"
                    " the contract wants commas"
                )
    return header


def read_csv(path: Path, name: str) -> SourceRows:
    """Read a CSV fast with polars; when polars refuses it, read it row by row to say where and why.

    Rows with more fields than the header, or with bytes that are not UTF-8, become row
    problems (quarantined with their line); a row with fewer fields reads its missing
    trailing cells as empty, like an empty cell.
    """
    header = _header(path, name)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except pl.exceptions.NoDataError as exc:
        raise ContractError(f"{name}: empty file (no header row)") from exc
    except (pl.exceptions.PolarsError, OSError):
        return _read_csv_row_by_row(path, name, header)
    return SourceRows(frame, _line_numbers(frame))


def _line_numbers(frame: pl.DataFrame) -> pl.Series:
    """The line each row starts on (header = line 1), counting newlines inside quoted cells."""
    first = pl.int_range(2, frame.height + 2, dtype=pl.Int64, eager=True)
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not strings or frame.height == 0:
        return first
    newlines = frame.select(
        pl.sum_horizontal(pl.col(strings).str.count_matches("\n", literal=True).fill_null(0)).alias("n")
    )["n"]
    if not newlines.sum():
        return first
    return first + newlines.cum_sum().shift(1, fill_value=0).cast(pl.Int64)


def _read_csv_row_by_row(path: Path, name: str, header: list[str]) -> SourceRows:
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    width = len(header)
    rows: list[list[str | None]] = []
    lines: list[int] = []
    problems: list[tuple[int, str | None, str, str]] = []
    line = 1
    try:
        next(reader)
        line = reader.line_num + 1
        for record in reader:
            row_number = len(rows) + 1
            if len(record) > width:
                extra = _shown(",".join(record[width:]))
                problems.append((row_number, None, extra, f"{len(record)} fields, the header has {width}"))
            cells = [_decoded(cell, row_number, header, i, problems) for i, cell in enumerate(record[:width])]
            rows.append(cells + [None] * (width - len(cells)))
            lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        # An unclosed quote is only noticed where the data ends: name the line its record starts on.
        where = (
            f"line {line}" if reader.line_num <= line else f"line {line} (a record running to line {reader.line_num})"
        )
        raise ContractError(f"{name}: {where}: not valid CSV ({exc})") from None
    frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    frame = frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in header)
    return SourceRows(
        frame,
        pl.Series(lines, dtype=pl.Int64),
        pl.DataFrame(problems, schema=ROW_PROBLEM_SCHEMA, orient="row"),
    )


def _decoded(cell: str, row_number: int, header: list[str], index: int, problems: list) -> str:
    """The cell with undecodable bytes replaced, recording the row as a problem when there were any."""
    try:
        cell.encode("utf-8")
    except UnicodeEncodeError:
        problems.append((row_number, header[index], _shown(cell), "not UTF-8"))
        return cell.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    return cell


def _shown(text: str) -> str:
    """`text` as read with undecodable bytes kept, with those bytes spelled as escapes."""
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
