"""Trigger-health rules on hand-built snapshots: thresholds, business days, exclusions."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hypercare.areas import trigger
from hypercare.calendar import BusinessCalendar
from hypercare.ruleset import load_ruleset
from hypercare.snapshot import Snapshot
from tests.scenario import deal, frame, project, ts

RULES = load_ruleset()


def fired(as_of, deals=(), projects=(), ruleset=RULES) -> set[tuple[str, str]]:
    frames = {}
    if deals:
        frames["deals"] = frame(list(deals))
    if projects:
        frames["onboarding_projects"] = frame(list(projects))
    result = trigger.evaluate(Snapshot.from_frames(as_of, frames), as_of, ruleset)
    return set(zip(result.findings["rule_id"], result.findings["subject_key"], strict=True))


def with_calendar(**kwargs):
    return dataclasses.replace(RULES, calendar=BusinessCalendar(**kwargs))


MISSED = "trigger.missed_eligible"


@pytest.mark.parametrize(
    ("as_of", "late"),
    [
        (dt.date(2026, 11, 20), False),  # Friday: eligible 16:00 the same day
        (dt.date(2026, 11, 21), False),  # Saturday
        (dt.date(2026, 11, 22), False),  # Sunday
        (dt.date(2026, 11, 23), True),  # Monday: one business day reached at 16:00
    ],
)
def test_friday_afternoon_eligibility_is_late_from_monday(as_of, late):
    friday = deal("O1", closed_won_at=ts("2026-11-20 16:00"), contract_signed_at=ts("2026-11-20 15:00"))
    assert ((MISSED, "O1") in fired(as_of, [friday])) is late


def test_holidays_do_not_count():
    # Eligible Wednesday 2026-11-25 10:00; Thursday and Friday are configured holidays.
    wednesday = deal("O1", closed_won_at=ts("2026-11-25 10:00"), contract_signed_at=ts("2026-11-25 09:00"))
    assert (MISSED, "O1") not in fired(dt.date(2026, 11, 27), [wednesday])
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 30), [wednesday])
    without_holidays = with_calendar(holidays=())
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 26), [wednesday], ruleset=without_holidays)


def test_business_timezone_moves_the_day_boundary():
    # Sunday 22:00 in New York is Monday 03:00 UTC. In New York the clock starts Monday
    # 00:00 and covers a full business day by the end of Monday; in UTC it starts at
    # 03:00 and is late only from Tuesday 03:00.
    sunday_night_ny = deal(
        "O1",
        closed_won_at=ts("2026-11-22 22:00", "America/New_York"),
        contract_signed_at=ts("2026-11-20 09:00", "America/New_York"),
    )
    new_york = with_calendar(timezone="America/New_York")
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 23), [sunday_night_ny], ruleset=new_york)
    assert (MISSED, "O1") not in fired(dt.date(2026, 11, 23), [sunday_night_ny], ruleset=with_calendar())
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 24), [sunday_night_ny], ruleset=with_calendar())


def test_eligibility_needs_signature_and_prepayment():
    as_of = dt.date(2026, 11, 10)
    unsigned = deal("O1", contract_state="sent", contract_signed_at=None)
    unpaid = deal("O2", payment_condition="prepayment")
    paid_late = deal("O3", payment_condition="prepayment", payment_received_at=ts("2026-11-09 10:00"))
    paid = deal("O4", payment_condition="prepayment", payment_received_at=ts("2026-11-05 10:00"))
    found = fired(as_of, [unsigned, unpaid, paid_late, paid])
    assert {s for r, s in found if r == MISSED} == {"O3", "O4"}
    # O3 became eligible on the 9th at 10:00 and is late from the 10th 10:00 on.
    assert (MISSED, "O3") not in fired(dt.date(2026, 11, 9), [paid_late])


def test_cancelled_project_does_not_onboard_and_excluded_deal_never_fires():
    as_of = dt.date(2026, 11, 10)
    deals = [deal("O1"), deal("O2", excluded_reason="partner_led"), deal("O3")]
    projects = [project("P1", "O1", status="cancelled"), project("P3", "O3")]
    assert {s for r, s in fired(as_of, deals, projects) if r == MISSED} == {"O1"}


def test_premature_start():
    as_of = dt.date(2026, 11, 10)
    deals = [
        deal("O1", contract_state="sent", contract_signed_at=None),  # never eligible
        deal("O2", contract_signed_at=ts("2026-11-03 09:00")),  # signed after creation
        deal("O3"),  # fine
        deal("O4", stage="open", closed_won_at=None, excluded_reason="pilot"),  # excluded
    ]
    projects = [
        project("P1", "O1"),
        project("P2", "O2", created_at=ts("2026-11-02 12:00")),
        project("P3", "O3"),
        project("P4", "O4"),
        project("P5", "O1", status="cancelled"),
        project("P6", "O-missing"),
    ]
    found = {s for r, s in fired(as_of, deals, projects) if r == "trigger.premature_start"}
    assert found == {"P1", "P2"}


def test_duplicates_escalate_for_strategic_deals():
    as_of = dt.date(2026, 11, 10)
    deals = [deal("O1"), deal("O2", strategic=True), deal("O3")]
    projects = [
        project("P1", "O1"),
        project("P2", "O1"),
        project("P3", "O2"),
        project("P4", "O2"),
        project("P5", "O3"),
        project("P6", "O3", status="cancelled"),
    ]
    result = trigger.evaluate(
        Snapshot.from_frames(as_of, {"deals": frame(deals), "onboarding_projects": frame(projects)}), as_of, RULES
    )
    dups = result.findings.filter(result.findings["rule_id"] == "trigger.duplicate_project")
    assert dict(zip(dups["subject_key"], dups["severity"], strict=True)) == {"O1": "warn", "O2": "high"}


def test_manual_creation_fires_only_above_the_weekly_share():
    as_of = dt.date(2026, 11, 13)
    deals = [deal(f"O{i}") for i in range(20)]
    automated = [project(f"P{i}", f"O{i}", created_at=ts("2026-11-10 12:00")) for i in range(1, 19)]
    one_manual = [*automated, project("P0", "O0", created_by="manual", created_at=ts("2026-11-09 12:00"))]
    found = fired(as_of, deals, one_manual)
    assert not {s for r, s in found if r == "trigger.manual_creation"}  # 1 of 19 = 5%
    two_manual = [*one_manual, project("P19", "O19", created_by="manual", created_at=ts("2026-11-12 08:00"))]
    found = fired(as_of, deals, two_manual)
    assert not {s for r, s in found if r == "trigger.manual_creation"}  # 2 of 20 = 10%, not above
    three = [*two_manual, project("PX", None, created_by="manual", created_at=ts("2026-11-12 09:00"))]
    found = fired(as_of, deals, three)
    assert {s for r, s in found if r == "trigger.manual_creation"} == {"P0", "P19", "PX"}  # 3 of 21
    # A week later the old manual projects fall out of the window.
    later = fired(dt.date(2026, 11, 20), deals, three)
    assert {s for r, s in later if r == "trigger.manual_creation"} == set()


def test_unlinked_stuck_paused_and_signed_not_closed():
    deals = [
        deal("O1", contract_state="sent", contract_signed_at=None, closed_won_at=ts("2026-11-02 10:00")),
        deal("O2", stage="open", closed_won_at=None, contract_signed_at=ts("2026-11-05 15:00")),
        deal(
            "O3", stage="open", closed_won_at=None, contract_signed_at=ts("2026-11-05 15:00"), excluded_reason="renewal"
        ),
        deal("O4"),
    ]
    projects = [
        project("P1", None),
        project("P2", None, status="cancelled"),
        project("P4", "O4", status="paused", paused_reason="missing_billing", paused_at=ts("2026-11-05 11:00")),
    ]
    on_6th = fired(dt.date(2026, 11, 6), deals, projects)
    assert ("trigger.signed_not_closed", "O2") in on_6th
    assert ("trigger.signed_not_closed", "O3") not in on_6th
    assert ("trigger.unlinked_project", "P1") in on_6th
    assert ("trigger.unlinked_project", "P2") not in on_6th
    assert ("trigger.stuck_before_eligible", "O1") not in on_6th  # 4.58 business days
    assert ("trigger.paused_handoff", "P4") not in on_6th
    on_9th = fired(dt.date(2026, 11, 9), deals, projects)
    assert ("trigger.stuck_before_eligible", "O1") in on_9th
    assert ("trigger.paused_handoff", "P4") in on_9th


def test_paused_reason_maps_to_reason_code():
    as_of = dt.date(2026, 11, 20)
    projects = [project("P1", "O1", status="paused", paused_reason="missing_billing", paused_at=ts("2026-11-05 11:00"))]
    result = trigger.evaluate(
        Snapshot.from_frames(as_of, {"deals": frame([deal("O1")]), "onboarding_projects": frame(projects)}),
        as_of,
        RULES,
    )
    assert result.findings["reason_code"].to_list() == ["waiting_on_billing_info"]


def test_thresholds_come_from_configuration():
    stricter = dataclasses.replace(
        RULES,
        rules=RULES.rules | {MISSED: dataclasses.replace(RULES.rule(MISSED), params={"business_days": 3})},
    )
    eligible = deal("O1", closed_won_at=ts("2026-11-02 10:00"))
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 4), [eligible])
    assert (MISSED, "O1") not in fired(dt.date(2026, 11, 4), [eligible], ruleset=stricter)
    assert (MISSED, "O1") in fired(dt.date(2026, 11, 5), [eligible], ruleset=stricter)
