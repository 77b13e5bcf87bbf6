"""Throughput of the monitor at scale, against a bare COPY of the same rows.

Every measured stage runs in a process of its own, as in production (the ingest task
and the evaluation tasks are separate processes), so each reports its own peak RSS:

  baseline   COPY of every entity file of the day, all columns as text, into plain tables
  load       read + contract check (pandera) + quarantine + COPY into landing + ANALYZE

  evaluate   read the landed snapshot + every monitoring area + cross-cutting +
             findings, lifecycle, metrics, trace and alert-outbox writes, one process
             per DAG task as Airflow runs them (times summed, RSS of the largest)
  scorecard  SQL of one day's scorecard on a store holding `--days` days of history
             (the final day's outputs replicated to the earlier dates it lacks), then charts
  ui         the queries behind each Hypercare page in the Airflow UI, on the scorecard's store
  backfill   `hypercare evaluate --from --to` over a month of `--backfill-customers`,
             every area of every day in one process (its peak RSS reported too)

Load and evaluate run twice: for the day before the final one on an empty store (a go-live
day: every journey event is new to the trace), then for the final day on the store that
holds the day before (the daily run). Both are held against the bare COPY of the final
day's files. The load writes its local copy of each entity for the evaluation tasks
(hypercare/snapshot_cache.py) into the run's temporary folder.

Targets on the 2-core reference machine: one day (load + evaluate) within 3x the bare
COPY, load alone within 2x, peak RSS of load and of evaluate under 2 GiB each, the
scorecard's SQL under 2 s. Results are kept in docs/benchmarks.md.
Run: `make bench`; `python scripts/benchmark.py --customers 20000 --backfill-customers 2000`
for a quick look.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from hypercare import db
from hypercare.snapshot_cache import ENV as SNAPSHOT_CACHE_ENV

START = dt.date(2026, 11, 2)
# Tables of the evaluated day that the scorecard reads, replicated to earlier dates to
# give the store the volume of a month of history.
# The evaluation as the DAGs run it, one task process each (plugins/hypercare_airflow/common.py):
# the ingest DAG's contract check, one DAG per monitoring area, the cross-cutting DAG.
DAG_TASKS = (
    ("contract",),
    ("trigger",),
    ("handoff",),
    ("ownership",),
    ("customer",),
    ("billing",),
    ("provisioning",),
    ("ai",),
    ("writeback",),
    ("audit", "backlog"),
)
HISTORY_TABLES = {
    "evaluation_runs": "as_of",
    "finding_occurrences": "as_of",
    "metric_values": "as_of",
    "occurrence_counts": "as_of",
}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _backend_cpu(conn: psycopg.Connection) -> float | None:
    """CPU seconds used so far by the connection's server process (None: not on this machine)."""
    pid = conn.execute("select pg_backend_pid()").fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and CPU time of a stage: this process (all its threads) plus its server process.

    On a shared machine the wall time says as much about the neighbours as about the code;
    CPU seconds do not, so both are reported and both give ratios.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Meter:
        self.server_began = _backend_cpu(self.conn)
        self.cpu_began = time.process_time()
        self.began = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.began
        self.client_cpu = time.process_time() - self.cpu_began
        server = _backend_cpu(self.conn)
        self.server_cpu = server - self.server_began if server is not None and self.server_began is not None else 0.0

    def result(self, **extra) -> dict:
        cpu = self.client_cpu + self.server_cpu
        return {"seconds": self.seconds, "cpu": cpu, "server_cpu": self.server_cpu} | extra


def bare_copy(conn: psycopg.Connection, folder: Path) -> int:
    """COPY every entity file as-is into text-only tables: the floor for any loader."""
    from hypercare.contract import load_contract

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


def drop_database(url: str) -> None:
    with psycopg.connect(db.resolve_url(), autocommit=True) as admin:
        admin.execute(f'drop database "{urlsplit(url).path[1:]}" with (force)')


# -- stages, each run in a child process ---------------------------------------------
def stage_generate(source: str, customers: int, days: int, last_days: int | None) -> dict:
    from hypercare.ruleset import load_ruleset
    from hypercare.synth import generate

    generate(
        Path(source), start=START, days=days, customers=customers, seed=11, ruleset=load_ruleset(), last_days=last_days
    )
    return {}


def stage_baseline(url: str, folder: str) -> dict:
    with db.connect(url) as conn:
        db.migrate(conn)
        with Meter(conn) as meter:
            rows = bare_copy(conn, Path(folder))
        return meter.result(rows=rows)


def stage_load(url: str, source: str, day: str) -> dict:
    from hypercare.loader import load_snapshot

    with db.connect(url) as conn, Meter(conn) as meter:
        report = load_snapshot(conn, Path(source), dt.date.fromisoformat(day))
    return meter.result(quarantined=report.rows_quarantined)


def stage_load_all(url: str, source: str) -> dict:
    from hypercare.loader import load_snapshot, snapshot_dates

    with db.connect(url) as conn:
        db.migrate(conn)
        began = time.perf_counter()
        for day in snapshot_dates(Path(source)):
            load_snapshot(conn, Path(source), day)
        return {"seconds": time.perf_counter() - began}


def stage_evaluate(url: str, day: str, areas: list[str] | None = None) -> dict:
    from hypercare.evaluate import evaluate_day
    from hypercare.ruleset import load_ruleset

    # Autocommit, as the CLI and the DAG tasks connect: each area commits on its own, so
    # the next area plans against the statistics of what the previous ones wrote.
    with db.connect(url, autocommit=True) as conn, Meter(conn) as meter:
        runs = evaluate_day(conn, dt.date.fromisoformat(day), load_ruleset(), areas=areas)
    return meter.result(findings=sum(r.findings for r in runs), areas=len(runs))


def stage_scorecard(url: str, day: str, days: int, evaluated_days: int) -> dict:
    """Replicate the evaluated day to the earlier dates the store does not hold (it holds
    the last `evaluated_days`), up to `days` days in all, then time the scorecard."""
    from hypercare.ruleset import load_ruleset
    from hypercare.scorecard.charts import render_charts
    from hypercare.scorecard.config import scorecard_config
    from hypercare.scorecard.data import compile_data

    as_of = dt.date.fromisoformat(day)
    ruleset = load_ruleset()
    with db.connect(url) as conn:
        for table, column in HISTORY_TABLES.items():
            columns = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = 'hypercare' "
                    "and table_name = %s order by ordinal_position",
                    (table,),
                )
            ]
            shifted = ", ".join(f"{column} - k" if c == column else c for c in columns)
            conn.execute(
                f"insert into hypercare.{table} ({', '.join(columns)}) select {shifted} "
                f"from hypercare.{table}, generate_series(%s::integer, %s::integer) as k where {column} = %s",
                (evaluated_days, days - 1, as_of),
            )
        conn.execute(
            "insert into hypercare.finding_events (finding_id, event, event_on, rule_version) "
            "select finding_id, 'opened', %s::date - %s, min(rule_version) from hypercare.finding_events "
            "group by finding_id on conflict do nothing",
            (as_of, days - 1),
        )
        conn.commit()
        _vacuum_analyze(url)
        rows = conn.execute("select count(*) from hypercare.finding_occurrences").fetchone()[0]
        conn.commit()  # as the scorecard task finds it: no transaction open, so reads may run beside
        began = time.perf_counter()
        data = compile_data(conn, as_of, ruleset, scorecard_config(ruleset))
        sql_seconds = time.perf_counter() - began
    began = time.perf_counter()
    images = render_charts(data)
    return {
        "seconds": sql_seconds,
        "render_seconds": time.perf_counter() - began,
        "charts": len(images),
        "occurrences": rows,
    }


def stage_ui(url: str) -> dict:
    """Milliseconds of each Hypercare UI page's queries (connecting included), best of 3."""
    from hypercare import ui_queries
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset()
    findings = ui_queries.FindingFilter
    with db.connect(url) as conn:
        rule, onboarding = conn.execute(
            "select rule_id, min(onboarding_id) from hypercare.finding_state where onboarding_id is not null "
            "group by rule_id order by count(*) desc limit 1"
        ).fetchone()
        fiftieth = conn.execute(
            "select last_seen_on, finding_id::text from hypercare.finding_state "
            "order by last_seen_on desc, finding_id desc offset %s limit 1",
            (49 * ui_queries.PAGE_SIZE - 1,),
        ).fetchone()
    filtered = findings(rule_id=rule, status="open", high_value=False)
    pages = {
        "findings": lambda conn: ui_queries.findings_view(conn, findings(), ruleset),
        "findings, filtered": lambda conn: ui_queries.findings_view(conn, filtered, ruleset),
        "findings, page 50": lambda conn: ui_queries.findings_view(
            conn, findings(), ruleset, after=ui_queries.Cursor(*fiftieth) if fiftieth else None
        ),
        "journey": lambda conn: ui_queries.journey(conn, onboarding),
        "runs": lambda conn: ui_queries.runs_overview(conn),
    }
    timings = {}
    for name, page in pages.items():
        best = float("inf")
        for _ in range(3):
            began = time.perf_counter()
            with ui_queries.connect(url) as conn:
                page(conn)
            best = min(best, time.perf_counter() - began)
        timings[name] = best * 1000
    return {"ms": timings}


STAGES = {
    "generate": stage_generate,
    "baseline": stage_baseline,
    "load": stage_load,
    "load_all": stage_load_all,
    "evaluate": stage_evaluate,
    "scorecard": stage_scorecard,
    "ui": stage_ui,
}


def run_stage(name: str, *args) -> dict:
    """Run one stage in a fresh Python process; returns its result with wall time and peak RSS."""
    began = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--stage", name, json.dumps(args)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - began
    return result


def _measure_day(url: str, source: str, day: dt.date) -> tuple[dict, dict]:
    """Load one day, then evaluate it one process per DAG task (times summed, RSS of the largest)."""
    load = run_stage("load", url, source, day.isoformat())
    tasks = [run_stage("evaluate", url, day.isoformat(), list(areas)) for areas in DAG_TASKS]
    evaluate = {key: sum(task[key] for task in tasks) for key in ("seconds", "cpu", "server_cpu", "findings")}
    largest = max(range(len(tasks)), key=lambda i: tasks[i]["rss_mib"])
    evaluate["rss_mib"] = tasks[largest]["rss_mib"]
    evaluate["note"] = (
        f"{evaluate['findings']:,} findings, {len(tasks)} task processes; largest: {'+'.join(DAG_TASKS[largest])}"
    )
    return load, evaluate


def _vacuum_analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("vacuum analyze")


def _row(name: str, stage: dict, floor: dict, rows: int, rss: float | None, note: str = "") -> str:
    seconds, cpu = stage["seconds"], stage["cpu"]
    rss_text = f"{rss:7.0f}" if rss is not None else " " * 7
    return (
        f"{name:<22}{seconds:9.2f}{rows / seconds:>12,.0f}{seconds / floor['seconds']:8.2f}x"
        f"{cpu:9.2f}{cpu / floor['cpu']:8.2f}x{rss_text:>10}  {note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--backfill-customers", type=int, default=20_000, help="0 skips the backfill")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("stage_args", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](*json.loads(args.stage_args))
        print(json.dumps(result | {"rss_mib": _peak_rss_mib()}))
        return

    as_of = START + dt.timedelta(days=args.days - 1)
    load_avg = os.getloadavg()[0]
    print(f"{args.customers:,} customers, snapshot {as_of}; load average {load_avg:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        # The loads' local copies for the evaluation tasks, as HYPERCARE_HOME keeps them in
        # production, here in the run's own folder (every stage process inherits it).
        os.environ[SNAPSHOT_CACHE_ENV] = str(Path(tmp) / "snapshot-copies")
        source = Path(tmp) / "day"
        gen = run_stage("generate", str(source), args.customers, args.days, 2)
        print(f"generate {gen['wall']:.1f} s (peak RSS {gen['rss_mib']:.0f} MiB, not part of the ratios)")
        url = fresh_database(db.resolve_url())
        try:
            base = run_stage("baseline", url, str(source / as_of.isoformat()))
            rows = base["rows"]
            print(f"\n{'stage':<22}{'wall s':>9}{'rows/s':>12}{'vs COPY':>9}{'CPU s':>9}{'vs COPY':>9}{'RSS MiB':>10}")
            print(_row("bare COPY (floor)", base, base, rows, base["rss_mib"], f"{rows:,} rows of the final day"))
            # The day before first, on the empty store (a go-live day: every journey event is
            # new), then the final day on a store that holds the day before (the daily run).
            for label, day in (("first day", as_of - dt.timedelta(days=1)), ("next day", as_of)):
                load, evaluate = _measure_day(url, str(source), day)
                whole = {key: load[key] + evaluate[key] for key in ("seconds", "cpu")}
                print(f"{label} ({day}):")
                print(_row("  load + contract", load, base, rows, load["rss_mib"], "target 2x, 2 GiB"))
                print(_row("  evaluate", evaluate, base, rows, evaluate["rss_mib"], evaluate["note"]))
                print(_row("  end to end", whole, base, rows, None, "target 3x"))
                server = {"COPY": base, "load": load, "evaluate": evaluate}
                print(
                    "  CPU s in the PostgreSQL backend: "
                    + ", ".join(f"{k} {v['server_cpu']:.1f}" for k, v in server.items())
                )
            _vacuum_analyze(url)
            card = run_stage("scorecard", url, as_of.isoformat(), args.days, 2)
            print(
                f"\nscorecard SQL on {args.days} days of history ({card['occurrences']:,} occurrences): "
                f"{card['seconds']:.2f} s (target 2 s); rendering {card['charts']} charts "
                f"{card['render_seconds']:.2f} s"
            )
            ui = run_stage("ui", url)
            print(
                "UI page queries on the same store, ms (target 300): "
                + ", ".join(f"{page} {ms:.0f}" for page, ms in ui["ms"].items())
            )
        finally:
            drop_database(url)

        if args.backfill_customers:
            month = Path(tmp) / "month"
            gen = run_stage("generate", str(month), args.backfill_customers, args.days, None)
            url = fresh_database(db.resolve_url())
            try:
                loaded = run_stage("load_all", url, str(month))
                began = time.perf_counter()
                backfill_process = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name("hypercare")),
                        "--db",
                        url,
                        "evaluate",
                        "--from",
                        START.isoformat(),
                        "--to",
                        as_of.isoformat(),
                    ],
                    stdout=subprocess.DEVNULL,
                )
                _, status, usage = os.wait4(backfill_process.pid, 0)
                backfill = time.perf_counter() - began
                if os.waitstatus_to_exitcode(status) != 0:
                    raise SystemExit(f"hypercare evaluate --from --to failed with status {status}")
                backfill_rss = usage.ru_maxrss / 1024
            finally:
                drop_database(url)
            print(
                f"\nbackfill of {args.days} days at {args.backfill_customers:,} customers: "
                f"generate {gen['wall']:.0f} s, load {loaded['seconds']:.0f} s, "
                f"evaluate --from --to {backfill:.0f} s ({backfill / args.days:.1f} s per day, one process, "
                f"peak RSS {backfill_rss:.0f} MiB)"
            )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
