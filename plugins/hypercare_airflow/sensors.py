"""Deferrable waits of the ingest DAG: for the day's export, then for the day's evaluation.

Each checks once in the worker and returns at once when there is nothing to wait for;
otherwise it defers to a trigger (no worker slot held while waiting) and fails with a
message naming what never arrived when the wait runs out. A timed-out wait is not retried.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSensorTimeout

from hypercare_airflow.common import EVALUATED_AREAS, ingest_snapshot_date, missing_evaluations, store_url


class WaitForSnapshot(BaseOperator):
    """Wait until the run's snapshot folder can be loaded (its folder, and its manifest when
    the rules file's `ingest.require_manifest` asks for one)."""

    template_fields = ("source_dir",)
    ui_color = "#e8f0fe"

    def __init__(self, *, source_dir: str, poll: dt.timedelta, wait: dt.timedelta, **kwargs: Any):
        super().__init__(retries=0, **kwargs)
        self.source_dir = source_dir
        self.poll = poll
        self.wait = wait
        self.execution_timeout = wait + poll + dt.timedelta(minutes=10)

    def execute(self, context: dict[str, Any]) -> str:
        from pathlib import Path

        from hypercare.exports import export_readiness
        from hypercare.ruleset import load_ruleset
        from hypercare_airflow.triggers import SnapshotReadyTrigger

        day = ingest_snapshot_date(context)
        require_manifest = load_ruleset(context["params"].get("rules_file") or None).ingest.require_manifest
        readiness = export_readiness(Path(self.source_dir), day, require_manifest)
        if readiness.ready:
            self.log.info("snapshot %s: %s", day, readiness.detail)
            return day.isoformat()
        give_up_at = dt.datetime.now(dt.UTC) + self.wait
        self.log.info("snapshot %s: %s; waiting (deferred) until %s", day, readiness.detail, give_up_at.isoformat())
        self.defer(
            trigger=SnapshotReadyTrigger(
                source_dir=self.source_dir,
                require_manifest=require_manifest,
                snapshot_date=day.isoformat(),
                poll_seconds=self.poll.total_seconds(),
                give_up_at=give_up_at.isoformat(),
            ),
            method_name="resume",
            timeout=self.wait + self.poll + dt.timedelta(minutes=5),
        )

    def resume(self, context: dict[str, Any], event: dict[str, Any]) -> str:
        if not event["done"]:
            raise AirflowSensorTimeout(
                f"snapshot {event['snapshot_date']} did not arrive within {self.wait}: {event['detail']}. "
                "Check the export; then clear this task to wait again (or trigger with another snapshot_date)."
            )
        self.log.info("snapshot %s: %s", event["snapshot_date"], event["detail"])
        return event["snapshot_date"]


class WaitForEvaluation(BaseOperator):
    """Hold the ingest run open until every area has evaluated the snapshot it loaded, so the
    run (and its deadline alert) covers the whole day's evaluation."""

    ui_color = "#e8f0fe"

    def __init__(self, *, poll: dt.timedelta, wait: dt.timedelta, **kwargs: Any):
        super().__init__(retries=0, **kwargs)
        self.poll = poll
        self.wait = wait
        self.execution_timeout = wait + poll + dt.timedelta(minutes=10)

    def execute(self, context: dict[str, Any]) -> str | None:
        from hypercare_airflow.triggers import EvaluationFinishedTrigger

        day = ingest_snapshot_date(context)
        if not context["params"].get("await_evaluation", True):
            self.log.info("snapshot %s: not waiting for the evaluation (await_evaluation is off)", day)
            return None
        url = store_url()
        missing = missing_evaluations(url, day, list(EVALUATED_AREAS))
        if not missing:
            return day.isoformat()
        give_up_at = dt.datetime.now(dt.UTC) + self.wait
        self.log.info("snapshot %s: waiting (deferred) for %s until %s", day, ", ".join(missing), give_up_at)
        self.defer(
            trigger=EvaluationFinishedTrigger(
                store_url=url,
                areas=list(EVALUATED_AREAS),
                snapshot_date=day.isoformat(),
                poll_seconds=self.poll.total_seconds(),
                give_up_at=give_up_at.isoformat(),
            ),
            method_name="resume",
            timeout=self.wait + self.poll + dt.timedelta(minutes=5),
        )

    def resume(self, context: dict[str, Any], event: dict[str, Any]) -> str:
        if not event["done"]:
            raise AirflowSensorTimeout(
                f"snapshot {event['snapshot_date']} was loaded but is {event['detail']} after {self.wait}: "
                "look for failed or paused hypercare_* area DAGs."
            )
        return event["snapshot_date"]
