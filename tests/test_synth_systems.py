"""Billing, provisioning, AI, writeback, audit and backlog faults in the generated month,
and their oracles on hand-built snapshots at the edges of each rule."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from hypercare.areas import AREAS
from hypercare.contract import load_contract
from hypercare.findings import FINDING_SCHEMA, AreaResult
from hypercare.ruleset import RuleSet, load_ruleset
from hypercare.snapshot import Snapshot, read_store_view
from hypercare.store import register_ruleset, write_area_result
from hypercare.synth import TRUTH_FILE, generate
from hypercare.synth.snapshots import ENTITIES
from hypercare.synth.truth import ORACLES, SnapshotView
from hypercare.synth.truth_systems import BACKLOG_ORACLES, SYSTEM_ORACLES, Trail

START = dt.date(2026, 11, 2)
UTC = dt.UTC
TYPED = {"ts": pl.Datetime("us", "UTC"), "bool": pl.Boolean, "int": pl.Int64, "decimal": pl.Float64, "date": pl.Date}
SYSTEM_RULES = (*SYSTEM_ORACLES, *BACKLOG_ORACLES)
CROSS_CUTTING = ("audit", "backlog")


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="module")
def truth(tmp_path_factory, ruleset) -> pl.DataFrame:
    """The default month (seed 7, 400 customers, 30 days from go-live): nobody answers the
    reviews, so every fault keeps its baseline rate and each severity shows."""
    out = tmp_path_factory.mktemp("systems-month")
    generate(out, START, 30, 400, 7, ruleset)
    return pl.read_csv(out / TRUTH_FILE, try_parse_dates=True)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def frame(entity: str, rows: list[dict]) -> pl.DataFrame:
    """A typed snapshot frame with every contract column (null unless given)."""
    schema = {c.name: TYPED.get(c.type, pl.String) for c in load_contract()[entity].columns}
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row")


def view(
    day: dt.date, trail: Trail | None = None, earlier: tuple[pl.DataFrame, ...] = (), **rows: list[dict]
) -> SnapshotView:
    frames = {entity: frame(entity, rows.get(entity, [])) for entity in ENTITIES}
    return SnapshotView(day=day, frames=frames, file_rows={}, quarantined={}, trail=trail, earlier=earlier)


def fired(rule_id: str, snapshot: SnapshotView, ruleset: RuleSet) -> dict[str, str]:
    """The oracle's findings of `rule_id`, {subject: severity}; for a rule evaluated on the
    snapshot alone, the monitor's area code must find exactly the same."""
    found = ORACLES[rule_id](snapshot, ruleset)
    expected = dict(zip(found["subject_key"], found["severity"], strict=True))
    if rule_id.split(".")[0] not in CROSS_CUTTING:
        assert monitor_fired(rule_id, snapshot, ruleset) == expected, (
            f"{rule_id}: the monitor disagrees with the oracle"
        )
    return expected


def monitor_fired(rule_id: str, snapshot: SnapshotView, ruleset: RuleSet, **store: pl.DataFrame) -> dict[str, str]:
    """What the monitor's area code finds for `rule_id` on the same frames, {subject: severity}."""
    area = rule_id.split(".")[0]
    monitored = Snapshot.from_frames(snapshot.day, snapshot.frames, store=store)
    found = AREAS[area](monitored, snapshot.day, ruleset).findings.filter(pl.col("rule_id") == rule_id)
    assert found["subject_key"].is_unique().all()
    return dict(zip(found["subject_key"], found["severity"], strict=True))


def days_fired(rule_id: str, first: dt.date, last: dt.date, ruleset: RuleSet, **rows: list[dict]) -> list[dt.date]:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if fired(rule_id, view(d, **rows), ruleset)]


def a_deal(opportunity_id: str, **overrides) -> dict:
    return {
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "segment": "mid_market",
        "strategic": False,
        "arr": 40_000.0,
        "sales_owner": "ae@example.com",
        "stage": "closed_won",
        "closed_won_at": at("2026-11-02T10:00:00"),
        "contract_state": "signed",
        "contract_signed_at": at("2026-11-02T09:00:00"),
        "payment_condition": "none",
        "package": "growth",
        "seats": 120,
    } | overrides


def a_project(onboarding_id: str, opportunity_id: str | None, **overrides) -> dict:
    created = at("2026-11-02T11:00:00")
    return {
        "project_id": f"PRJ-{onboarding_id}",
        "onboarding_id": onboarding_id,
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "created_at": created,
        "created_by": "automation",
        "status": "active",
        "handoff_accepted_at": created,
        "owner_assigned_at": created,
        "onboarding_owner": "onb@example.com",
    } | overrides


# -- the generated month ------------------------------------------------------------------
def test_every_system_rule_fires_with_each_of_its_severities(truth, ruleset):
    ours = truth.filter(pl.col("rule_id").is_in(SYSTEM_RULES))
    seen = dict(ours.group_by("rule_id").agg(pl.col("severity").unique().sort()).iter_rows())
    expected = {
        rule_id: sorted(
            {
                ruleset.rule(rule_id).severity,
                *(v for k, v in ruleset.rule(rule_id).extra.items() if k.startswith("severity_when")),
            }
        )
        for rule_id in SYSTEM_RULES
    }
    assert len(expected) == 28
    assert seen == expected
    assert seen["billing.missing_bill_to"] == ["high", "warn"]


def test_system_findings_open_and_resolve_during_the_month(truth):
    """Fixes arrive: most rules have findings that stop before the last day."""
    last = truth["as_of"].max()
    spans = (
        truth.filter(pl.col("rule_id").is_in(SYSTEM_RULES))
        .group_by("rule_id", "subject_key")
        .agg(pl.col("as_of").min().alias("first"), pl.col("as_of").max().alias("last"))
    )
    for rule_id in (
        "billing.missing_bill_to",
        "billing.invalid_address",
        "billing.tax_id_missing",
        "billing.terms_conflict",
        "billing.unreviewed_change",
        "provisioning.entitlement_mismatch",
        "provisioning.failed",
        "provisioning.override_unapproved",
        "provisioning.overdue",
        "ai.conflicts_with_source",
        "ai.customer_email_unreviewed",
        "ai.sensitive_change_unapproved",
        "ai.sensitive_access_unlogged",
        "writeback.failed",
        "writeback.drift",
        "writeback.owner_or_status_drift",
    ):
        rule = spans.filter(pl.col("rule_id") == rule_id)
        assert (rule["last"] < last).any(), rule_id
        assert (rule["first"] > START).any(), rule_id


def test_backlog_runs_last():
    assert list(ORACLES)[-1] == "backlog.aged_high_value"


# -- billing ------------------------------------------------------------------------------
def test_bill_to_urgency_at_fourteen_days_and_before_kickoff(ruleset):
    day = dt.date(2026, 11, 10)
    deals = [a_deal(f"OPP-{n}") for n in ("14", "15", "PAST", "KICK", "NONE", "DONE")]
    projects = [a_project(f"ONB-{n}", f"OPP-{n}") for n in ("14", "15", "PAST", "KICK", "NONE")]
    projects.append(a_project("ONB-DONE", "OPP-DONE", status="completed"))
    projects[3] |= {"kickoff_scheduled_for": at("2026-12-01T10:00:00")}

    def account(name: str, invoice: dt.date | None) -> dict:
        return {
            "account_id": f"ACC-OPP-{name}",
            "tax_id_required": False,
            "tax_id_status": "not_required",
            "po_required": False,
            "address_line1": "1 Main St",
            "city": "Austin",
            "postal_code": "73301",
            "country": "US",
            "address_validated": True,
            "first_invoice_date": invoice,
            "plan": "growth",
            "seats": 120,
            "updated_at": at("2026-11-02T12:00:00"),
        }

    billing = [
        account("14", day + dt.timedelta(days=14)),
        account("15", day + dt.timedelta(days=15)),
        account("PAST", day - dt.timedelta(days=3)),
        account("KICK", dt.date(2026, 11, 30)),
        account("NONE", None),
        account("DONE", day),
    ]
    snapshot = view(day, deals=deals, onboarding_projects=projects, billing_accounts=billing)
    assert fired("billing.missing_bill_to", snapshot, ruleset) == {
        "ACC-OPP-14": "high",
        "ACC-OPP-15": "warn",
        "ACC-OPP-PAST": "high",
        "ACC-OPP-KICK": "high",
        "ACC-OPP-NONE": "warn",
    }
    assert fired("billing.blocks_invoice_or_launch", snapshot, ruleset) == {"ACC-OPP-PAST": "high"}


def test_billing_blocks_at_seven_days_out_or_a_launch_within_seven_days(ruleset):
    day = dt.date(2026, 11, 10)
    end = at("2026-11-11T00:00:00")
    names = ("INV7", "INV8", "LAUNCH", "LAUNCHED", "CLEAN")
    deals = [a_deal(f"OPP-{n}") for n in names]
    projects = [a_project(f"ONB-{n}", f"OPP-{n}") for n in names]
    billing = [
        {
            "account_id": f"ACC-OPP-{n}",
            "bill_to_contact": "ap@example.com",
            "tax_id_required": True,
            "tax_id_status": "invalid" if n != "CLEAN" else "verified",
            "po_required": False,
            "address_line1": "1 Main St",
            "city": "Austin",
            "postal_code": "73301",
            "country": "US",
            "address_validated": True,
            "first_invoice_date": day + dt.timedelta(days=7 if n == "INV7" else 30),
            "updated_at": end,
        }
        for n in names
    ]
    billing[1]["first_invoice_date"] = day + dt.timedelta(days=8)
    milestones = [
        {"onboarding_id": "ONB-LAUNCH", "milestone": "launch", "target_at": end + dt.timedelta(days=7)},
        {"onboarding_id": "ONB-LAUNCHED", "milestone": "launch", "target_at": end, "completed_at": end},
        {"onboarding_id": "ONB-CLEAN", "milestone": "launch", "target_at": end},
    ]
    snapshot = view(day, deals=deals, onboarding_projects=projects, billing_accounts=billing, milestones=milestones)
    assert set(fired("billing.tax_id_missing", snapshot, ruleset)) == {f"ACC-OPP-{n}" for n in names[:4]}
    assert fired("billing.blocks_invoice_or_launch", snapshot, ruleset) == {
        "ACC-OPP-INV7": "high",
        "ACC-OPP-LAUNCH": "high",
    }


def test_billing_reads_the_earliest_open_onboarding_and_compares_terms_loosely(ruleset):
    day = dt.date(2026, 11, 10)
    deals = [
        a_deal("OPP-A", package="growth", seats=120),
        a_deal("OPP-B", package="business", seats=50),
        a_deal("OPP-C", package="starter", seats=10),
    ]
    projects = [
        a_project("ONB-A1", "OPP-A", account_id="ACC-1", created_at=at("2026-11-03T10:00:00")),
        a_project("ONB-A0", "OPP-B", account_id="ACC-1", created_at=at("2026-11-02T10:00:00")),
        a_project("ONB-X", "OPP-A", account_id="ACC-1", created_at=at("2026-11-01T10:00:00"), status="cancelled"),
        a_project("ONB-C", "OPP-C", account_id="ACC-2"),
        a_project("ONB-D", "OPP-C", account_id="ACC-3"),
        a_project("ONB-E", "OPP-C", account_id="ACC-4", status="completed"),
    ]
    base = {
        "tax_id_required": False,
        "tax_id_status": "not_required",
        "po_required": True,
        "updated_at": at("2026-11-02T12:00:00"),
    }
    billing = [
        base | {"account_id": "ACC-1", "plan": " Business ", "seats": 50, "update_source": "ai"},
        base | {"account_id": "ACC-2", "plan": "STARTER", "seats": 11, "po_number": "PO-1", "update_source": "revops"},
        base
        | {
            "account_id": "ACC-3",
            "plan": "growth",
            "seats": None,
            "update_source": "customer",
            "reviewed_by": "fin@example.com",
        },
        base | {"account_id": "ACC-4", "plan": "growth"},
    ]
    snapshot = view(day, deals=deals, onboarding_projects=projects, billing_accounts=billing)
    assert fired("billing.terms_conflict", snapshot, ruleset) == {"ACC-2": "high", "ACC-3": "high"}
    assert fired("billing.po_missing", snapshot, ruleset) == {"ACC-1": "warn", "ACC-3": "warn"}
    assert fired("billing.unreviewed_change", snapshot, ruleset) == {"ACC-1": "warn"}
    assert fired("billing.invalid_address", snapshot, ruleset) == {f"ACC-{i}": "high" for i in (1, 2, 3)}


# -- provisioning ---------------------------------------------------------------------------
def test_identity_late_counts_five_business_days_over_thanksgiving(ruleset):
    """Kickoff Friday 20 November 10:00: five business days skip the Thursday and Friday
    holidays and the weekends, so they are covered on Tuesday 1 December at 10:00."""
    kickoff = at("2026-11-20T10:00:00")
    projects = [a_project("ONB-1", "OPP-1", kickoff_completed_at=kickoff)]

    def identity(item_id: str, **overrides) -> dict:
        return {
            "item_id": item_id,
            "onboarding_id": "ONB-1",
            "item_type": "identity",
            "target_system": "okta",
            "status": "in_progress",
            "created_at": at("2026-11-16T10:00:00"),
        } | overrides

    window = (dt.date(2026, 11, 20), dt.date(2026, 12, 2))
    assert days_fired(
        "provisioning.identity_late",
        *window,
        ruleset,
        onboarding_projects=projects,
        provisioning_items=[identity("OPEN")],
    ) == [dt.date(2026, 12, 1), dt.date(2026, 12, 2)]
    done = [
        identity("ON-TIME", status="done", completed_at=at("2026-12-01T09:59:00")),
        identity("AT-FIVE", status="done", completed_at=kickoff + dt.timedelta(days=11)),
        identity("HOLIDAY", status="done", completed_at=at("2026-11-27T18:00:00")),
    ]
    snapshot = view(dt.date(2026, 12, 2), onboarding_projects=projects, provisioning_items=done)
    assert fired("provisioning.identity_late", snapshot, ruleset) == {"AT-FIVE": "warn"}


def test_item_rules_look_at_open_or_absent_projects(ruleset):
    kickoff = at("2026-11-04T10:00:00")
    projects = [
        a_project("ONB-OPEN", "OPP-1", kickoff_completed_at=kickoff),
        a_project("ONB-DONE", "OPP-1", status="completed", kickoff_completed_at=kickoff),
        a_project("ONB-CANC", "OPP-1", status="cancelled", kickoff_completed_at=kickoff),
    ]

    def item(item_id: str, onboarding_id: str, item_type: str, **overrides) -> dict:
        return {
            "item_id": item_id,
            "onboarding_id": onboarding_id,
            "item_type": item_type,
            "target_system": "x",
            "status": "in_progress",
            "attempts": 1,
            "created_at": at("2026-11-02T12:00:00"),
            "internal_owner": "se@example.com",
            "customer_owner": "admin@example.com",
        } | overrides

    items = [
        item("WS-LATE", "ONB-OPEN", "workspace", status="done", completed_at=kickoff + dt.timedelta(seconds=1)),
        item("WS-OK", "ONB-OPEN", "workspace", status="done", completed_at=kickoff),
        item("WS-DONE-PROJECT", "ONB-DONE", "workspace"),
        item("ENT", "ONB-OPEN", "entitlement", expected_value="growth", configured_value="starter"),
        item("ENT-UNSET", "ONB-OPEN", "entitlement", expected_value="growth"),
        item("RETRY-3", "ONB-OPEN", "integration", attempts=3, customer_owner=None),
        item("DONE-3", "ONB-OPEN", "integration", attempts=3, status="done", customer_owner=None),
        item("FAILED", "ONB-GONE", "data_migration", status="failed", due_at=at("2026-11-10T00:00:00")),
        item("CANCELLED", "ONB-CANC", "data_migration", status="failed"),
        item("OVERRIDE", "ONB-OPEN", "entitlement", manual_override=True),
        item("APPROVED", "ONB-OPEN", "entitlement", manual_override=True, override_approved_by="lead@example.com"),
    ]
    snapshot = view(dt.date(2026, 11, 9), onboarding_projects=projects, provisioning_items=items)
    assert set(fired("provisioning.workspace_late", snapshot, ruleset)) == {"WS-LATE"}
    assert set(fired("provisioning.entitlement_mismatch", snapshot, ruleset)) == {"ENT"}
    assert set(fired("provisioning.failed", snapshot, ruleset)) == {"RETRY-3", "FAILED", "CANCELLED"}
    assert set(fired("provisioning.integration_unowned", snapshot, ruleset)) == {"RETRY-3"}
    assert set(fired("provisioning.override_unapproved", snapshot, ruleset)) == {"OVERRIDE"}
    assert fired("provisioning.overdue", snapshot, ruleset) == {}
    assert set(
        fired(
            "provisioning.overdue",
            view(
                dt.date(2026, 11, 9), onboarding_projects=projects, provisioning_items=[items[7] | {"due_at": kickoff}]
            ),
            ruleset,
        )
    ) == {"FAILED"}


def test_support_handoff_after_launch(ruleset):
    launched = at("2026-11-20T10:00:00")
    projects = [a_project(f"ONB-{n}", "OPP-1") for n in ("MISSING", "HANDED", "NOT-LAUNCHED")]
    projects.append(a_project("ONB-CANC", "OPP-1", status="cancelled"))
    milestones = [
        {"onboarding_id": f"ONB-{n}", "milestone": "launch", "completed_at": launched}
        for n in ("MISSING", "HANDED", "CANC")
    ]
    milestones.append({"onboarding_id": "ONB-NOT-LAUNCHED", "milestone": "launch"})
    items = [
        {
            "item_id": f"SUP-{n}",
            "onboarding_id": f"ONB-{n}",
            "item_type": "support_handoff",
            "target_system": "zendesk",
            "status": "done" if n == "HANDED" else "failed",
            "created_at": launched,
        }
        for n in ("MISSING", "HANDED")
    ]
    snapshot = view(
        dt.date(2026, 11, 20), onboarding_projects=projects, milestones=milestones, provisioning_items=items
    )
    assert fired("provisioning.support_handoff_missing", snapshot, ruleset) == {"ONB-MISSING": "warn"}


# -- AI -----------------------------------------------------------------------------------
def suggestion(suggestion_id: str, kind: str, **overrides) -> dict:
    return {
        "suggestion_id": suggestion_id,
        "onboarding_id": "ONB-1",
        "kind": kind,
        "confidence": 0.95,
        "evidence_count": 2,
        "material_commitment": False,
        "model": "m",
        "prompt_version": "p@v1",
        "created_at": at("2026-11-03T10:00:00"),
        "routing": "auto_applied",
        "review_decision": "pending",
        "customer_facing": False,
        "sensitive_data": False,
    } | overrides


def test_confidence_thresholds_per_kind(ruleset):
    rows = [
        suggestion("PKG-AT", "package_classification", confidence=0.9),
        suggestion("PKG-BELOW", "package_classification", confidence=0.89),
        suggestion("SEG-BELOW", "segment_classification", confidence=0.89),
        suggestion("LANE-85", "lane_classification", confidence=0.85),
        suggestion("EXT-AT", "field_extraction", confidence=0.8),
        suggestion("EXT-85", "field_extraction", confidence=0.85),
        suggestion("EXT-BELOW", "field_extraction", confidence=0.79),
        suggestion("REVIEWED", "field_extraction", confidence=0.5, routing="human_review"),
        suggestion("BLOCKED", "next_action", confidence=0.5, routing="blocked"),
    ]
    snapshot = view(dt.date(2026, 11, 3), ai_suggestions=rows)
    assert fired("ai.low_confidence_routed", snapshot, ruleset) == {
        "PKG-BELOW": "high",
        "SEG-BELOW": "high",
        "LANE-85": "high",
        "EXT-BELOW": "high",
    }


def test_ai_conflicts_compare_with_the_deal_loosely(ruleset):
    deals = [a_deal("OPP-1", package="growth", seats=120, segment="mid_market")]
    projects = [a_project("ONB-1", "OPP-1")]

    def extraction(
        suggestion_id: str, field: str | None, value: str, kind: str = "field_extraction", **overrides
    ) -> dict:
        return suggestion(suggestion_id, kind, field=field, suggested_value=value, **overrides)

    rows = [
        extraction("CASE", "package", " Growth "),
        extraction("WRONG", "package", "starter"),
        extraction("SEATS-EQ", "seats", "120.0"),
        extraction("SEATS-NE", "seats", "125"),
        extraction("REJECTED", "package", "starter", review_decision="rejected"),
        extraction("NOT-DEAL", "success_criteria", "anything"),
        extraction("SEG-DEFAULT", None, "enterprise", kind="segment_classification"),
        extraction("PKG-DEFAULT", None, "GROWTH", kind="package_classification"),
        extraction("LANE", None, "tech_touch", kind="lane_classification"),
        extraction("ORPHAN", "package", "starter", onboarding_id="ONB-NONE"),
    ]
    snapshot = view(dt.date(2026, 11, 3), deals=deals, onboarding_projects=projects, ai_suggestions=rows)
    assert set(fired("ai.conflicts_with_source", snapshot, ruleset)) == {"WRONG", "SEATS-NE", "SEG-DEFAULT"}


def test_ai_evidence_review_approval_and_access(ruleset):
    sent = at("2026-11-03T11:00:00")
    rows = [
        suggestion("NO-EVIDENCE", "handoff_summary", material_commitment=True, evidence_count=0),
        suggestion(
            "REJECTED",
            "handoff_summary",
            material_commitment=True,
            evidence_count=0,
            review_decision="rejected",
            reviewer="onb@example.com",
        ),
        suggestion(
            "CONFIRMED",
            "handoff_summary",
            material_commitment=True,
            evidence_count=0,
            review_decision="corrected",
            reviewer="onb@example.com",
        ),
        suggestion("EMAIL-SENT", "welcome_email_draft", customer_facing=True, sent_at=sent),
        suggestion(
            "EMAIL-REVIEWED", "welcome_email_draft", customer_facing=True, sent_at=sent, reviewer="onb@example.com"
        ),
        suggestion("EMAIL-DRAFT", "welcome_email_draft", customer_facing=True),
        suggestion("BILLING-AUTO", "billing_change"),
        suggestion("ACCESS-ACCEPTED", "access_change", routing="human_review", review_decision="accepted"),
        suggestion("ACCESS-PENDING", "access_change", routing="human_review"),
        suggestion("ENT-APPROVED", "entitlement_change", approved_by="lead@example.com"),
        suggestion("READ-UNLOGGED", "risk_flag", sensitive_data=True),
        suggestion("READ-LOGGED", "risk_flag", sensitive_data=True, access_scope="crm:read:contacts"),
    ]
    snapshot = view(dt.date(2026, 11, 3), ai_suggestions=rows)
    assert set(fired("ai.missing_evidence", snapshot, ruleset)) == {"NO-EVIDENCE", "REJECTED"}
    assert fired("ai.customer_email_unreviewed", snapshot, ruleset) == {"EMAIL-SENT": "critical"}
    assert fired("ai.sensitive_change_unapproved", snapshot, ruleset) == {
        "BILLING-AUTO": "critical",
        "ACCESS-ACCEPTED": "critical",
    }
    assert fired("ai.sensitive_access_unlogged", snapshot, ruleset) == {"READ-UNLOGGED": "high"}


# -- writebacks and drift -----------------------------------------------------------------
def test_writeback_stuck_from_four_hours_before_midnight(ruleset):
    def write(writeback_id: str, status: str, requested: str, **overrides) -> dict:
        return {
            "writeback_id": writeback_id,
            "onboarding_id": "ONB-1",
            "target_system": "crm",
            "status": status,
            "attempts": 1,
            "actor": "automation",
            "requested_at": at(requested),
            "idempotency_key": f"idem-{writeback_id}",
        } | overrides

    writes = [
        write("AT-FOUR", "pending", "2026-11-10T20:00:00"),
        write("JUST-UNDER", "retrying", "2026-11-10T20:00:01", attempts=4),
        write("FAILED", "failed", "2026-11-10T23:00:00", attempts=5),
        write("DONE", "succeeded", "2026-11-10T10:00:00", completed_at=at("2026-11-10T10:00:05"), idempotency_key=None),
    ]
    assert fired("writeback.failed", view(dt.date(2026, 11, 10), writebacks=writes), ruleset) == {
        "AT-FOUR": "high",
        "FAILED": "high",
    }
    assert set(fired("writeback.failed", view(dt.date(2026, 11, 11), writebacks=writes), ruleset)) == {
        "AT-FOUR",
        "JUST-UNDER",
        "FAILED",
    }
    snapshot = view(dt.date(2026, 11, 10), writebacks=writes)
    assert fired("writeback.retry_storm", snapshot, ruleset) == {"FAILED": "warn"}
    assert fired("writeback.no_idempotency_key", snapshot, ruleset) == {"DONE": "warn"}


def test_drift_ignores_case_order_and_nulls(ruleset):
    def record(onboarding_id: str, system: str, field: str, value: str | None) -> dict:
        return {
            "onboarding_id": onboarding_id,
            "system": system,
            "field": field,
            "value": value,
            "observed_at": at("2026-11-03T10:00:00"),
        }

    records = [
        record("ONB-SAME", "crm", "package", "growth"),
        record("ONB-SAME", "billing", "package", " Growth"),
        record("ONB-SAME", "product_admin", "package", None),
        record("ONB-SAME", "crm", "scope", "implementation;training"),
        record("ONB-SAME", "project_tool", "scope", "training; implementation"),
        record("ONB-SEATS", "crm", "seats", "120"),
        record("ONB-SEATS", "billing", "seats", "125"),
        record("ONB-SCOPE", "crm", "scope", "implementation;training"),
        record("ONB-SCOPE", "project_tool", "scope", "implementation"),
        record("ONB-OWNER", "crm", "onboarding_owner", "onb001@example.com"),
        record("ONB-OWNER", "support", "onboarding_owner", "onb002@example.com"),
        record("ONB-OWNER", "crm", "status", "active"),
        record("ONB-OWNER", "cs_platform", "status", "ACTIVE"),
    ]
    snapshot = view(dt.date(2026, 11, 3), system_records=records)
    assert fired("writeback.drift", snapshot, ruleset) == {"ONB-SEATS": "high", "ONB-SCOPE": "high"}
    assert fired("writeback.owner_or_status_drift", snapshot, ruleset) == {"ONB-OWNER": "warn"}


# -- audit trace ----------------------------------------------------------------------------
def test_trace_gap_links_the_trigger_to_the_first_project_and_remembers_earlier_days(ruleset):
    kickoff = at("2026-11-05T10:00:00")
    deals = [a_deal("OPP-1"), a_deal("OPP-2"), a_deal("OPP-OPEN", stage="open")]
    projects = [
        a_project("ONB-FIRST", "OPP-1", kickoff_completed_at=kickoff),
        a_project("ONB-SECOND", "OPP-1", created_at=at("2026-11-03T10:00:00"), kickoff_completed_at=kickoff),
        a_project("ONB-OLD", "OPP-2", created_at=at("2026-11-02T10:30:00"), status="cancelled"),
        a_project("ONB-REPLACED", "OPP-2", kickoff_completed_at=kickoff),
        a_project("ONB-NOT-ELIGIBLE", "OPP-OPEN", kickoff_completed_at=kickoff),
        a_project("ONB-NO-OWNER", None, kickoff_completed_at=kickoff, owner_assigned_at=None),
        a_project("ONB-NO-KICKOFF", None),
    ]
    day = dt.date(2026, 11, 5)
    assert set(fired("audit.trace_gap", view(day, deals=deals, onboarding_projects=projects), ruleset)) == {
        "ONB-SECOND",
        "ONB-REPLACED",
        "ONB-NOT-ELIGIBLE",
        "ONB-NO-OWNER",
    }

    trail = Trail()
    first = view(day, trail=trail, deals=deals, onboarding_projects=projects)
    trail.remember(first, pl.DataFrame(schema={"rule_id": pl.String, "subject_key": pl.String}))
    deal_quarantined = view(day + dt.timedelta(days=1), deals=deals[1:], onboarding_projects=projects)
    assert "ONB-FIRST" in fired("audit.trace_gap", deal_quarantined, ruleset)
    remembered = view(day + dt.timedelta(days=1), trail=trail, deals=deals[1:], onboarding_projects=projects)
    assert "ONB-FIRST" not in fired("audit.trace_gap", remembered, ruleset)

    # The monitor: the audit area reads the trace the other areas wrote up to the day.
    gaps = {"ONB-SECOND": "warn", "ONB-REPLACED": "warn", "ONB-NOT-ELIGIBLE": "warn", "ONB-NO-OWNER": "warn"}
    assert monitor_fired("audit.trace_gap", first, ruleset, trace=monitor_trace(first)) == gaps
    assert monitor_fired(
        "audit.trace_gap", deal_quarantined, ruleset, trace=monitor_trace(deal_quarantined)
    ) == gaps | {"ONB-FIRST": "warn"}
    assert monitor_fired("audit.trace_gap", remembered, ruleset, trace=monitor_trace(first, deal_quarantined)) == gaps


def test_trace_gap_on_a_day_without_any_kickoff(ruleset):
    """No onboarding past kickoff (say the projects file was absent): no gap, and no error."""
    day = dt.date(2026, 11, 2)
    empty_day = view(day, deals=[a_deal("OPP-1")])
    traced = pl.DataFrame({"onboarding_id": ["ONB-1"], "event_type": ["owner_assigned"]})
    assert fired("audit.trace_gap", empty_day, ruleset) == {}
    assert monitor_fired("audit.trace_gap", empty_day, ruleset, trace=traced) == {}


def monitor_trace(*days: SnapshotView) -> pl.DataFrame:
    """The journey events the monitoring areas trace from these snapshots, as the store's trace view holds them."""
    ruleset = load_ruleset()
    traced = [
        AREAS[area](Snapshot.from_frames(snapshot.day, snapshot.frames), snapshot.day, ruleset).trace
        for snapshot in days
        for area in AREAS
        if area not in (*CROSS_CUTTING, "contract")
    ]
    return pl.concat(traced).select("onboarding_id", "event_type").drop_nulls("onboarding_id").unique()


# -- backlog --------------------------------------------------------------------------------
def rows_of(*findings: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        findings, schema={"rule_id": pl.String, "subject_key": pl.String, "severity": pl.String}, orient="row"
    )


def backlog_days(
    first: dt.date, last: dt.date, daily: dict[dt.date, pl.DataFrame], ruleset: RuleSet, **frames: list[dict]
) -> dict[str, list[dt.date]]:
    """Feed the backlog day by day, as the generator does; which subjects fire on which days."""
    trail, out = Trail(), {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        rows = daily.get(day, rows_of())
        snapshot = view(day, trail=trail, earlier=(rows,), **frames)
        for subject in fired("backlog.aged_high_value", snapshot, ruleset):
            out.setdefault(subject, []).append(day)
        trail.remember(snapshot, rows)
    return out


def monitor_backlog_days(
    conn, first: dt.date, last: dt.date, daily: dict[dt.date, pl.DataFrame], context: dict, ruleset: RuleSet
) -> dict[str, dict[dt.date, str]]:
    """The monitor on the same days: each day's findings go through the audit store (runs,
    lifecycle, episodes), then the backlog area reads the store as it does after the other
    areas of the day. `context` gives each finding's journey as the area raising it stamps
    it: (rule_id, subject_key) -> (onboarding_id, opportunity_id, segment, strategic, high_value)."""
    areas = sorted({rule_id.split(".")[0] for rows in daily.values() for rule_id in rows["rule_id"]})
    with conn.transaction():
        register_ruleset(conn, ruleset)
    out: dict[str, dict[dt.date, str]] = {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        rows = daily.get(day, rows_of())
        for area in areas:
            found = [
                {
                    "rule_id": rule_id,
                    "subject_key": subject,
                    **dict(
                        zip(
                            ("onboarding_id", "opportunity_id", "segment", "strategic", "high_value"),
                            context[(rule_id, subject)],
                            strict=True,
                        )
                    ),
                    "account_id": None,
                    "severity": severity,
                    "reason_code": ruleset.rule(rule_id).reason_code,
                    "owner_roles": list(ruleset.rule(rule_id).owner_roles),
                    "alert": False,
                    "since": None,
                    "evidence": "{}",
                }
                for rule_id, subject, severity in rows.iter_rows()
                if rule_id.startswith(f"{area}.")
            ]
            with conn.transaction():
                write_area_result(
                    conn, day, area, ruleset, AreaResult(findings=pl.DataFrame(found, schema=FINDING_SCHEMA))
                )

        snapshot = Snapshot(
            day,
            reader=lambda entity: pl.DataFrame(),
            store_reader=lambda view, only, day=day: read_store_view(conn, view, day, only),
        )
        aged = AREAS["backlog"](snapshot, day, ruleset).findings
        for subject, severity in zip(aged["subject_key"], aged["severity"], strict=True):
            out.setdefault(subject, {})[day] = severity
    return out


def test_backlog_fires_after_three_business_days_of_one_episode(ruleset):
    """Opened Wednesday 25 November: Thanksgiving Thursday and Friday and the weekend do
    not count, so the episode is three business days old at the end of Wednesday 2 December."""
    deals = [a_deal("OPP-BIG", arr=250_000.0), a_deal("OPP-SMALL"), a_deal("OPP-STRAT", strategic=True)]
    projects = [a_project("ONB-BIG", "OPP-BIG"), a_project("ONB-SMALL", "OPP-SMALL"), a_project("ONB-GAP", "OPP-STRAT")]
    items = [
        {
            "item_id": "ITM-BIG",
            "onboarding_id": "ONB-BIG",
            "item_type": "workspace",
            "target_system": "x",
            "status": "failed",
            "created_at": at("2026-11-02T12:00:00"),
        }
    ]
    first, last = dt.date(2026, 11, 25), dt.date(2026, 12, 3)
    daily = {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        findings = [
            ("provisioning.failed", "ITM-BIG", "high"),
            ("writeback.drift", "ONB-SMALL", "high"),
            ("handoff.incomplete_at_submission", "ONB-GAP", "info"),
            ("trigger.missed_eligible", "OPP-STRAT", "high"),
        ]
        if day != dt.date(2026, 11, 30):
            findings.append(("ownership.no_owner", "ONB-GAP", "high"))
        daily[day] = rows_of(*findings)
    fired_on = backlog_days(
        first, last, daily, ruleset, deals=deals, onboarding_projects=projects, provisioning_items=items
    )
    assert fired_on == {
        "ONB-BIG": [dt.date(2026, 12, 2), dt.date(2026, 12, 3)],
        "OPP-STRAT": [dt.date(2026, 12, 2), dt.date(2026, 12, 3)],
    }


def test_the_monitor_ages_the_backlog_by_episode_through_the_store(conn, ruleset):
    """The case above through the monitor: the gap on Monday 30 November resolves the
    no-owner finding, so its new episode is too young on 2-3 December."""
    first, last = dt.date(2026, 11, 25), dt.date(2026, 12, 3)
    daily = {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        findings = [
            ("provisioning.failed", "ITM-BIG", "high"),
            ("writeback.drift", "ONB-SMALL", "high"),
            ("handoff.incomplete_at_submission", "ONB-GAP", "info"),
            ("trigger.missed_eligible", "OPP-STRAT", "high"),
        ]
        if day != dt.date(2026, 11, 30):
            findings.append(("ownership.no_owner", "ONB-GAP", "high"))
        daily[day] = rows_of(*findings)
    context = {
        ("provisioning.failed", "ITM-BIG"): ("ONB-BIG", "OPP-BIG", "mid_market", False, True),
        ("writeback.drift", "ONB-SMALL"): ("ONB-SMALL", "OPP-SMALL", "mid_market", False, False),
        ("handoff.incomplete_at_submission", "ONB-GAP"): ("ONB-GAP", "OPP-STRAT", "mid_market", True, True),
        ("trigger.missed_eligible", "OPP-STRAT"): (None, "OPP-STRAT", "mid_market", True, True),
        ("ownership.no_owner", "ONB-GAP"): ("ONB-GAP", "OPP-STRAT", "mid_market", True, True),
    }
    aged = {dt.date(2026, 12, 2): "high", dt.date(2026, 12, 3): "high"}
    assert monitor_backlog_days(conn, first, last, daily, context, ruleset) == {"ONB-BIG": aged, "OPP-STRAT": aged}


def test_backlog_ties_billing_findings_to_the_earliest_open_onboarding(ruleset):
    deals = [a_deal("OPP-1", strategic=True)]
    projects = [
        a_project("ONB-LATE", "OPP-1", created_at=at("2026-11-04T10:00:00")),
        a_project("ONB-EARLY", "OPP-1", created_at=at("2026-11-03T10:00:00")),
    ]
    first, last = dt.date(2026, 11, 2), dt.date(2026, 11, 5)
    daily = {START + dt.timedelta(days=i): rows_of(("billing.po_missing", "ACC-OPP-1", "warn")) for i in range(4)}
    assert backlog_days(first, last, daily, ruleset, deals=deals, onboarding_projects=projects) == {
        "ONB-EARLY": [dt.date(2026, 11, 5)]
    }


def test_the_monitor_ties_billing_findings_to_the_earliest_open_onboarding(conn, ruleset):
    """The case above through the monitor: the billing area stamps its finding with the
    account's earliest open onboarding, and the backlog ages it under that journey."""
    day = dt.date(2026, 11, 2)
    deals = [a_deal("OPP-1", strategic=True)]
    projects = [
        a_project("ONB-LATE", "OPP-1", created_at=at("2026-11-04T10:00:00")),
        a_project("ONB-EARLY", "OPP-1", created_at=at("2026-11-03T10:00:00")),
    ]
    billing = [{"account_id": "ACC-OPP-1", "po_required": True, "tax_id_required": False, "address_validated": True}]
    billing[0] |= {"address_line1": "1 Main St", "city": "Austin", "postal_code": "73301", "country": "US"}
    billing[0] |= {"bill_to_contact": "ap@example.com"}
    snapshot = Snapshot.from_frames(
        day,
        {
            "deals": frame("deals", deals),
            "onboarding_projects": frame("onboarding_projects", projects),
            "billing_accounts": frame("billing_accounts", billing),
        },
    )
    raised = AREAS["billing"](snapshot, day, ruleset).findings.row(0, named=True)
    assert (raised["rule_id"], raised["subject_key"], raised["onboarding_id"]) == (
        "billing.po_missing",
        "ACC-OPP-1",
        "ONB-EARLY",
    )
    context = {
        ("billing.po_missing", "ACC-OPP-1"): tuple(
            raised[c] for c in ("onboarding_id", "opportunity_id", "segment", "strategic", "high_value")
        )
    }
    daily = {day + dt.timedelta(days=i): rows_of(("billing.po_missing", "ACC-OPP-1", "warn")) for i in range(4)}
    assert monitor_backlog_days(conn, day, dt.date(2026, 11, 5), daily, context, ruleset) == {
        "ONB-EARLY": {dt.date(2026, 11, 5): "high"}
    }
