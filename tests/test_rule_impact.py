"""Rule changes without fear: the impact preview and the scoped versions of the configuration."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from hypercare import db
from hypercare.cli import main
from hypercare.evaluate import evaluate_day
from hypercare.impact import affected_areas, preview_impact
from hypercare.loader import load_snapshot
from hypercare.ruleset import DEFAULT_RULES_FILE, load_ruleset, parse_ruleset
from hypercare.scorecard.build import compile_and_archive
from hypercare.synth import generate
from tests.conftest import fresh_database

START = dt.date(2026, 11, 2)
DAYS = 8
RULES = load_ruleset()
SOURCE = DEFAULT_RULES_FILE.read_text()


def edited(*replacements: tuple[str, str]) -> str:
    """The default rules file with each (old, new) text replaced exactly once."""
    text = SOURCE
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# Missed-eligible deals are late after 3 business days instead of 1; kickoffs of high-value
# accounts not scheduled in time are critical instead of high.
LATER_AND_STRICTER = edited(
    (
        "reason_code: integration_failure\n    params: {business_days: 1}\n\n  trigger.premature_start",
        "reason_code: integration_failure\n    params: {business_days: 3}\n\n  trigger.premature_start",
    ),
    (
        "severity: warn\n    severity_when_high_value: high\n    alert: false\n    alert_when_high_value: true\n"
        "    owner_roles: [onboarding_lead, account_owner]\n    reason_code: unclassified\n    params:\n"
        "      business_days_by_segment: {enterprise: 3",
        "severity: warn\n    severity_when_high_value: critical\n    alert: false\n    alert_when_high_value: true\n"
        "    owner_roles: [onboarding_lead, account_owner]\n    reason_code: unclassified\n    params:\n"
        "      business_days_by_segment: {enterprise: 3",
    ),
)
NEW_ROUTE = edited(('revops: {slack: "#revops-alerts"}', 'revops: {slack: "#revops-oncall"}'))
NEW_RECIPIENT = edited(("revops: [revops@example.com]", "revops: [revops-leads@example.com]"))


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("impact-month")
    generate(out, start=START, days=DAYS, customers=300, seed=11, ruleset=RULES)
    return out


def evaluated_store(url, month, ruleset=RULES):
    with db.connect(url, autocommit=True) as conn:
        for offset in range(DAYS):
            day = START + dt.timedelta(days=offset)
            load_snapshot(conn, month, day)
            evaluate_day(conn, day, ruleset)


def whole_store(conn) -> dict[str, list]:
    """Every row of every table of the audit store (landing included), in a stable order."""
    tables = [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'hypercare' and table_type = 'BASE TABLE' order by 1"
        )
    ]
    return {t: conn.execute(f"select t::text from hypercare.{t} as t order by 1").fetchall() for t in tables}


def findings_by_rule(conn, first, last) -> dict[str, int]:
    rows = conn.execute(
        "select rule_id, count(distinct finding_id) from hypercare.finding_occurrences "
        "where as_of between %s and %s group by 1",
        (first, last),
    ).fetchall()
    return dict(rows)


@pytest.fixture
def evaluated_pair(pg_admin_url, month) -> Iterator[tuple[str, str]]:
    """The month evaluated once, in a store and in a copy of it (a copy costs a fraction of a second evaluation)."""
    with fresh_database(pg_admin_url) as url:
        evaluated_store(url, month)
        with fresh_database(pg_admin_url, copy_of=url) as copy:
            yield url, copy


def test_preview_matches_a_real_backfill_and_leaves_the_store_byte_identical(evaluated_pair, tmp_path):
    db_url, reference_db_url = evaluated_pair
    proposed = parse_ruleset(LATER_AND_STRICTER)
    last = START + dt.timedelta(days=DAYS - 1)

    with db.connect(db_url, autocommit=True) as conn:
        before = whole_store(conn)
        report = preview_impact(conn, proposed, START, last)
        assert whole_store(conn) == before
    cli_report = preview_through_the_cli(db_url, tmp_path)
    with db.connect(db_url, autocommit=True) as conn:
        assert whole_store(conn) == before
    assert cli_report["rules"] == json.loads(json.dumps(report.rules))

    with db.connect(reference_db_url, autocommit=True) as conn:
        pending_before = {r[0] for r in conn.execute("select notification_id from hypercare.alert_outbox")}
        for offset in range(DAYS):
            evaluate_day(conn, START + dt.timedelta(days=offset), proposed)
        backfilled = findings_by_rule(conn, START, last)
        queued = conn.execute(
            "select count(*) from hypercare.alert_outbox where status = 'pending' and not (notification_id = any(%s))",
            (list(pending_before),),
        ).fetchone()[0]
        escalated = conn.execute(
            "select count(distinct finding_id) from hypercare.finding_occurrences "
            "where rule_id = 'ownership.kickoff_not_scheduled' and severity = 'critical' and as_of <= %s",
            (last,),
        ).fetchone()[0]

    assert report.areas == ["trigger", "ownership", "backlog"]
    assert report.days_evaluated == [START + dt.timedelta(days=i) for i in range(DAYS)]
    rules = {row["rule_id"]: row for row in report.rules}
    for rule_id, row in rules.items():
        assert row["findings_after"] == backfilled.get(rule_id, 0), rule_id
        assert row["added"] - row["removed"] == row["findings_after"] - row["findings_before"]
    missed = rules["trigger.missed_eligible"]
    assert missed["removed"] > 0 and missed["added"] == 0
    assert missed["no_longer_flagged"] > 0 and missed["no_longer_flagged_arr"] > 0
    cleared = [c for c in report.customers if c["rule_id"] == "trigger.missed_eligible"]
    assert {c["change"] for c in cleared} == {"no_longer_flagged"}
    assert len(cleared) == missed["no_longer_flagged"]
    assert sum(c["arr"] for c in cleared) == pytest.approx(missed["no_longer_flagged_arr"])
    assert all(c["segment"] and c["account_name"] for c in cleared)
    assert missed["alerts_after"] < missed["alerts_before"]
    assert all(r["added"] == r["removed"] == 0 for r in report.rules if r["rule_id"].startswith("ownership."))
    assert report.severity_changes == [
        {
            "rule_id": "ownership.kickoff_not_scheduled",
            "severity_before": "high",
            "severity_after": "critical",
            "findings": escalated,
        }
    ]
    assert escalated > 0
    assert report.notifications_queued == queued


def test_a_day_evaluated_inside_a_transaction_equals_one_evaluated_with_overlapped_writes(
    db_url, reference_db_url, month
):
    """On an autocommit connection each area's writes overlap the next area's reads on other
    connections; inside a caller's transaction (the preview's) one connection does it all.
    Both must leave the same findings, lifecycle, trace, forecasts and metrics."""
    tables = [
        "finding_occurrences",
        "finding_state",
        "finding_events",
        "trace_events",
        "finding_forecasts",
        "metric_values",
    ]
    stores = []
    for url, in_transaction in ((db_url, False), (reference_db_url, True)):
        with db.connect(url, autocommit=True) as conn:
            for offset in range(4):
                day = START + dt.timedelta(days=offset)
                load_snapshot(conn, month, day)
                if in_transaction:
                    with conn.transaction():
                        evaluate_day(conn, day, RULES)
                else:
                    evaluate_day(conn, day, RULES)
            stores.append(
                {t: conn.execute(f"select t::text from hypercare.{t} as t order by 1").fetchall() for t in tables}
            )
    assert stores[0]["finding_occurrences"] and stores[0]["trace_events"]
    assert stores[0] == stores[1]


def test_preview_writes_nothing_even_for_a_window_never_evaluated(db_url, month):
    with db.connect(db_url, autocommit=True) as conn:
        for offset in range(2):
            load_snapshot(conn, month, START + dt.timedelta(days=offset))
        before = whole_store(conn)
        report = preview_impact(conn, RULES, START, START + dt.timedelta(days=2))
        assert whole_store(conn) == before
    assert report.committed_versions == []
    assert report.days_not_loaded == [START + dt.timedelta(days=2)]
    assert sum(r["added"] for r in report.rules) == sum(r["findings_after"] for r in report.rules) > 0
    assert {c["change"] for c in report.customers} == {"newly_flagged"}


def test_preview_refuses_to_run_inside_a_caller_transaction(conn):
    conn.execute("select 1")
    with pytest.raises(RuntimeError, match="outside any transaction"):
        preview_impact(conn, RULES, START, START)


def test_only_areas_the_change_can_affect_are_reevaluated():
    committed = [json.loads(json.dumps(RULES.scoped_content("rules"), default=str))]
    assert affected_areas(parse_ruleset(NEW_ROUTE), committed) == []
    assert affected_areas(parse_ruleset(LATER_AND_STRICTER), committed) == ["trigger", "ownership", "backlog"]
    holiday = parse_ruleset(edited(("    - 2026-11-27\n", "")))
    assert affected_areas(holiday, committed) == list(affected_areas(RULES, []))


def test_a_route_or_recipient_change_keeps_the_rule_set_version():
    route, recipient, rules = parse_ruleset(NEW_ROUTE), parse_ruleset(NEW_RECIPIENT), parse_ruleset(LATER_AND_STRICTER)
    assert route.version == recipient.version == RULES.version
    assert route.alerting_version != RULES.alerting_version
    assert recipient.scorecard_version != RULES.scorecard_version
    assert recipient.alerting_version == RULES.alerting_version
    assert rules.version != RULES.version and rules.alerting_version == RULES.alerting_version
    assert parse_ruleset(SOURCE.replace("# Hypercare rules configuration.", "# reworded")).versions == RULES.versions


def revops_routes(conn) -> dict[str, str]:
    rows = conn.execute(
        "select recipient, routing_version from hypercare.alert_outbox where owner_role = 'revops' "
        "and kind = 'firing' group by 1, 2"
    ).fetchall()
    return dict(rows)


def test_changing_a_route_neither_restamps_findings_nor_logs_a_backfill(conn, reference_db_url, month):
    day = START + dt.timedelta(days=DAYS - 1)
    load_snapshot(conn, month, day)
    evaluate_day(conn, day, RULES)
    route = parse_ruleset(NEW_ROUTE)
    summaries = evaluate_day(conn, day, route)
    assert all(s.replaced_version is None for s in summaries)
    assert conn.execute("select count(*) from hypercare.audit_log where action = 'backfill'").fetchone()[0] == 0
    versions = conn.execute("select distinct rule_version from hypercare.finding_occurrences").fetchall()
    assert versions == [(RULES.version,)]
    # Notices already queued keep the route and the routing version they were queued with.
    assert revops_routes(conn) == {"slack:#revops-alerts": RULES.alerting_version}
    stored = conn.execute(
        "select content -> 'alerting' -> 'routes' -> 'revops' ->> 'slack' from hypercare.config_versions "
        "where scope = 'alerting' and version = %s",
        (route.alerting_version,),
    ).fetchone()
    assert stored == ("#revops-oncall",)
    with db.connect(reference_db_url, autocommit=True) as fresh:
        load_snapshot(fresh, month, day)
        evaluate_day(fresh, day, route)
        assert revops_routes(fresh) == {"slack:#revops-oncall": route.alerting_version}

    scorecard = compile_and_archive(conn, day, parse_ruleset(NEW_RECIPIENT))
    assert scorecard.config.version == parse_ruleset(NEW_RECIPIENT).scorecard_version
    assert conn.execute("select config_version from hypercare.scorecards where as_of = %s", (day,)).fetchone() == (
        scorecard.config.version,
    )


def test_versions_stamped_before_scoped_versions_stay_readable(pg_admin_url, tmp_path):
    """A store built before migration 0009: its whole-file rule set, runs and queued
    notifications are migrated, and `rules diff` still compares against that version."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"hypercare_legacy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = urlunsplit(urlsplit(pg_admin_url)._replace(path=f"/{name}"))
    try:
        with db.connect(url) as conn:
            with conn.transaction():
                conn.execute("create schema hypercare")
                conn.execute(
                    "create table hypercare.schema_migrations (version text primary key, checksum text not null, "
                    "applied_at timestamptz not null default now())"
                )
                for version, text, checksum in db._migrations():
                    if version >= "0006":
                        break
                    conn.execute(text)
                    conn.execute("insert into hypercare.schema_migrations values (%s, %s)", (version, checksum))
                whole = json.loads(json.dumps(RULES.content, default=str))
                conn.execute(
                    "insert into hypercare.rule_sets (version, content, source) values ('legacy000001', %s, 'x')",
                    (psycopg.types.json.Jsonb(whole),),
                )
                conn.execute(
                    "insert into hypercare.evaluation_runs (as_of, area, rule_version, finding_count, metric_count) "
                    "values (%s, 'trigger', 'legacy000001', 1, 0)",
                    (START,),
                )
                conn.execute(
                    "insert into hypercare.alert_outbox (notification_id, finding_id, kind, episode_on, as_of, area, "
                    "rule_id, severity, owner_role, recipient, payload) values (gen_random_uuid(), "
                    "gen_random_uuid(), 'firing', %s, %s, 'trigger', 'trigger.missed_eligible', 'high', 'revops', "
                    "'slack:#revops-alerts', '{}')",
                    (START, START),
                )
            assert "0009_scoped_versions" in db.migrate(conn)
            assert conn.execute("select covers from hypercare.rule_sets").fetchall() == [("whole_file",)]
            scopes = dict(conn.execute("select scope, content from hypercare.config_versions").fetchall())
            assert set(scopes) == {"alerting", "scorecard", "operations"}
            assert scopes["alerting"] == {"alerting": whole["alerting"]}
            assert scopes["scorecard"] == {"hypercare": whole["hypercare"], "scorecard": whole["scorecard"]}
            assert conn.execute("select routing_version from hypercare.alert_outbox").fetchall() == [("legacy000001",)]
            conn.commit()
        rules_file = tmp_path / "rules.yaml"
        rules_file.write_text(NEW_ROUTE)
        output = _run_cli(["--db", url, "rules", "diff", "--rules", str(rules_file)])
        assert f"stored legacy000001 -> file {RULES.version}: 0 change(s)" in output
        assert "alerting: stored legacy000001" in output
        assert '~ alerting.routes.revops.slack: "#revops-alerts" -> "#revops-oncall"' in output
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')


def _run_cli(argv: list[str]) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(argv) == 0
    return buffer.getvalue()


def preview_through_the_cli(url: str, tmp_path) -> dict:
    """`hypercare rules impact` on the evaluated month: its table, and its JSON and CSV files."""
    rules_file = tmp_path / "proposed.yaml"
    rules_file.write_text(LATER_AND_STRICTER)
    out = tmp_path / "impact"
    last = START + dt.timedelta(days=DAYS - 1)
    output = _run_cli(["--db", url, "rules", "impact", "--rules", str(rules_file), "--out", str(out)])
    assert f"on {START}..{last} ({DAYS} day(s) evaluated)" in output
    assert "re-evaluated areas: trigger, ownership, backlog" in output
    assert "trigger.missed_eligible" in output and "nothing was written (rolled back)" in output
    report = json.loads((out / "impact.json").read_text())
    assert report["proposed_version"] == parse_ruleset(LATER_AND_STRICTER).version
    rules_csv = (out / "impact_rules.csv").read_text().splitlines()
    assert rules_csv[0].startswith("rule_id,findings_before,findings_after,added,removed,unchanged,newly_flagged")
    assert len(rules_csv) == len(report["rules"]) + 1
    customers_csv = (out / "impact_customers.csv").read_text().splitlines()
    assert customers_csv[0].startswith("change,rule_id,customer,opportunity_id,account_name,segment,arr")
    assert len(customers_csv) == len(report["customers"]) + 1
    return report
