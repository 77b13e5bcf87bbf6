"""Rules as a registry: the configuration is held to the implementations when it is loaded."""

from __future__ import annotations

import datetime as dt

import pytest

from hypercare.areas import AREAS, REGISTERED, customer
from hypercare.areas.registry import IMPLEMENTATIONS
from hypercare.ruleset import DEFAULT_RULES_FILE, load_ruleset, parse_ruleset
from hypercare.snapshot import Snapshot
from tests.scenario import deal, frame, project, task, ts

SOURCE = DEFAULT_RULES_FILE.read_text()
RULES = load_ruleset()


def edited(old: str, new: str) -> str:
    assert SOURCE.count(old) == 1, old
    return SOURCE.replace(old, new)


def refused(text: str) -> str:
    with pytest.raises(ValueError) as raised:
        parse_ruleset(text)
    return str(raised.value)


def test_every_configured_rule_has_exactly_one_implementation_in_its_area():
    assert set(IMPLEMENTATIONS) == set(RULES.rules)
    assert list(REGISTERED) == list(AREAS)
    for name, area in REGISTERED.items():
        assert area.rules and all(rule_id.split(".")[0] == name for rule_id in area.rules)
    assert sum(len(area.rules) for area in REGISTERED.values()) == len(RULES.rules)


def test_a_misspelt_escalation_is_a_clear_error():
    message = refused(
        edited(
            "severity_when_high_value: high\n    alert: false\n    alert_when_high_value: true\n"
            "    owner_roles: [onboarding_lead, account_owner]\n    reason_code: unclassified\n"
            "    params:\n      business_days_by_segment: {enterprise: 3",
            "severity_when_high_vaule: high\n    alert: false\n    alert_when_high_value: true\n"
            "    owner_roles: [onboarding_lead, account_owner]\n    reason_code: unclassified\n"
            "    params:\n      business_days_by_segment: {enterprise: 3",
        )
    )
    assert "rules.ownership.kickoff_not_scheduled: unknown key 'severity_when_high_vaule'" in message
    assert "severity_when_high_value" in message  # names what the implementation does read


def test_an_escalation_the_rule_does_not_support_is_refused():
    message = refused(
        edited("  trigger.unlinked_project:\n", "  trigger.unlinked_project:\n    severity_when_strategic: high\n")
    )
    assert "rules.trigger.unlinked_project: unknown key 'severity_when_strategic'" in message


def test_unknown_and_missing_params_are_refused():
    assert "rules.writeback.failed.params: unknown param 'stuck_hour'" in refused(
        edited("params: {stuck_hours: 4}", "params: {stuck_hour: 4}")
    )
    assert "rules.writeback.failed.params: missing param 'stuck_hours'" in refused(
        edited("params: {stuck_hours: 4}", "params: {stuck_hour: 4}")
    )


def test_a_rule_without_implementation_and_an_implementation_without_rule_are_refused():
    extra = edited(
        "  trigger.premature_start:\n", "  trigger.early_bird:\n    severity: warn\n\n  trigger.premature_start:\n"
    )
    assert "rules.trigger.early_bird: no implementation" in refused(extra)
    block = SOURCE[SOURCE.index("  writeback.retry_storm:\n") : SOURCE.index("  writeback.no_idempotency_key:\n")]
    message = refused(SOURCE.replace(block, ""))
    assert (
        "rules.writeback.retry_storm: implemented by hypercare.areas.writeback.retry_storm but not configured"
        in message
    )


def test_a_rule_given_twice_is_refused_with_its_lines():
    block = SOURCE[SOURCE.index("  writeback.retry_storm:\n") : SOURCE.index("  writeback.no_idempotency_key:\n")]
    message = refused(SOURCE.replace(block, block + block))
    assert "key 'writeback.retry_storm' given twice" in message and "line" in message


def test_bad_escalation_values_are_refused():
    assert "is not one of" in refused(edited("severity_when_strategic: high", "severity_when_strategic: urgent"))
    assert "is not true or false" in refused(edited("alert_when_launch_ready: true", "alert_when_launch_ready: maybe"))


def test_tables_naming_rules_must_name_existing_rules():
    assert "scorecard.fix_kind_by_rule: 'customer.stalled_without_reasons' is not a rule" in refused(
        edited("customer.stalled_without_reason: operating_model", "customer.stalled_without_reasons: operating_model")
    )
    assert "scorecard.fix_kind_by_rule: 'writebacks.*' names no area with rules" in refused(
        edited("writeback.*: setup_writeback", "writebacks.*: setup_writeback")
    )
    assert "alerting.next_actions: 'writeback.drifts' is not a rule" in refused(
        edited("    writeback.drift: Pause downstream", "    writeback.drifts: Pause downstream")
    )
    assert "alerting.inhibit[2]: 'provisioning.fail' is not a rule" in refused(
        edited("- source: provisioning.failed", "- source: provisioning.fail")
    )


def test_unknown_sections_are_refused_and_errors_name_the_file(tmp_path):
    assert "unknown section(s) ['alertng']" in refused(SOURCE.replace("\nalerting:\n", "\nalertng:\n"))
    path = tmp_path / "rules.yaml"
    path.write_text(edited("params: {stuck_hours: 4}", "params: {stuck_hour: 4}"))
    with pytest.raises(ValueError, match=f"^{path}: rules configuration does not match"):
        load_ruleset(path)


def test_an_areas_shared_preparation_runs_once_per_run(monkeypatch):
    """Six customer rules read the onboarding context; it is computed once."""
    calls = []
    real = customer.onboarding_context

    def counting(snapshot, ruleset):
        calls.append(snapshot.as_of)
        return real(snapshot, ruleset)

    monkeypatch.setattr(customer, "onboarding_context", counting)
    as_of = dt.date(2026, 11, 12)
    frames = {
        "deals": frame([deal("O1")]),
        "onboarding_projects": frame([project("P1", "O1", onboarding_id="N1")]),
        "customer_tasks": frame([task("T1", "N1", due_at=ts("2026-11-04 17:00"))]),
    }
    found = customer.evaluate(Snapshot.from_frames(as_of, frames), as_of, RULES).findings
    assert calls == [as_of]
    assert set(found["rule_id"]) == {"customer.task_overdue", "customer.stalled_without_reason", "customer.no_response"}
