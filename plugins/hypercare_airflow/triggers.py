"""Triggers the ingest DAG defers to: the triggerer polls, no worker slot is held meanwhile.

Each trigger gives up at a fixed instant with an event saying what it was still waiting
for, so the task fails with that message instead of a bare timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class _PollingTrigger(BaseTrigger):
    def __init__(self, snapshot_date: str, poll_seconds: float, give_up_at: str):
        super().__init__()
        self.snapshot_date = snapshot_date
        self.poll_seconds = poll_seconds
        self.give_up_at = give_up_at

    def _kwargs(self) -> dict[str, Any]:
        return {"snapshot_date": self.snapshot_date, "poll_seconds": self.poll_seconds, "give_up_at": self.give_up_at}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    def check(self) -> tuple[bool, str]:
        """(done, what is still missing); runs in a thread."""
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        give_up_at = dt.datetime.fromisoformat(self.give_up_at)
        while True:
            done, detail = await asyncio.to_thread(self.check)
            remaining = (give_up_at - dt.datetime.now(dt.UTC)).total_seconds()
            if done or remaining <= 0:
                yield TriggerEvent({"done": done, "detail": detail, "snapshot_date": self.snapshot_date})
                return
            self.log.info("snapshot %s: %s; next check in %.0f s", self.snapshot_date, detail, self.poll_seconds)
            await asyncio.sleep(min(self.poll_seconds, remaining))


class SnapshotReadyTrigger(_PollingTrigger):
    """Fires once the export of `snapshot_date` can be loaded (hypercare.exports.export_readiness)."""

    def __init__(self, source_dir: str, require_manifest: bool, **kwargs: Any):
        super().__init__(**kwargs)
        self.source_dir = source_dir
        self.require_manifest = require_manifest

    def _kwargs(self) -> dict[str, Any]:
        return {"source_dir": self.source_dir, "require_manifest": self.require_manifest, **super()._kwargs()}

    def check(self) -> tuple[bool, str]:
        from pathlib import Path

        from hypercare.exports import export_readiness

        readiness = export_readiness(
            Path(self.source_dir), dt.date.fromisoformat(self.snapshot_date), self.require_manifest
        )
        return readiness.ready, readiness.detail


class EvaluationFinishedTrigger(_PollingTrigger):
    """Fires once every area has evaluated the snapshot as it was last loaded."""

    def __init__(self, store_url: str, areas: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.store_url = store_url
        self.areas = areas

    def _kwargs(self) -> dict[str, Any]:
        return {"store_url": self.store_url, "areas": self.areas, **super()._kwargs()}

    def check(self) -> tuple[bool, str]:
        from hypercare_airflow.common import missing_evaluations

        missing = missing_evaluations(self.store_url, dt.date.fromisoformat(self.snapshot_date), self.areas)
        return not missing, f"not yet evaluated: {', '.join(missing)}" if missing else "every area evaluated"
