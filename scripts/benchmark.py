"""Throughput of the monitor at scale, against a bare COPY of the same rows.

Generates the final-day snapshot of a hypercare month with 100k customers, then times
each stage on a fresh database of the embedded (or HYPERCARE_DB_URL) server:

  baseline  COPY of every entity file, all columns as text, into plain tables
  load      read + contract check (pandera) + quarantine + COPY into landing
  evaluate  read landing + every monitoring area + findings/metrics/trace writes

and prints rows per second and each stage's ratio to the baseline. Targets (2 cores):
load within 6x of the bare COPY, evaluation within 20x of it, peak RSS under 4 GiB.
Results are kept in docs/benchmarks.md.
Run: `make bench` (or `python scripts/benchmark.py --customers 20000` for a quick look).
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
from hypercare.contract import load_contract
from hypercare.evaluate import evaluate_day
from hypercare.loader import load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.synth import generate


def bare_copy(conn: psycopg.Connection, folder: Path) -> int:
    """COPY every entity file as-is into text-only tables: the floor for any loader."""
    rows = 0
    for entity in load_contract():
        path = folder / f"{entity.name}.csv"
        if not path.exists():
            continue
        header = path.open().readline().strip().split(",")
        table = f"bench_{entity.name}"
        conn.execute(f"create table {table} ({', '.join(f'{c} text' for c in header)})")
        copy_sql = f"copy {table} from stdin (format csv, header true)"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy, path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        rows += conn.execute(f"select count(*) from {table}").fetchone()[0]
    conn.commit()
    return rows


def fresh_database(admin_url: str) -> str:
    name = f"hypercare_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    args = parser.parse_args()
    ruleset = load_ruleset()
    as_of = args.start + dt.timedelta(days=args.days - 1)

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp)
        began = time.perf_counter()
        generate(
            source, start=args.start, days=args.days, customers=args.customers, seed=11, ruleset=ruleset, only_last=True
        )
        print(f"generate   {time.perf_counter() - began:7.2f} s  ({args.customers} customers, snapshot {as_of})")
        url = fresh_database(db.resolve_url())
        with db.connect(url) as conn:
            db.migrate(conn)
            began = time.perf_counter()
            rows = bare_copy(conn, source / as_of.isoformat())
            baseline = time.perf_counter() - began
            print(f"baseline   {baseline:7.2f} s  {rows / baseline:>10,.0f} rows/s  bare COPY of {rows:,} rows")

            began = time.perf_counter()
            report = load_snapshot(conn, source, as_of)
            load = time.perf_counter() - began
            print(
                f"load       {load:7.2f} s  {rows / load:>10,.0f} rows/s  {load / baseline:5.1f}x baseline  "
                f"({report.rows_quarantined} quarantined)"
            )

            began = time.perf_counter()
            runs = evaluate_day(conn, as_of, ruleset)
            evaluate = time.perf_counter() - began
            findings = sum(r.findings for r in runs)
            print(
                f"evaluate   {evaluate:7.2f} s  {rows / evaluate:>10,.0f} rows/s  {evaluate / baseline:5.1f}x "
                f"baseline  ({findings} findings over {len(runs)} areas)"
            )
            total = load + evaluate
            print(f"end to end {total:7.2f} s  {rows / total:>10,.0f} rows/s  {total / baseline:5.1f}x baseline")
        with psycopg.connect(db.resolve_url(), autocommit=True) as admin:
            admin.execute(f'drop database "{urlsplit(url).path[1:]}" with (force)')
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS   {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
