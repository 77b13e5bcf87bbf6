"""Handoff, ownership and customer rules on hand-built snapshots: SLAs, segments, edges."""

from __future__ import annotations

import datetime as dt

import pytest

from hypercare.areas import customer, handoff, ownership
from hypercare.ruleset import load_ruleset
from hypercare.snapshot import Snapshot
from tests.scenario import deal, frame, handoff_rows, project, task, ts

RULES = load_ruleset()


def evaluate(area, as_of, **entities):
    frames = {name: frame(rows) for name, rows in entities.items() if rows}
    return area.evaluate(Snapshot.from_frames(as_of, frames), as_of, RULES)


def fired(area, as_of, **entities) -> dict[tuple[str, str], str]:
    found = evaluate(area, as_of, **entities).findings
    return {(r, s): sev for r, s, sev in zip(found["rule_id"], found["subject_key"], found["severity"], strict=True)}


# -- handoff ---------------------------------------------------------------------------
def test_required_fields_depend_on_segment():
    submitted = ts("2026-11-03 10:00")
    deals = [deal("O1", segment="smb"), deal("O2", segment="enterprise")]
    projects = [
        project("P1", "O1", onboarding_id="N1", handoff_submitted_at=submitted, handoff_accepted_at=submitted),
        project("P2", "O2", onboarding_id="N2", handoff_submitted_at=submitted, handoff_accepted_at=submitted),
    ]
    # Executive sponsor is required for enterprise only.
    fields = handoff_rows("N1", ts("2026-11-02 10:00"), missing=("stakeholder_executive_sponsor",))
    fields += handoff_rows("N2", ts("2026-11-02 10:00"), missing=("stakeholder_executive_sponsor",))
    found = fired(handoff, dt.date(2026, 11, 4), deals=deals, onboarding_projects=projects, handoff_fields=fields)
    assert ("handoff.incomplete_at_submission", "N1") not in found
    assert found[("handoff.incomplete_at_submission", "N2")] == "info"


def test_field_filled_after_submission_counts_as_missing_at_submission():
    deals = [deal("O1", segment="smb")]
    projects = [project("P1", "O1", onboarding_id="N1", handoff_submitted_at=ts("2026-11-03 10:00"))]
    fields = handoff_rows("N1", ts("2026-11-02 10:00"), package={"filled_at": ts("2026-11-03 10:01")})
    found = fired(handoff, dt.date(2026, 11, 3), deals=deals, onboarding_projects=projects, handoff_fields=fields)
    assert ("handoff.incomplete_at_submission", "N1") in found


@pytest.mark.parametrize(
    ("kickoff_for", "fires"),
    [
        ("2026-11-25 10:00", True),  # Wednesday, 0.4 business days after Tuesday's run
        ("2026-11-30 10:00", True),  # Monday: Wed + (Thu, Fri holidays) + weekend -> 1.4
        ("2026-12-01 10:00", False),  # Tuesday: 2.4 business days out
    ],
)
def test_missing_field_with_kickoff_within_two_business_days(kickoff_for, fires):
    as_of = dt.date(2026, 11, 24)
    deals = [deal("O1", segment="smb")]
    projects = [project("P1", "O1", onboarding_id="N1", kickoff_scheduled_for=ts(kickoff_for))]
    fields = handoff_rows("N1", ts("2026-11-02 10:00"), missing=("success_criteria",))
    found = fired(handoff, as_of, deals=deals, onboarding_projects=projects, handoff_fields=fields)
    assert (("handoff.incomplete_before_kickoff", "N1") in found) is fires


def test_kickoff_held_with_missing_success_criteria():
    deals = [deal("O1", segment="smb")]
    kickoff = ts("2026-11-05 15:00")
    projects = [
        project(
            "P1",
            "O1",
            onboarding_id="N1",
            kickoff_scheduled_at=ts("2026-11-03 10:00"),
            kickoff_scheduled_for=kickoff,
            kickoff_completed_at=kickoff,
        )
    ]
    fields = handoff_rows(
        "N1",
        ts("2026-11-02 10:00"),
        success_criteria={"filled_at": ts("2026-11-06 09:00")},
        package={"corrected_at": ts("2026-11-06 09:00")},
    )
    result = evaluate(handoff, dt.date(2026, 11, 9), deals=deals, onboarding_projects=projects, handoff_fields=fields)
    by_rule = dict(zip(result.findings["rule_id"], result.findings["reason_code"], strict=True))
    assert by_rule == {
        "handoff.incomplete_before_kickoff": "data_quality",
        "handoff.no_success_criteria": "no_success_criteria",
        "handoff.late_correction": "data_quality",
    }


def test_acceptance_wait_after_one_business_day():
    deals = [deal("O1")]
    projects = [project("P1", "O1", onboarding_id="N1", handoff_submitted_at=ts("2026-11-06 15:00"))]
    assert ("handoff.acceptance_wait", "N1") not in fired(
        handoff, dt.date(2026, 11, 8), deals=deals, onboarding_projects=projects
    )
    assert ("handoff.acceptance_wait", "N1") in fired(
        handoff, dt.date(2026, 11, 9), deals=deals, onboarding_projects=projects
    )


# -- ownership -------------------------------------------------------------------------
def test_no_owner_clock_starts_at_the_earlier_of_eligible_and_created():
    deals = [deal("O1", closed_won_at=ts("2026-11-02 10:00"), contract_signed_at=ts("2026-11-02 09:00"))]
    projects = [project("P1", "O1", onboarding_id="N1", created_at=ts("2026-11-03 11:00"))]
    found = fired(ownership, dt.date(2026, 11, 3), deals=deals, onboarding_projects=projects)
    assert ("ownership.no_owner", "N1") in found  # eligible Monday 10:00, late Tuesday 10:00
    owned = [project("P1", "O1", onboarding_id="N1", onboarding_owner="a@x", created_at=ts("2026-11-03 11:00"))]
    assert ("ownership.no_owner", "N1") not in fired(
        ownership, dt.date(2026, 11, 3), deals=deals, onboarding_projects=owned
    )


@pytest.mark.parametrize(
    ("segment", "strategic", "day", "expected"),
    [
        ("smb", False, 3, None),  # eligible Mon 10:00: 1.58 business days by Tuesday's end
        ("smb", False, 4, "warn"),  # 2.58 >= 2
        ("mid_market", False, 4, None),  # needs 3
        ("mid_market", False, 5, "warn"),
        ("mid_market", True, 5, "high"),  # strategic -> high value
    ],
)
def test_kickoff_scheduling_sla_per_segment(segment, strategic, day, expected):
    deals = [deal("O1", segment=segment, strategic=strategic)]
    projects = [project("P1", "O1", onboarding_id="N1", onboarding_owner="a@x")]
    result = evaluate(ownership, dt.date(2026, 11, day), deals=deals, onboarding_projects=projects)
    rows = result.findings.filter(result.findings["rule_id"] == "ownership.kickoff_not_scheduled")
    assert (rows["severity"].to_list() or [None])[0] == expected
    if expected:
        assert rows["alert"].to_list() == [expected == "high"]


def test_high_value_by_arr_threshold():
    deals = [deal("O1", segment="smb", arr=100_000.0), deal("O2", segment="smb", arr=99_999.0)]
    projects = [project("P1", "O1", onboarding_id="N1"), project("P2", "O2", onboarding_id="N2")]
    found = fired(ownership, dt.date(2026, 11, 9), deals=deals, onboarding_projects=projects)
    assert found[("ownership.kickoff_not_completed", "N1")] == "high"
    assert found[("ownership.kickoff_not_completed", "N2")] == "warn"


def test_missing_roles_depend_on_segment_integrations_and_billing():
    deals = [deal("O1", segment="enterprise"), deal("O2", segment="smb"), deal("O3", segment="smb")]
    base = {"onboarding_owner": "o@x", "csm_owner": "c@x", "kickoff_task_created_at": ts("2026-11-02 13:00")}
    projects = [
        project("P1", "O1", onboarding_id="N1", **base),
        project("P2", "O2", onboarding_id="N2", **base),
        project("P3", "O3", onboarding_id="N3", **base),
    ]
    items = [
        {
            "item_id": "I1",
            "onboarding_id": "N2",
            "item_type": "integration",
            "target_system": "crm",
            "status": "pending",
            "created_at": ts("2026-11-02 13:00"),
        }
    ]
    billing = [
        {
            "account_id": "ACC-O3",
            "tax_id_required": True,
            "tax_id_status": "missing",
            "po_required": False,
            "updated_at": ts("2026-11-02 13:00"),
        }
    ]
    result = evaluate(
        ownership,
        dt.date(2026, 11, 4),
        deals=deals,
        onboarding_projects=projects,
        provisioning_items=items,
        billing_accounts=billing,
    )
    rows = result.findings.filter(result.findings["rule_id"] == "ownership.missing_role")
    assert dict(zip(rows["subject_key"], rows["evidence"], strict=True)) == {
        "N1": '{"missing_roles":["technical_owner"],"created_at":"2026-11-02T12:00:00+00:00"}',
        "N2": '{"missing_roles":["technical_owner"],"created_at":"2026-11-02T12:00:00+00:00"}',
        "N3": '{"missing_roles":["finance_owner"],"created_at":"2026-11-02T12:00:00+00:00"}',
    }
    assert (
        fired(
            ownership,
            dt.date(2026, 11, 3),
            deals=deals,
            onboarding_projects=projects,
            provisioning_items=items,
            billing_accounts=billing,
        )
        .keys()
        .isdisjoint({("ownership.missing_role", n) for n in ("N1", "N2", "N3")})
    )


def test_kickoff_churn_threshold():
    deals = [deal("O1"), deal("O2")]
    projects = [
        project("P1", "O1", onboarding_id="N1", kickoff_no_shows=1, kickoff_reschedules=1),
        project("P2", "O2", onboarding_id="N2", kickoff_no_shows=None, kickoff_reschedules=1),
    ]
    found = fired(ownership, dt.date(2026, 11, 3), deals=deals, onboarding_projects=projects)
    assert ("ownership.kickoff_churn", "N1") in found
    assert ("ownership.kickoff_churn", "N2") not in found


# -- customer --------------------------------------------------------------------------
def test_overdue_task_blocking_first_value_alerts():
    deals = [deal("O1")]
    projects = [project("P1", "O1", onboarding_id="N1")]
    tasks = [
        task("T1", "N1", due_at=ts("2026-11-06 17:00"), blocks_first_value=True),
        task("T2", "N1", due_at=ts("2026-11-06 17:00"), reason_code="waiting_on_customer_admin"),
        task("T3", "N1", due_at=ts("2026-11-07 00:00")),  # due exactly at the end of the 6th
        task("T4", "N1", due_at=ts("2026-11-05 17:00"), completed_at=ts("2026-11-06 10:00")),
    ]
    result = evaluate(customer, dt.date(2026, 11, 6), deals=deals, onboarding_projects=projects, customer_tasks=tasks)
    rows = {
        (r, s): (reason, alert)
        for r, s, reason, alert in result.findings.select("rule_id", "subject_key", "reason_code", "alert").iter_rows()
    }
    assert rows == {
        ("customer.task_overdue", "T1"): ("unclassified", False),
        ("customer.task_overdue", "T2"): ("waiting_on_customer_admin", False),
        ("customer.task_blocks_first_value", "T1"): ("unclassified", True),
        ("customer.stalled_without_reason", "T1"): ("unclassified", False),
    }


def test_no_response_counts_business_days_since_last_response():
    deals = [deal("O1")]
    projects = [project("P1", "O1", onboarding_id="N1")]
    tasks = [
        task("T1", "N1", due_at=None, last_customer_response_at=ts("2026-11-02 09:00")),
        task("T2", "N1", due_at=None, created_at=ts("2026-11-03 09:00")),
    ]
    on_6th = fired(customer, dt.date(2026, 11, 6), deals=deals, onboarding_projects=projects, customer_tasks=tasks)
    assert ("customer.no_response", "T1") not in on_6th  # 4.6 business days
    on_9th = fired(customer, dt.date(2026, 11, 9), deals=deals, onboarding_projects=projects, customer_tasks=tasks)
    assert ("customer.no_response", "T1") in on_9th
    assert ("customer.no_response", "T2") not in on_9th  # never responded: 4.6 days since creation
    on_10th = fired(customer, dt.date(2026, 11, 10), deals=deals, onboarding_projects=projects, customer_tasks=tasks)
    assert ("customer.no_response", "T2") in on_10th


def test_milestone_grace_per_segment_and_first_value_evidence():
    deals = [deal("O1", segment="smb"), deal("O2", segment="enterprise", strategic=True)]
    projects = [project("P1", "O1", onboarding_id="N1"), project("P2", "O2", onboarding_id="N2")]
    target = ts("2026-11-02 17:00")
    milestones = [
        {"onboarding_id": "N1", "milestone": "configuration", "target_at": target},
        {"onboarding_id": "N2", "milestone": "configuration", "target_at": target, "reason_code": "scope_mismatch"},
        {"onboarding_id": "N1", "milestone": "first_value", "target_at": target, "completed_at": target},
    ]
    on_4th = fired(customer, dt.date(2026, 11, 4), deals=deals, onboarding_projects=projects, milestones=milestones)
    assert on_4th[("customer.milestone_aged", "N1:configuration")] == "warn"  # smb: 2 days of grace
    assert on_4th[("customer.stalled_without_reason", "N1:configuration")] == "warn"
    assert ("customer.milestone_aged", "N2:configuration") not in on_4th  # enterprise: 5 days
    assert on_4th[("customer.first_value_without_evidence", "N1")] == "warn"
    on_9th = fired(customer, dt.date(2026, 11, 9), deals=deals, onboarding_projects=projects, milestones=milestones)
    assert on_9th[("customer.milestone_aged", "N2:configuration")] == "high"
    assert ("customer.stalled_without_reason", "N2:configuration") not in on_9th


def test_closed_projects_do_not_wait_on_customers():
    deals = [deal("O1")]
    projects = [project("P1", "O1", onboarding_id="N1", status="completed")]
    tasks = [task("T1", "N1")]
    assert fired(customer, dt.date(2026, 11, 20), deals=deals, onboarding_projects=projects, customer_tasks=tasks) == {}


def test_ai_conflicts_compare_list_columns_as_contract_text():
    from hypercare.areas import ai

    deals = [deal("O1", contracted_services=["implementation", "training"], package="Pro")]
    projects = [project("P1", "O1", onboarding_id="N1")]
    base = {
        "onboarding_id": "N1",
        "kind": "field_extraction",
        "confidence": 0.95,
        "evidence_count": 1,
        "material_commitment": False,
        "model": "m",
        "prompt_version": "v1",
        "created_at": ts("2026-11-02 13:00"),
        "routing": "human_review",
        "review_decision": "pending",
        "customer_facing": False,
        "sensitive_data": False,
    }
    suggestions = [
        base | {"suggestion_id": "S1", "field": "contracted_services", "suggested_value": "implementation;training"},
        base | {"suggestion_id": "S2", "field": "contracted_services", "suggested_value": "implementation;sso"},
        base | {"suggestion_id": "S3", "field": "package", "suggested_value": " pro "},
        base
        | {"suggestion_id": "S4", "field": "package", "suggested_value": "Enterprise", "review_decision": "rejected"},
    ]
    found = fired(ai, dt.date(2026, 11, 3), deals=deals, onboarding_projects=projects, ai_suggestions=suggestions)
    assert {s for r, s in found if r == "ai.conflicts_with_source"} == {"S2"}


def test_a_field_filled_after_the_as_of_instant_is_still_missing():
    deals = [deal("O1", segment="smb")]
    projects = [project("P1", "O1", onboarding_id="N1", kickoff_scheduled_for=ts("2026-11-25 10:00"))]
    fields = handoff_rows("N1", ts("2026-11-02 10:00"), package={"filled_at": ts("2026-11-25 00:01")})
    found = fired(handoff, dt.date(2026, 11, 24), deals=deals, onboarding_projects=projects, handoff_fields=fields)
    assert ("handoff.incomplete_before_kickoff", "N1") in found
