"""A copy of each landed entity on local disk, beside landing, for the day's readers.

Ten evaluation tasks read a day's entities, most of them the deals and projects, and
reading them back from landing by COPY cost about a quarter of a 100k day's evaluation;
the loader already holds the typed rows, so it writes each entity once as an Arrow IPC
file (lz4) and the readers take it from there (docs/benchmarks.md, eleventh round).

Landing stays the record: a file is named by the load that wrote it
(`hypercare.load_runs.load_id`), and a reader asks the store for the current load first,
so a reload, a load that rolled back, or another database never matches a stale file. A
file that is missing, unreadable, or whose columns or row count differ from what the
store says is ignored, and the reader goes to landing. `HYPERCARE_SNAPSHOT_CACHE` names
the folder (default `snapshots/` in `HYPERCARE_HOME`, a volume every Airflow service shares
in docker-compose.yaml); `off` turns the copies off. Workers on machines of their own
without a shared folder simply read landing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)

ENV = "HYPERCARE_SNAPSHOT_CACHE"
# What reading or writing a copy can raise: a damaged file can make polars panic, which
# Python sees as a BaseException.
_COPY_ERRORS = (OSError, pl.exceptions.PolarsError, pl.exceptions.PanicException)


@dataclass(frozen=True)
class SnapshotCache:
    """Where the copies live (None: no copies), and how many loads' copies to keep: the
    day's evaluation reads the latest; a backfill's older days read landing."""

    root: Path | None
    keep: int = 4

    @classmethod
    def from_env(cls) -> SnapshotCache:
        from hypercare.db import hypercare_home

        setting = os.environ.get(ENV, "")
        if setting.lower() == "off":
            return cls(None)
        return cls(Path(setting) if setting else hypercare_home() / "snapshots")

    def _file(self, load_id: str, entity: str) -> Path:
        return self.root / load_id / f"{entity}.arrow"

    def write(self, load_id: str, entity: str, frame: pl.DataFrame) -> None:
        """Write `frame` as the copy of `entity` for load `load_id`; a reader sees the whole
        file or none. A failure is logged, never raised: the load itself is in landing."""
        if self.root is None:
            return
        path = self._file(load_id, entity)
        partial = path.with_name(f".{path.name}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_ipc(partial, compression="lz4")
            partial.replace(path)
        except _COPY_ERRORS as exc:
            log.warning("no local copy of %s for load %s: %s", entity, load_id, exc)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def read(self, load_id: str, entity: str, schema: dict[str, pl.DataType], rows: int) -> pl.DataFrame | None:
        """The copy of `entity` for load `load_id` if it holds `rows` rows of exactly
        `schema`, else None."""
        if self.root is None:
            return None
        try:
            frame = pl.read_ipc(self._file(load_id, entity))
        except FileNotFoundError:
            return None
        except _COPY_ERRORS as exc:
            log.warning("local copy of %s for load %s unreadable (%s); reading landing", entity, load_id, exc)
            return None
        if frame.schema != pl.Schema(schema) or frame.height != rows:
            log.warning("local copy of %s for load %s does not match the store; reading landing", entity, load_id)
            return None
        return frame

    def prune(self) -> None:
        """Keep the copies of the `keep` most recently written loads. Only folders named by
        a load identifier are touched, whatever else the folder holds; a failure is logged."""
        if self.root is None:
            return
        try:
            loads = sorted(
                (entry for entry in self.root.iterdir() if entry.is_dir() and _is_load_id(entry.name)),
                key=_mtime_or_zero,
                reverse=True,
            )
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("local copies in %s not pruned: %s", self.root, exc)
            return
        for stale in loads[self.keep :]:
            shutil.rmtree(stale, ignore_errors=True)


def _is_load_id(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def _mtime_or_zero(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
