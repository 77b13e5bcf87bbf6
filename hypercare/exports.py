"""Is a snapshot folder a complete export? Manifests and readiness.

A source that can write one drops `_manifest.json` into the day's folder after every
entity file is in place. It lists each file and its number of data rows, so the loader
can tell "no rows" from "not copied yet" and a truncated file from a short day:

    {"snapshot_date": "2026-11-02",
     "files": [{"name": "deals.csv", "rows": 375}, {"name": "writebacks.csv", "rows": 0}]}

An entity the manifest does not list has no rows that day. Without a manifest, a folder
is read as it stands (an absent file means "no rows", as the contract says) unless the
ingest settings require one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "_manifest.json"


class ManifestError(ValueError):
    """A manifest that cannot be trusted: the whole snapshot is refused, nothing is loaded."""


@dataclass(frozen=True)
class Manifest:
    """The files one export says it wrote, with their data-row counts."""

    snapshot_date: dt.date
    rows: dict[str, int]

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The folder's manifest, or None when it has none."""
        path = Path(folder) / MANIFEST_NAME
        if not path.exists():
            return None
        where = f"{Path(folder).name}/{MANIFEST_NAME}"
        try:
            content = json.loads(path.read_bytes().decode("utf-8"))
            day = dt.date.fromisoformat(str(content["snapshot_date"]))
            files = content["files"]
            rows = {str(entry["name"]): entry["rows"] for entry in files}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{where}: cannot be read as UTF-8 JSON: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(
                f"{where}: expected {{'snapshot_date': 'YYYY-MM-DD', 'files': [{{'name': ..., 'rows': ...}}]}}"
                f" ({type(exc).__name__}: {exc})"
            ) from exc
        if day.isoformat() != Path(folder).name:
            raise ManifestError(f"{where}: snapshot_date {day} does not match the folder")
        if len(rows) != len(files):
            raise ManifestError(f"{where}: a file is listed twice")
        bad = [
            name for name, count in rows.items() if isinstance(count, bool) or not isinstance(count, int) or count < 0
        ]
        if bad:
            raise ManifestError(f"{where}: rows must be a whole number >= 0 ({', '.join(bad)})")
        return cls(day, rows)

    def write(self, folder: Path) -> Path:
        """Write the manifest last, atomically, as an exporter should."""
        path = Path(folder) / MANIFEST_NAME
        partial = path.with_suffix(".json.partial")
        files = [{"name": name, "rows": count} for name, count in sorted(self.rows.items())]
        partial.write_text(json.dumps({"snapshot_date": self.snapshot_date.isoformat(), "files": files}, indent=1))
        partial.replace(path)
        return path


@dataclass(frozen=True)
class Readiness:
    """Whether a snapshot folder can be loaded now, and if not, why."""

    ready: bool
    detail: str


def export_readiness(source_dir: Path, snapshot_date: dt.date, require_manifest: bool) -> Readiness:
    """Can snapshot `snapshot_date` under `source_dir` be loaded now?

    Waiting (not ready) is for exports still on their way: a missing folder, or a missing
    manifest when the source writes one. A folder that is there but broken is ready: the
    load itself rejects it with the reason, so the problem is reported, not waited on.
    """
    folder = Path(source_dir) / snapshot_date.isoformat()
    if not folder.is_dir():
        return Readiness(False, f"snapshot folder {folder} does not exist yet")
    if (folder / MANIFEST_NAME).exists():
        return Readiness(True, f"{folder} has its {MANIFEST_NAME}")
    if require_manifest:
        return Readiness(False, f"{folder} has no {MANIFEST_NAME} yet (the export writes it last)")
    return Readiness(True, f"{folder} is there (no manifest required)")
