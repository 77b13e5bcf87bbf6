"""Writing notifications to the outbox: firing and resolved from evaluation runs,
repeats and escalations from the dispatcher's clock."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any
from urllib.parse import quote

import polars as pl
import psycopg

from hypercare.alerts.redaction import allowed_evidence
from hypercare.alerts.routing import arr_band, recipients
from hypercare.db import named_queries, stage_frame
from hypercare.forecast import due_frame, due_groups
from hypercare.ruleset import RuleSet

OUTBOX_STAGE: dict[str, pl.DataType] = {
    "finding_id": pl.String,
    "kind": pl.String,
    "episode_on": pl.Date,
    "step": pl.Int64,
    "as_of": pl.Date,
    "area": pl.String,
    "rule_id": pl.String,
    "severity": pl.String,
    "owner_role": pl.String,
    "recipient": pl.String,
    "payload": pl.String,
    "next_attempt_at": pl.Datetime("us", "UTC"),
    "routing_version": pl.String,
}

AREA_DAGS = {"audit": "crosscutting", "backlog": "crosscutting", "contract": "ingest"}


def message_evidence(alerting: dict[str, Any], evidence: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Evidence safe for a message: only `message_fields` keys, personal and tax identifiers masked."""
    return allowed_evidence(evidence, set(alerting.get("message_fields", ())))


def run_link(alerting: dict[str, Any], area: str, run_url: str | None) -> str:
    base = alerting.get("airflow_base_url", "").rstrip("/")
    return run_url or f"{base}/dags/hypercare_{AREA_DAGS.get(area, area)}"


def finding_link(alerting: dict[str, Any], finding_id: str) -> str | None:
    """The finding's page in the Hypercare plugin of the Airflow UI: acknowledging is one click from the alert."""
    base = alerting.get("airflow_base_url", "").rstrip("/")
    return f"{base}/hypercare/findings/{finding_id}" if base else None


def _insert(conn: psycopg.Connection, rows: list[dict[str, Any]], statement: str) -> int:
    """Stage `rows` and write them into the outbox with `statement` (insert_staged or insert_digests)."""
    if not rows:
        return 0
    stage_frame(conn, "stage_outbox", OUTBOX_STAGE, pl.DataFrame(rows, schema=OUTBOX_STAGE, orient="row"))
    return conn.execute(statement).rowcount


def enqueue_run(
    conn: psycopg.Connection, as_of: dt.date, area: str, ruleset: RuleSet, run_url: str | None = None
) -> int:
    """Queue the area's notifications after a run for `as_of`, inside the run's transaction.

    Whatever day was run, the queue is brought up to date for the area's newest evaluated
    day: every alert-marked finding open on that day gets a firing notification for its
    current episode (once: the notification id is its fingerprint), and findings that
    cleared on that day get a resolved one. Nothing is ever deleted here, so re-running
    or backfilling days cannot drop a notification that is still owed; notices whose
    episode ended before delivery are cancelled by the dispatcher. A backfill of older
    days never pages about the past.
    """
    queries = named_queries("alerts")
    newest = conn.execute(queries["latest_run"], {"area": area}).fetchone()[0]
    if newest is None:
        return 0
    params = {"as_of": newest, "area": area, "routing_version": ruleset.alerting_version}
    alerting = ruleset.content["alerting"]
    link = run_link(alerting, area, run_url if newest == as_of else None)
    rows = []
    cursor = conn.execute(queries["firing_candidates"], params)
    columns = [c.name for c in cursor.description]
    for record in (dict(zip(columns, row, strict=True)) for row in cursor):
        evidence, withheld = message_evidence(alerting, json.loads(record["evidence"]))
        payload = {
            "rule_id": record["rule_id"],
            "subject_key": record["subject_key"],
            "severity": record["severity"],
            "reason_code": record["reason_code"],
            "onboarding_id": record["onboarding_id"],
            "opportunity_id": record["opportunity_id"],
            "account_name": record["account_name"],
            "segment": record["segment"],
            "arr_band": arr_band(alerting, None if record["arr"] is None else float(record["arr"])),
            "since": record["since"].isoformat() if record["since"] else None,
            "as_of": newest.isoformat(),
            "reopened": record["event"] == "reopened",
            "evidence": evidence,
            "evidence_withheld": withheld,
            "owner_roles": list(record["owner_roles"]),
            "next_action": alerting.get("next_actions", {}).get(record["rule_id"], "Investigate and fix the cause."),
            "run_link": link,
            "finding_link": finding_link(alerting, str(record["finding_id"])),
        }
        for recipient in recipients(alerting, list(record["owner_roles"]), record["segment"], record["sales_owner"]):
            rows.append(
                {
                    "finding_id": str(record["finding_id"]),
                    "kind": "firing",
                    "episode_on": record["episode_on"],
                    "step": 0,
                    "as_of": newest,
                    "area": area,
                    "rule_id": record["rule_id"],
                    "severity": record["severity"],
                    "owner_role": recipient.owner_role,
                    "recipient": recipient.address,
                    "payload": json.dumps(payload, default=str),
                    "next_attempt_at": None,
                    "routing_version": ruleset.alerting_version,
                }
            )
    queued = _insert(conn, rows, queries["insert_staged"])
    queued += conn.execute(queries["enqueue_resolved"], params).rowcount
    if area == DIGEST_AREA:
        queued += queue_digests(conn, newest, ruleset)
    return queued


# The digest is queued with the last area of the day, once every area's forecast is in.
DIGEST_AREA = "backlog"
DIGEST_RULE = "forecast.due_soon"
DIGEST_ITEMS = 20


def journey_link(base_url: str | None, onboarding_id: str | None) -> str | None:
    """The onboarding's journey page in the Hypercare plugin of the Airflow UI at `base_url`
    (alerting.airflow_base_url), when one is set."""
    base = (base_url or "").rstrip("/")
    return f"{base}/hypercare/journeys/{quote(onboarding_id, safe='')}" if base and onboarding_id else None


def queue_digests(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet) -> int:
    """Queue one "due soon" digest per owner role and recipient for `as_of`: the day's breach
    forecast (hypercare.finding_forecasts) through the role's route, never a page per finding.

    Each finding goes to its role's route for its segment (the account owner: the deal's
    sales owner), so a recipient gets one digest per role and day, listing the largest ARR
    first. A day with nothing due sends nothing.
    """
    alerting = ruleset.content["alerting"]
    currency = (ruleset.content.get("scorecard") or {}).get("currency", "USD")
    due = due_frame(conn, as_of)
    routes = pl.DataFrame(
        [
            (role, segment, sales_owner, recipient.address)
            for role, segment, sales_owner in due.select("owner_role", "segment", "sales_owner").unique().rows()
            for recipient in recipients(alerting, [role], segment, sales_owner)
        ],
        schema={"owner_role": pl.String, "segment": pl.String, "sales_owner": pl.String, "recipient": pl.String},
        orient="row",
    )
    routed = due.join(routes, on=["owner_role", "segment", "sales_owner"], nulls_equal=True, maintain_order="left")
    rows = []
    for digest in due_groups(routed, ["owner_role", "recipient"], DIGEST_ITEMS):
        role, address = digest["owner_role"], digest["recipient"]
        payload = {
            "rule_id": DIGEST_RULE,
            "owner_role": role,
            "as_of": as_of.isoformat(),
            "horizon": digest["rows"][0]["horizon"].isoformat(),
            "findings": digest["findings"],
            "alerts": digest["alerts"],
            "customers": digest["customers"],
            "arr": digest["arr"],
            "currency": currency,
            "items": [
                {
                    "rule_id": record["rule_id"],
                    "severity": record["severity"],
                    "alert": record["alert"],
                    "subject_key": record["subject_key"],
                    "account_name": record["account_name"],
                    "segment": record["segment"],
                    "arr_band": arr_band(alerting, record["arr"]),
                    "journey_link": journey_link(alerting.get("airflow_base_url"), record["onboarding_id"]),
                }
                for record in digest["rows"]
            ],
        }
        rows.append(
            {
                "finding_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hypercare:digest:{role}:{as_of}")),
                "kind": "digest",
                "episode_on": as_of,
                "step": 0,
                "as_of": as_of,
                "area": DIGEST_AREA,
                "rule_id": DIGEST_RULE,
                "severity": "info",
                "owner_role": role,
                "recipient": address,
                "payload": json.dumps(payload, default=str),
                "next_attempt_at": None,
                "routing_version": ruleset.alerting_version,
            }
        )
    return _insert(conn, rows, named_queries("alerts")["insert_digests"])


def schedule_followups(conn: psycopg.Connection, ruleset: RuleSet, now: dt.datetime) -> int:
    """Queue repeats of open, unacknowledged alerts and escalations of unacknowledged ones."""
    from hypercare.store import register_config_versions

    register_config_versions(conn, ruleset, ("alerting",))
    queries = named_queries("alerts")
    alerting = ruleset.content["alerting"]
    repeat_hours = float(alerting["repeat_interval_business_hours"])
    escalation = alerting.get("escalation") or {}
    chain = list(escalation.get("chain", ()))
    escalate_after = dt.timedelta(minutes=float(escalation.get("after_minutes", 0)))
    escalate_severities = set(escalation.get("severities", ("critical",)))
    cal = ruleset.calendar
    rows = []
    cursor = conn.execute(queries["open_alerts"])
    columns = [c.name for c in cursor.description]
    escalated: set[tuple] = set()
    business_days_since: dict[dt.datetime, float] = {}
    for record in (dict(zip(columns, row, strict=True)) for row in cursor):
        base = {
            "finding_id": str(record["finding_id"]),
            "episode_on": record["episode_on"],
            "as_of": None,
            "area": None,
            "rule_id": record["rule_id"],
            "severity": record["severity"],
            "payload": record["payload"],
            "next_attempt_at": None,
            "routing_version": ruleset.alerting_version,
        }
        last_sent = record["last_sent_at"]
        if last_sent not in business_days_since:  # one calendar walk per dispatch time, not per row
            business_days_since[last_sent] = cal.business_days_between(last_sent, now)
        if business_days_since[last_sent] * 24 >= repeat_hours:
            rows.append(
                base
                | {
                    "kind": "repeat",
                    "step": (record["repeats"] or 0) + 1,
                    "owner_role": record["owner_role"],
                    "recipient": record["recipient"],
                }
            )
        key = (record["finding_id"], record["episode_on"])
        if record["severity"] in escalate_severities and chain and key not in escalated:
            escalated.add(key)
            due_steps = int((now - record["first_sent_at"]) / escalate_after) if escalate_after else 0
            for step in range((record["escalations"] or 0) + 1, min(due_steps, len(chain)) + 1):
                role = chain[step - 1]
                for recipient in recipients(alerting, [role], json.loads(record["payload"]).get("segment"), None):
                    rows.append(
                        base
                        | {
                            "kind": "escalation",
                            "step": step,
                            "owner_role": recipient.owner_role,
                            "recipient": recipient.address,
                        }
                    )
    return _insert(conn, rows, queries["insert_staged"])
