"""How long the impact preview of a rule change takes on a hypercare month at scale.

Generates a month (default 20k customers x 30 days), loads and evaluates every day on a
fresh database of the embedded (or HYPERCARE_DB_URL) server, then times the preview
(`hypercare rules impact`) of a one-rule change (trigger.missed_eligible after 2 business
days instead of 1: the trigger area and the backlog are re-evaluated) and of a calendar
change (one holiday less: every area), and checks the store is unchanged after each.
Target: minutes for 20k customers x 30 days. Results are kept in docs/benchmarks.md.
Run: `python scripts/benchmark_impact.py [--customers 20000 --days 30]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from hypercare import db
from hypercare.evaluate import evaluate_day
from hypercare.impact import preview_impact
from hypercare.loader import load_snapshot
from hypercare.ruleset import DEFAULT_RULES_FILE, load_ruleset, parse_ruleset
from hypercare.synth import generate

ONE_RULE = (
    "    params: {business_days: 1}\n\n  trigger.premature_start",
    "    params: {business_days: 2}\n\n  trigger.premature_start",
)
CALENDAR = ("    - 2026-11-27\n", "")
TABLES = ("finding_occurrences", "finding_state", "finding_events", "metric_values", "trace_events", "alert_outbox")


def fresh_database(admin_url: str) -> str:
    name = f"hypercare_impact_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def fingerprint(conn: psycopg.Connection) -> tuple:
    """Row counts of the written tables, the audit log's length and the rule sets known."""
    counts = tuple(conn.execute(f"select count(*) from hypercare.{t}").fetchone()[0] for t in TABLES)
    audit = conn.execute("select count(*), max(hash) from hypercare.audit_log").fetchone()
    rule_sets = conn.execute("select count(*) from hypercare.rule_sets").fetchone()[0]
    return (*counts, *audit, rule_sets)


def proposed(old: str, new: str):
    text = DEFAULT_RULES_FILE.read_text()
    assert text.count(old) == 1
    return parse_ruleset(text.replace(old, new))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the evaluated database and print its URL")
    parser.add_argument("--url", help="time only the previews, on this already evaluated store")
    args = parser.parse_args()
    ruleset = load_ruleset()
    days = [args.start + dt.timedelta(days=i) for i in range(args.days)]
    if args.url:
        with db.connect(args.url, autocommit=True) as conn:
            time_previews(conn, days)
        return
    with tempfile.TemporaryDirectory(prefix="hypercare-impact-bench-") as tmp:
        source = Path(tmp)
        started = time.perf_counter()
        generate(source, start=args.start, days=args.days, customers=args.customers, seed=args.seed, ruleset=ruleset)
        print(
            f"generate {args.customers} customers x {args.days} days: {time.perf_counter() - started:.0f} s", flush=True
        )
        admin_url = db.resolve_url()
        url = fresh_database(admin_url)
        try:
            measure(url, source, days, ruleset)
        finally:
            if args.keep:
                print(f"kept the evaluated store: --url '{url}'", flush=True)
            else:
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'drop database if exists "{urlsplit(url).path.lstrip("/")}" with (force)')
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


def measure(url: str, source: Path, days: list[dt.date], ruleset) -> None:
    """Load and evaluate every day, then time the two previews."""
    with db.connect(url, autocommit=True) as conn:
        db.migrate(conn)
        started = time.perf_counter()
        for day in days:
            load_snapshot(conn, source, day)
        print(f"load {len(days)} days: {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        for day in days:
            evaluate_day(conn, day, ruleset)
        evaluated = time.perf_counter() - started
        findings = conn.execute("select count(*) from hypercare.finding_occurrences").fetchone()[0]
        print(
            f"evaluate {len(days)} days, every area ({findings:,} finding occurrences): {evaluated:.0f} s", flush=True
        )
        time_previews(conn, days)


def time_previews(conn: psycopg.Connection, days: list[dt.date]) -> None:
    """Time the preview of each change; the store must hold the same rows afterwards."""
    before = fingerprint(conn)
    for label, change in (("one rule", ONE_RULE), ("calendar", CALENDAR)):
        report = preview_impact(conn, proposed(*change), days[0], days[-1])
        assert fingerprint(conn) == before, "the preview left rows behind"
        changed = sum(r["added"] + r["removed"] for r in report.rules)
        print(
            f"impact preview, {label} change ({', '.join(report.areas)}): {report.seconds:.0f} s, "
            f"{changed:,} findings added or removed; store unchanged",
            flush=True,
        )


if __name__ == "__main__":
    main()
