"""dag.test() of hypercare_rule_impact: the preview's files are written and the store is untouched."""

from __future__ import annotations

import datetime as dt
import json

from hypercare import db
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import DEFAULT_RULES_FILE, load_ruleset
from hypercare.synth import generate

START = dt.date(2026, 11, 2)


def test_rule_impact_dag_writes_the_report_and_nothing_else(airflow_db, runnable_dagbag, db_url, tmp_path, monkeypatch):
    source = tmp_path / "source"
    generate(source, start=START, days=3, customers=120, seed=5, ruleset=load_ruleset())
    with db.connect(db_url, autocommit=True) as conn:
        for offset in range(3):
            load_snapshot(conn, source, START + dt.timedelta(days=offset))
            evaluate_day(conn, START + dt.timedelta(days=offset), load_ruleset())
        findings = conn.execute("select count(*), max(rule_version) from hypercare.finding_occurrences").fetchone()
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text(DEFAULT_RULES_FILE.read_text().replace("params: {stuck_hours: 4}", "params: {stuck_hours: 1}"))
    monkeypatch.setenv("AIRFLOW_CONN_HYPERCARE_DB", db_url)
    monkeypatch.setenv("HYPERCARE_HOME", str(tmp_path / "home"))

    run = runnable_dagbag.dags["hypercare_rule_impact"].test(
        run_conf={"rules_file": str(proposed), "date_from": "2026-11-02", "date_to": "2026-11-04"}
    )

    assert run.state == "success"
    (report_file,) = (tmp_path / "home" / "impact").glob("*/impact.json")
    report = json.loads(report_file.read_text())
    assert report["areas"] == ["writeback", "backlog"]
    assert (report["date_from"], report["date_to"]) == ("2026-11-02", "2026-11-04")
    assert (report_file.parent / "impact_rules.csv").exists() and (report_file.parent / "impact_customers.csv").exists()
    with db.connect(db_url) as conn:
        assert (
            conn.execute("select count(*), max(rule_version) from hypercare.finding_occurrences").fetchone() == findings
        )
