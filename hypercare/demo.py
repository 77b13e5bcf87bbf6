"""`make demo`: a synthetic hypercare month, loaded and evaluated day by day."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import psycopg

from hypercare import db
from hypercare.areas import AREAS

DEMO_DATABASE = "hypercare_demo"


@dataclass(frozen=True)
class TruthAgreement:
    expected: int
    found: int
    missed: pl.DataFrame
    unexpected: pl.DataFrame

    @property
    def exact(self) -> bool:
        return self.missed.is_empty() and self.unexpected.is_empty()


def truth_agreement(conn: psycopg.Connection, truth_file: Path, rule_prefixes: list[str]) -> TruthAgreement:
    """Compare stored findings with the generator's ground truth for the given areas."""
    keys = ["as_of", "rule_id", "subject_key", "severity"]
    truth = pl.read_csv(truth_file, schema_overrides={"as_of": pl.Date, "subject_key": pl.String})
    truth = truth.filter(pl.col("rule_id").str.extract(r"^([a-z_]+)\.").is_in(rule_prefixes))
    days = truth["as_of"].unique().to_list()
    rows = conn.execute(
        "select as_of, rule_id, subject_key, severity from hypercare.finding_occurrences "
        "where area = any(%s) and as_of = any(%s)",
        (rule_prefixes, days),
    ).fetchall()
    found = pl.DataFrame(rows, schema={k: truth.schema[k] for k in keys}, orient="row")
    return TruthAgreement(
        expected=truth.height,
        found=found.height,
        missed=truth.select(keys).join(found, on=keys, how="anti"),
        unexpected=found.join(truth.select(keys), on=keys, how="anti"),
    )


def run_demo(db_url: str | None, start: dt.date, days: int, customers: int, seed: int, workdir: Path | None) -> int:
    from hypercare.alerts.channels import senders_from_settings
    from hypercare.alerts.dispatch import dispatch
    from hypercare.evaluate import evaluate_day
    from hypercare.loader import load_snapshot
    from hypercare.ruleset import load_ruleset
    from hypercare.synth import DEMO_RESPONSE, generate

    ruleset = load_ruleset()
    source = workdir or db.hypercare_home() / "demo" / f"{start}-{days}d-{customers}c-seed{seed}"
    began = time.perf_counter()
    print(f"Hypercare demo: {customers} customers, {days} days from {start}, rules {ruleset.version}")
    report = generate(
        source, start=start, days=days, customers=customers, seed=seed, ruleset=ruleset, response=DEMO_RESPONSE
    )
    print(f"generated {source} in {time.perf_counter() - began:.1f}s")
    print(report.summary())
    if db_url is None:
        db_url = fresh_embedded_database(DEMO_DATABASE)
    senders = senders_from_settings(capture_dir=source / "alert-capture")
    with db.connect(db_url) as conn:
        db.migrate(conn)
        for offset in range(days):
            day = start + dt.timedelta(days=offset)
            load = load_snapshot(conn, source, day, ruleset=ruleset)
            runs = evaluate_day(conn, day, ruleset, actor="demo")
            print(
                f"{day} {day.strftime('%a')}: loaded {load.rows_loaded:>7} rows ({load.rows_quarantined} quarantined); "
                + ", ".join(f"{r.area} {r.findings}" for r in runs)
            )
            sent_at = ruleset.calendar.as_of_end(day).astimezone(dt.UTC)
            # Passes until the outbox has nothing due, as the 15-minute DAG would within the day.
            messages = 0
            for attempt in range(100):
                dispatched = dispatch(conn, ruleset, senders, now=sent_at, dispatch_id=f"demo-{day}-{attempt}")
                messages += dispatched.messages_sent
                if not dispatched.notifications_sent:
                    break
            print(f"    alerts: {messages} message(s); " + _alerts_by_role(conn, sent_at))
        _print_findings(conn)
        agreement = truth_agreement(conn, source / "ground_truth.csv", list(AREAS))
    print(
        f"\nground truth: {agreement.expected} expected findings-days, {agreement.found} found, "
        f"{agreement.missed.height} missed, {agreement.unexpected.height} unexpected"
    )
    if not agreement.exact:
        print(agreement.missed.head(10))
        print(agreement.unexpected.head(10))
    from hypercare.scorecard.build import write_and_send_month

    print()
    with db.connect(db_url) as conn:
        for line in write_and_send_month(conn, ruleset, [start + dt.timedelta(days=i) for i in range(days)], source):
            print(line)
    print(f"done in {time.perf_counter() - began:.1f}s; the audit store is {db.resolve_url(db_url)}")
    return 0 if agreement.exact else 1


def fresh_embedded_database(name: str) -> str:
    """An empty database on the embedded server, so every demo starts from a clean store."""
    admin_url = db.embedded_url(database="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("drop database if exists {} with (force)").format(psycopg.sql.Identifier(name)))
    return db.embedded_url(database=name)


def _alerts_by_role(conn: psycopg.Connection, sent_at: dt.datetime) -> str:
    rows = conn.execute(
        "select owner_role, kind, count(*) from hypercare.alert_outbox where sent_at = %s group by 1, 2 order by 1, 2",
        (sent_at,),
    ).fetchall()
    return ", ".join(f"{role} {count} {kind}" for role, kind, count in rows) or "nothing to send"


def _print_findings(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select rule_id, count(*) filter (where status in ('open', 'reopened', 'acknowledged')), "
        "count(*) filter (where status = 'resolved'), count(*) filter (where episodes > 1), "
        "count(*) filter (where alert) from hypercare.finding_state group by rule_id order by rule_id"
    ).fetchall()
    print(f"\n{'rule':<40}{'open':>7}{'resolved':>10}{'reopened':>10}{'alerting':>10}")
    for rule_id, open_count, resolved, reopened, alerting in rows:
        print(f"{rule_id:<40}{open_count:>7}{resolved:>10}{reopened:>10}{alerting:>10}")
