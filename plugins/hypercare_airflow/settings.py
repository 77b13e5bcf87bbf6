"""What the DAG files need while parsing, read from the rules file with plain YAML.

The `hypercare` package (polars, pandera) loads only inside tasks, where the rules file is
parsed and validated in full (`hypercare.ruleset.IngestSettings` holds the same defaults).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = Path(os.environ.get("HYPERCARE_RULES_FILE") or PROJECT_ROOT / "include" / "rules.yaml")


@dataclass(frozen=True)
class DagSettings:
    """The business timezone, the ingest schedule and wait, the deadline and who is told."""

    timezone: str = "UTC"
    first_snapshot: dt.date = dt.date(2026, 11, 2)
    catchup: bool = False
    export_poll: dt.timedelta = dt.timedelta(minutes=5)
    export_wait: dt.timedelta = dt.timedelta(hours=12)
    evaluated_by: dt.time = dt.time(9, 0)
    notify_slack_channel: str | None = None
    notify_email: tuple[str, ...] = ()

    @property
    def evaluation_deadline(self) -> dt.timedelta:
        """From the start of snapshot day D (a run's logical date) to `evaluated_by` on D + 1."""
        return dt.timedelta(days=1, hours=self.evaluated_by.hour, minutes=self.evaluated_by.minute)


@cache
def dag_settings(path: Path = RULES_FILE) -> DagSettings:
    content = yaml.safe_load(Path(path).read_text()) or {}
    ingest = content.get("ingest") or {}
    notify = (content.get("operations") or {}).get("notify") or {}
    defaults = DagSettings()
    return DagSettings(
        timezone=str((content.get("calendar") or {}).get("timezone", defaults.timezone)),
        first_snapshot=dt.date.fromisoformat(str(ingest.get("first_snapshot", defaults.first_snapshot))),
        catchup=bool(ingest.get("catchup", defaults.catchup)),
        export_poll=dt.timedelta(minutes=float(ingest.get("export_poll_minutes", 5))),
        export_wait=dt.timedelta(hours=float(ingest.get("export_wait_hours", 12))),
        evaluated_by=dt.time.fromisoformat(str(ingest.get("evaluated_by", defaults.evaluated_by))),
        notify_slack_channel=notify.get("slack_channel"),
        notify_email=tuple(notify.get("email") or ()),
    )
