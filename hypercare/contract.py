"""The source data contract as small, typed config objects.

`include/schemas/contract.yaml` is the single source of truth; this module reads it so
the loader, the landing tables and the rules all agree on names, types and keys.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import yaml

from hypercare import INCLUDE_DIR

if TYPE_CHECKING:
    import pandera.polars as pa

CONTRACT_FILE = INCLUDE_DIR / "schemas" / "contract.yaml"

SQL_TYPES = {
    "str": "text",
    "enum": "text",
    "int": "bigint",
    "decimal": "numeric",
    "bool": "boolean",
    "date": "date",
    "ts": "timestamptz",
    "list": "text[]",
}


@dataclass(frozen=True)
class ConditionalRequirement:
    """The column is required when `column` holds one of `values`."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    values: tuple[str, ...] = ()
    required_when: ConditionalRequirement | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class OrderCheck:
    """`column` must not be earlier than `not_before` when both are set."""

    column: str
    not_before: str


@dataclass(frozen=True)
class Limits:
    """Bounds on values the store and the people reading alerts can take (contract.yaml `limits`)."""

    earliest: dt.date = dt.date(1900, 1, 1)
    latest: dt.date = dt.date(2199, 12, 31)
    identifier_max_length: int = 200
    text_max_length: int = 20_000

    @classmethod
    def from_config(cls, config: dict) -> Limits:
        unknown = set(config) - {"earliest", "latest", "identifier_max_length", "text_max_length"}
        if unknown:
            raise ValueError(f"contract limits: unknown setting(s) {sorted(unknown)}")
        dates = {k: dt.date.fromisoformat(str(config[k])) for k in ("earliest", "latest") if k in config}
        sizes = {k: int(config[k]) for k in ("identifier_max_length", "text_max_length") if k in config}
        return cls(**dates, **sizes)


@dataclass(frozen=True)
class Entity:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    order: tuple[OrderCheck, ...] = field(default=())
    limits: Limits = field(default_factory=Limits)

    def is_identifier(self, column: Column) -> bool:
        """Key columns and *_id columns: short, and free of control characters."""
        return column.type == "str" and (column.name in self.key or column.name.endswith("_id"))

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Columns whose absence from a file rejects the whole file."""
        return [c.name for c in self.columns if c.required]

    @property
    def landing_table(self) -> str:
        return f"hypercare.landing_{self.name}"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Contract:
    entities: dict[str, Entity]
    reason_codes: tuple[str, ...]

    def __getitem__(self, name: str) -> Entity:
        return self.entities[name]

    def __iter__(self):
        return iter(self.entities.values())


def _column(name: str, spec: dict) -> Column:
    when = spec.get("required_when")
    return Column(
        name=name,
        type=spec["type"],
        required=bool(spec.get("required", False)),
        values=tuple(spec.get("values", ())),
        required_when=ConditionalRequirement(when["column"], tuple(when["in"])) if when else None,
        min=spec.get("min"),
        max=spec.get("max"),
        pattern=spec.get("pattern"),
    )


def parse_contract(path: Path) -> Contract:
    raw = yaml.safe_load(path.read_text())
    limits = Limits.from_config(raw.get("limits") or {})
    entities = {
        name: Entity(
            name=name,
            key=tuple(spec["key"]),
            columns=tuple(_column(col, colspec) for col, colspec in spec["columns"].items()),
            order=tuple(OrderCheck(o["column"], o["not_before"]) for o in spec.get("order", ())),
            limits=limits,
        )
        for name, spec in raw["entities"].items()
    }
    return Contract(entities=entities, reason_codes=tuple(raw["reason_codes"]))


@cache
def load_contract() -> Contract:
    return parse_contract(CONTRACT_FILE)


# Checking a source file against the contract. Values are checked in the form the file
# holds them (strings), so every violation is reported with the exact failing value; the
# same parse expressions then type the good rows, so "passes" and "parses" never disagree.

POLARS_TYPES: dict[str, pl.DataType] = {
    "str": pl.String(),
    "enum": pl.String(),
    "int": pl.Int64(),
    "decimal": pl.Float64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "ts": pl.Datetime("us", "UTC"),
    "list": pl.List(pl.String()),
}

LIST_SEPARATOR = ";"
NOT_NULL_REASON = "null in required column"
_PANDERA_NOT_NULL = "not_nullable"
_PANDERA_UNIQUE = "multiple_fields_uniqueness"
# The screen's flag column, beside the typed columns of a file (never a contract column).
_SUSPECT = "__hypercare_suspect__"
# Prefix of the screen's columns of parsed values (never a contract column).
_PARSED = "__hypercare_parsed__"
# The row position of a value parsed apart from its column (never a contract column).
_ROW = "__hypercare_row__"

_INT = r"^[+-]?\d+$"
_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}$"
# ISO 8601 / RFC 3339 date-times: `T` or space, seconds and fraction optional, and for
# the contract an offset of `Z`, ±hh:mm, ±hhmm or ±hh.
_TS_SHAPE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_TS_WITH_OFFSET = _TS_SHAPE + r"([Zz]|[+-]\d{2}(:?\d{2})?)$"
_TS_NAIVE = _TS_SHAPE + "$"
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"
_TS_FORMATS = (_TS_FORMAT, "%Y-%m-%dT%H:%M")
# The spelling most exports use, which polars parses on a fast path of its own.
_TS_COMMON = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_TS_COMMON_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

TYPE_REASONS = {
    "int": "not a valid int",
    "decimal": "not a valid decimal",
    "bool": "not a valid bool (expected true or false)",
    "date": "not a valid date (expected YYYY-MM-DD)",
    "ts": "not a valid timestamp",
}
TS_WITHOUT_OFFSET_REASON = "timestamp without offset"
# A type only checks parse as: a well-formed timestamp that lacks the contract's offset.
NAIVE_TS = "ts without offset"
NUL_REASON = "contains a NUL character"
NOT_FINITE_REASON = "not a finite number"
UNDERFLOW_REASON = "too small to represent (would round to 0)"
CONTROL_REASON = "control character (newline, tab, ...) in an identifier"
# A decimal whose mantissa has a non-zero digit; if it parses as 0 it underflowed.
_NONZERO_MANTISSA = r"^[+-]?\d*\.?\d*[1-9]"
_CONTROL_CHARACTERS = r"[\x00-\x1f\x7f]"
# Quarantined values are kept short and printable: the full row is in `record`.
QUARANTINE_VALUE_CHARS = 500


class ContractError(ValueError):
    """A source file that cannot be checked row by row (e.g. a required column is missing).

    The whole file is rejected: nothing from it is loaded.
    """


@dataclass(frozen=True)
class ValidationResult:
    """Typed good rows plus one quarantine row per failed check per source row."""

    good: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int

    @property
    def rows_loaded(self) -> int:
        return self.good.height

    @property
    def rows_quarantined(self) -> int:
        return self.quarantine["row_number"].n_unique()


QUARANTINE_SCHEMA = {
    "row_number": pl.Int64(),
    "line_number": pl.Int64(),
    "column_name": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}
# Problems found while reading a file (too many fields, bytes that are not UTF-8), one
# row per affected source row; such rows are quarantined with the contract's violations.
ROW_PROBLEM_SCHEMA = {"row_number": pl.Int64(), "column_name": pl.String(), "value": pl.String(), "reason": pl.String()}


def printable(value: pl.Expr, limit: int = QUARANTINE_VALUE_CHARS) -> pl.Expr:
    """A source value safe to store and show: NUL spelled out, and cut to `limit` characters."""
    visible = value.str.replace_all("\x00", "\\0", literal=True)
    return (
        pl.when(visible.str.len_chars() > limit)
        .then(visible.str.slice(0, limit) + pl.lit(" … (") + visible.str.len_chars().cast(pl.String) + " characters)")
        .otherwise(visible)
    )


def polars_schema(entity: Entity) -> dict[str, pl.DataType]:
    """Contract columns of `entity` with the polars dtype every reader gets them in."""
    return {c.name: POLARS_TYPES[c.type] for c in entity.columns}


def _parse_ts(value: pl.Expr, *, with_offset: bool) -> pl.Expr:
    """Timestamps with an offset (as UTC), or without one (naive); null otherwise."""
    at_once, needs_formats, by_formats = _ts_stages(value, with_offset=with_offset)
    return pl.when(needs_formats).then(by_formats).otherwise(at_once)


def _ts_stages(value: pl.Expr, *, with_offset: bool) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """A timestamp parse in two stages: what every value gets at once, which values need
    the general formats, and their parse by those formats.

    Exports mostly spell a timestamp one way, to the second in UTC (`2026-11-02T09:30:00Z`).
    polars parses that exact spelling several times faster than the general formats,
    so it is read first and the general formats are for the other values: the load's
    contract check spends most of its time on timestamps (docs/benchmarks.md, tenth and
    thirteenth rounds). A naive timestamp has no such spelling: every value that may be
    one goes to the formats, which check its shape. A value ending in `Z` cannot be one,
    and that test is cheap: the common spelling never reaches the formats.
    """
    if not with_offset:
        nothing = pl.lit(None, pl.Datetime("us"))
        return nothing, ~value.str.ends_with("Z"), _parse_any_ts(value, with_offset=False)
    is_common = value.str.contains(_TS_COMMON)
    common = value.str.to_datetime(_TS_COMMON_FORMAT, time_unit="us", time_zone="UTC", strict=False)
    return pl.when(is_common).then(common), ~is_common, _parse_any_ts(value, with_offset=True)


def _ts_shape(value: pl.Expr, *, with_offset: bool) -> pl.Expr:
    """True where the value is spelled as a timestamp with (or without) an offset; it may still not parse."""
    return value.str.replace(" ", "T", literal=True).str.contains(_TS_WITH_OFFSET if with_offset else _TS_NAIVE)


def _parse_any_ts(value: pl.Expr, *, with_offset: bool) -> pl.Expr:
    """`_parse_ts` by the general formats alone, for every spelling the contract accepts."""
    text = value.str.replace(" ", "T", literal=True)
    zone, time_zone = ("%#z", "UTC") if with_offset else ("", None)
    parsed = pl.coalesce(
        text.str.to_datetime(fmt + zone, time_unit="us", time_zone=time_zone, strict=False) for fmt in _TS_FORMATS
    )
    return pl.when(_ts_shape(value, with_offset=with_offset)).then(parsed)


def parse_value(type_: str, value: pl.Expr) -> pl.Expr:
    """Typed value of a source string; null when it is null or does not parse."""
    if type_ in ("str", "enum"):
        return value
    if type_ == "int":
        return pl.when(value.str.contains(_INT)).then(value.cast(pl.Int64, strict=False))
    if type_ == "decimal":
        # As the store keeps a decimal (numeric): with no negative zero.
        number = value.cast(pl.Float64, strict=False)
        return pl.when(value.str.contains(_DECIMAL)).then(pl.when(number == 0).then(0.0).otherwise(number))
    if type_ == "bool":
        return pl.when(value == "true").then(True).when(value == "false").then(False)
    if type_ == "date":
        return pl.when(value.str.contains(_DATE)).then(value.str.to_date("%Y-%m-%d", strict=False))
    if type_ == "ts":
        return _parse_ts(value, with_offset=True)
    if type_ == NAIVE_TS:
        return _parse_ts(value, with_offset=False)
    if type_ == "list":
        items = value.str.split(LIST_SEPARATOR).list.eval(
            pl.element().str.strip_chars().filter(pl.element().str.strip_chars() != "")
        )
        return pl.when(items.list.len() > 0).then(items)
    raise ValueError(f"unknown contract type {type_!r}")


# How a check reads a column as its contract type: `parse(type, column)`.
Parse = Callable[[str, pl.Expr], pl.Expr]


@dataclass(frozen=True)
class RowCheck:
    """One contract rule on one column, as a polars predicate over the row.

    The predicate receives the column and a `Parse` for typed values (of it or of other
    columns of the row); a null result counts as passing, so a rule only judges the rows it
    applies to. The same predicate feeds the pandera schema, which parses as it goes, and
    the one-pass screen in `validate`, which hands it the values it parsed once.
    """

    predicate: Callable[[pl.Expr, Parse], pl.Expr]
    reason: str

    def as_pandera(self) -> pa.Check:
        import pandera.polars as pa

        predicate = self.predicate
        return pa.Check(lambda data: data.lazyframe.select(predicate(pl.col(data.key), parse_value)), error=self.reason)


def _type_checks(column: Column) -> list[RowCheck]:
    if column.type in ("str", "list"):
        return []
    if column.type == "enum":
        allowed = list(column.values)
        return [RowCheck(lambda v, _parse: v.is_in(allowed), f"not one of: {', '.join(column.values)}")]
    reason = TYPE_REASONS[column.type]
    if column.type == "ts":
        return [
            RowCheck(lambda v, parse: parse(NAIVE_TS, v).is_null(), TS_WITHOUT_OFFSET_REASON),
            RowCheck(
                lambda v, parse: v.is_null() | parse("ts", v).is_not_null() | parse(NAIVE_TS, v).is_not_null(), reason
            ),
        ]
    type_ = column.type
    return [RowCheck(lambda v, parse: v.is_null() | parse(type_, v).is_not_null(), reason)]


def _number(x: float) -> str:
    return f"{x:g}"


def _limit_checks(entity: Entity, column: Column) -> list[RowCheck]:
    """Checks for values PostgreSQL or a message reader could not take; see contract.yaml `limits`."""
    limits, type_ = entity.limits, column.type
    checks = [RowCheck(lambda v, _parse: ~v.str.contains("\x00", literal=True), NUL_REASON)]
    if type_ in ("date", "ts"):
        low, high = limits.earliest, limits.latest + dt.timedelta(days=1)
        if type_ == "ts":
            low, high = (dt.datetime.combine(day, dt.time(), dt.UTC) for day in (low, high))

        def in_range(v: pl.Expr, parse: Parse) -> pl.Expr:
            return (parse(type_, v) >= low) & (parse(type_, v) < high)

        checks.append(RowCheck(in_range, f"outside the supported range {limits.earliest}..{limits.latest}"))
    elif type_ == "decimal":
        checks.append(RowCheck(lambda v, parse: parse(type_, v).is_finite(), NOT_FINITE_REASON))
        checks.append(
            RowCheck(lambda v, parse: (parse(type_, v) != 0) | ~v.str.contains(_NONZERO_MANTISSA), UNDERFLOW_REASON)
        )
    elif entity.is_identifier(column):
        longest = limits.identifier_max_length
        checks.append(RowCheck(lambda v, _parse: v.str.len_chars() <= longest, f"identifier longer than {longest}"))
        checks.append(RowCheck(lambda v, _parse: ~v.str.contains(_CONTROL_CHARACTERS), CONTROL_REASON))
    elif type_ in ("str", "list"):
        longest = limits.text_max_length
        checks.append(RowCheck(lambda v, _parse: v.str.len_chars() <= longest, f"text longer than {longest}"))
    return checks


@cache
def row_checks(entity: Entity, column: Column) -> tuple[RowCheck, ...]:
    """Every rule the contract sets on one column, in the order they are reported."""
    checks = _type_checks(column) + _limit_checks(entity, column)
    type_ = column.type
    if column.min is not None:
        low = column.min
        checks.append(RowCheck(lambda v, parse: parse(type_, v) >= low, f"less than minimum {_number(low)}"))
    if column.max is not None:
        high = column.max
        checks.append(RowCheck(lambda v, parse: parse(type_, v) <= high, f"more than maximum {_number(high)}"))
    if column.pattern is not None:
        # As pandera's str_matches: the value must start with a match.
        anchored = column.pattern if column.pattern.startswith("^") else f"^{column.pattern}"
        checks.append(RowCheck(lambda v, _parse: v.str.contains(anchored), f"does not match {column.pattern}"))
    if column.required_when is not None:
        when = column.required_when
        checks.append(
            RowCheck(
                lambda v, _parse: v.is_not_null() | ~pl.col(when.column).is_in(list(when.values)),
                f"required when {when.column} in ({', '.join(when.values)})",
            )
        )
    for order in entity.order:
        if order.column != column.name:
            continue
        earlier = entity.column(order.not_before)
        checks.append(
            RowCheck(
                lambda v, parse, earlier=earlier: parse(type_, v) >= parse(earlier.type, pl.col(earlier.name)),
                f"{order.column} before {order.not_before}",
            )
        )
    return tuple(checks)


@cache
def pandera_schema(entity: Entity) -> pa.DataFrameSchema:
    """The executable contract of one entity, over the file's values as strings.

    Columns are strings because a source file holds strings; each column's checks
    establish that its values parse as the contract type and meet its rules, and
    `unique` is the entity key (every copy of a duplicated key fails). pandera is imported
    here, not with the module: the evaluation's task processes read the contract but never
    validate, and importing pandera costs each of them 0.4 s.
    """
    import pandera.polars as pa

    columns = {
        c.name: pa.Column(
            pl.String,
            checks=[check.as_pandera() for check in row_checks(entity, c)],
            nullable=not c.required,
            name=c.name,
        )
        for c in entity.columns
    }
    return pa.DataFrameSchema(columns, unique=list(entity.key), strict=False, name=entity.name)


def _as_strings(entity: Entity, raw: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Every column as the string a CSV cell would hold; empty strings become null.

    Typed (Parquet) columns are spelled the way the contract reads them; a naive
    datetime is spelled without an offset so the contract rejects it, never reads it
    as UTC.
    """
    int_columns = {c.name for c in entity.columns if c.type == "int"}
    exprs = []
    for name, dtype in raw.schema.items():
        col = pl.col(name)
        if dtype == pl.String:
            expr = col
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone is None:
                expr = col.dt.strftime(_TS_FORMAT)
            else:
                expr = col.dt.convert_time_zone("UTC").dt.strftime(f"{_TS_FORMAT}%:z")
        elif isinstance(dtype, pl.List | pl.Array):
            expr = col.cast(pl.List(pl.String)).list.join(LIST_SEPARATOR)
        elif dtype.is_float() and name in int_columns:
            whole = col.cast(pl.Int64, strict=False).cast(pl.String)
            expr = pl.when(col.is_finite() & (col == col.round())).then(whole).otherwise(col.cast(pl.String))
        elif isinstance(dtype, pl.Struct):
            expr = col.struct.json_encode()
        else:
            expr = col.cast(pl.String)
        exprs.append(pl.when(expr != "").then(expr).alias(name))
    try:
        return raw.select(exprs)
    except pl.exceptions.PolarsError as exc:
        raise ContractError(f"{source_file}: cannot read columns as contract values: {exc}") from exc


def _failure_rows(entity: Entity, frame: pl.DataFrame, failures: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Pandera failure cases as quarantine rows keyed by source row number."""
    unmapped = failures.filter(pl.col("index").is_null())
    if unmapped.height:
        first = unmapped.row(0, named=True)
        raise ContractError(
            f"{source_file}: check {first['check']} failed on column {first['column']}: {first['failure_case']}"
        )
    rows = frame.with_row_index("index").select(
        pl.col("index").cast(pl.Int64),
        pl.col("_source_row").alias("row_number"),
        pl.concat_str(list(entity.key), separator=", ", ignore_nulls=True).alias("_key_value"),
    )
    is_duplicate = pl.col("check") == _PANDERA_UNIQUE
    single_key = entity.key[0] if len(entity.key) == 1 else None
    return (
        failures.with_columns(pl.col("index").cast(pl.Int64))
        .join(rows, on="index", how="left")
        .select(
            "row_number",
            pl.when(is_duplicate).then(pl.lit(single_key, pl.String)).otherwise(pl.col("column")).alias("column_name"),
            pl.when(is_duplicate).then(pl.col("_key_value")).otherwise(pl.col("failure_case")).alias("value"),
            pl.when(is_duplicate)
            .then(pl.lit(f"duplicate key ({', '.join(entity.key)})"))
            .when(pl.col("check") == _PANDERA_NOT_NULL)
            .then(pl.lit(NOT_NULL_REASON))
            .otherwise(pl.col("check"))
            .alias("reason"),
        )
    )


def _suspect_rows(entity: Entity, frame: pl.DataFrame, parse: Parse) -> pl.Expr:
    """Rows that may fail the pandera schema, computed in one pass over the frame.

    A row is suspect when any check's predicate is false, a required value is null, or
    its key occurs more than once; every copy of a duplicated key is suspect, so the
    schema judges the suspects alone exactly as it would judge the whole frame.
    """
    failing = [
        ~check.predicate(pl.col(c.name), parse).fill_null(True)
        for c in entity.columns
        for check in row_checks(entity, c)
    ]
    missing = [pl.col(c.name).is_null() for c in entity.columns if c.required]
    return pl.any_horizontal(*failing, *missing, pl.lit(False)) | pl.Series(frame.select(entity.key).is_duplicated())


def _screened(
    entity: Entity, source: pl.DataFrame, frame: pl.DataFrame, extra: list[str], *, screen: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every row typed as the contract says, and the rows pandera must judge.

    Checking a clean file with pandera costs one collect per check; the screen finds the
    rows that can fail, and pandera then reports on those rows only. Each value is parsed
    once, into a column of its own, which every check that reads it as its type and the
    typed column share: left to polars, a timestamp read by several checks was parsed
    more than once (docs/benchmarks.md, tenth round).
    """
    extra_json = pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.String)

    def typed(parse: Parse) -> list[pl.Expr | str]:
        columns = (parse(c.type, pl.col(c.name)).cast(POLARS_TYPES[c.type]).alias(c.name) for c in entity.columns)
        return [*columns, "_source_row", extra_json.alias("_extra")]

    if not screen:
        return source.select(typed(parse_value)), frame
    parsed_as = {(c.name, c.type): f"{_PARSED}{c.name}" for c in entity.columns if c.type not in ("str", "enum")}
    parsed_as |= {(c.name, NAIVE_TS): f"{_PARSED}naive_{c.name}" for c in entity.columns if c.type == "ts"}

    def parsed(type_: str, value: pl.Expr) -> pl.Expr:
        name = value.meta.output_name() if value.meta.is_column() else None
        if (name, type_) in parsed_as:
            return pl.col(parsed_as[name, type_])
        return parse_value(type_, value)

    # When a predicate cannot run, pandera over every row says which one.
    with contextlib.suppress(pl.exceptions.PolarsError):
        values = _parsed_once(source, parsed_as)
        both = values.lazy().select(*typed(parsed), _suspect_rows(entity, frame, parsed).alias(_SUSPECT)).collect()
        return both.drop(_SUSPECT), frame.filter(both[_SUSPECT])
    return source.select(typed(parse_value)), frame


def _parsed_once(source: pl.DataFrame, parsed_as: dict[tuple[str, str], str]) -> pl.DataFrame:
    """`source` with each (column, type) of `parsed_as` parsed into a column of that name.

    A timestamp's general formats are parsed only on the values that need them: most
    exports spell every timestamp the common way, and polars evaluates both branches of a
    `when` over every row, so a clean file's timestamps cost as much again in formats none
    of its values needed (docs/benchmarks.md, thirteenth round).
    """
    first, masks, later = [], [], []
    for (name, type_), out in parsed_as.items():
        if type_ not in ("ts", NAIVE_TS):
            first.append(parse_value(type_, pl.col(name)).alias(out))
            continue
        at_once, needs_formats, by_formats = _ts_stages(pl.col(name), with_offset=type_ == "ts")
        first.append(at_once.alias(out))
        mask = f"{_PARSED}mask_{out}"
        masks.append(needs_formats.fill_null(False).alias(mask))
        later.append((mask, by_formats.alias(out)))
    values = source.with_columns(*first, *masks)
    for mask, parse in later:
        others = values.lazy().with_row_index(_ROW).filter(pl.col(mask)).select(_ROW, parse).collect()
        if others.height:
            out = others.columns[1]
            values = values.with_columns(values[out].scatter(others[_ROW], others[out]))
    return values.drop(mask for mask, _ in later)


def _schema_failures(entity: Entity, frame: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Pandera's failure cases over `frame` as quarantine rows."""
    if frame.is_empty():
        return pl.DataFrame(schema=ROW_PROBLEM_SCHEMA)
    import pandera.polars as pa
    from pandera.config import ValidationDepth, config_context

    try:
        with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
            pandera_schema(entity).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _failure_rows(entity, frame, exc.failure_cases, source_file)
    return pl.DataFrame(schema=ROW_PROBLEM_SCHEMA)


def validate(
    entity: Entity,
    raw: pl.DataFrame,
    source_file: str,
    *,
    line_numbers: pl.Series | None = None,
    row_problems: pl.DataFrame | None = None,
    screen: bool = True,
) -> ValidationResult:
    """Check one source file of `entity` against its pandera schema, row by row.

    Rows that fail any check go to quarantine (one row per failed check) and are kept
    out of `good`; the rest come back typed. `row_problems` are rows the reader already
    found broken; `line_numbers` gives each row's line in the file (CSV). Only a file
    that cannot be checked row by row at all (a required column missing) raises
    `ContractError`. `screen=False` runs pandera over every row (the result is the same).
    """
    missing_required = [name for name in entity.required_columns if name not in raw.columns]
    if missing_required:
        raise ContractError(f"{source_file}: missing required column(s): {', '.join(missing_required)}")
    contract_columns = entity.column_names
    extra = [name for name in raw.columns if name not in contract_columns]
    source = _as_strings(entity, raw, source_file).with_columns(
        *(pl.lit(None, pl.String).alias(n) for n in contract_columns if n not in raw.columns),
        pl.int_range(1, raw.height + 1, dtype=pl.Int64).alias("_source_row"),
    )
    frame = source.select(*contract_columns, "_source_row")
    typed, candidates = _screened(entity, source, frame, extra, screen=screen)
    failures = _schema_failures(entity, candidates, source_file)

    if row_problems is not None and row_problems.height:
        failures = pl.concat([row_problems.cast(ROW_PROBLEM_SCHEMA), failures.cast(ROW_PROBLEM_SCHEMA)])
    bad_rows = failures["row_number"].unique().implode()
    lines = pl.lit(None, pl.Int64) if line_numbers is None else pl.Series(line_numbers, dtype=pl.Int64)
    records = (
        source.with_columns(lines.alias("line_number"))
        .filter(pl.col("_source_row").is_in(bad_rows))
        .select(
            pl.col("_source_row").alias("row_number"),
            "line_number",
            pl.struct(printable(pl.col(c)) for c in raw.columns).struct.json_encode().alias("record"),
        )
    )
    position = {name: i for i, name in enumerate(contract_columns)}
    quarantine = (
        failures.with_columns(printable(pl.col("value")))
        .join(records, on="row_number", how="left")
        .sort(
            "row_number",
            pl.col("column_name").replace_strict(position, default=-1, return_dtype=pl.Int64),
            maintain_order=True,
        )
        .select(list(QUARANTINE_SCHEMA))
        .cast(QUARANTINE_SCHEMA)
    )

    good = typed.filter(~pl.col("_source_row").is_in(bad_rows))
    return ValidationResult(good=good, quarantine=quarantine, rows_read=raw.height)
