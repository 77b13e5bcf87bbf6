"""Tiny hand-built snapshots for rule edge cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl

from hypercare.contract import load_contract

UTC = dt.UTC


def ts(text: str, tz: str = "UTC") -> dt.datetime:
    """An aware timestamp from 'YYYY-MM-DD HH:MM' in zone `tz`, as UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def deal(opportunity_id: str, **overrides) -> dict:
    row = {
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "account_name": f"Account {opportunity_id}",
        "segment": "mid_market",
        "strategic": False,
        "arr": 40_000.0,
        "sales_owner": "ae@example.com",
        "sales_team": "east",
        "stage": "closed_won",
        "closed_won_at": ts("2026-11-02 10:00"),
        "contract_state": "signed",
        "contract_signed_at": ts("2026-11-02 09:00"),
        "payment_condition": "none",
        "payment_received_at": None,
        "excluded_reason": None,
    }
    row.update(overrides)
    return row


def project(project_id: str, opportunity_id: str | None, **overrides) -> dict:
    row = {
        "project_id": project_id,
        "onboarding_id": f"ONB-{project_id}",
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "created_at": ts("2026-11-02 12:00"),
        "created_by": "automation",
        "template": "standard",
        "status": "active",
        "paused_reason": None,
        "paused_at": None,
    }
    row.update(overrides)
    return row


def frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None)


def handoff_rows(onboarding_id: str, filled_at: dt.datetime | None, missing: tuple[str, ...] = (), **overrides):
    """One handoff_fields row per contract field, all filled at `filled_at` except `missing`."""
    fields = load_contract()["handoff_fields"].column("field").values
    rows = []
    for name in fields:
        row = {"onboarding_id": onboarding_id, "field": name, "filled_at": None if name in missing else filled_at}
        row.update(overrides.get(name, {}))
        rows.append(row)
    return rows


def task(task_id: str, onboarding_id: str, **overrides) -> dict:
    row = {
        "task_id": task_id,
        "onboarding_id": onboarding_id,
        "task_type": "admin_invite",
        "created_at": ts("2026-11-02 12:00"),
        "due_at": ts("2026-11-06 17:00"),
        "completed_at": None,
        "reminders_sent": 1,
        "last_customer_response_at": None,
        "blocks_first_value": False,
        "reason_code": None,
    }
    row.update(overrides)
    return row
