"""The source data contract as small, typed config objects.

`include/schemas/contract.yaml` is the single source of truth; this module reads it so
the loader, the landing tables and the rules all agree on names, types and keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from hypercare import INCLUDE_DIR

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
class Entity:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    order: tuple[OrderCheck, ...] = field(default=())

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
    entities = {
        name: Entity(
            name=name,
            key=tuple(spec["key"]),
            columns=tuple(_column(col, colspec) for col, colspec in spec["columns"].items()),
            order=tuple(OrderCheck(o["column"], o["not_before"]) for o in spec.get("order", ())),
        )
        for name, spec in raw["entities"].items()
    }
    return Contract(entities=entities, reason_codes=tuple(raw["reason_codes"]))


@cache
def load_contract() -> Contract:
    return parse_contract(CONTRACT_FILE)
