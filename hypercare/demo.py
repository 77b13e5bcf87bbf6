"""`make demo`: a synthetic hypercare month, loaded and evaluated day by day."""

from __future__ import annotations

import datetime as dt
import queue
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import psycopg

from hypercare import db
from hypercare.areas import AREAS

if TYPE_CHECKING:
    from hypercare.ruleset import RuleSet
    from hypercare.synth.generator import GenerateReport

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
    from hypercare.ruleset import load_ruleset

    ruleset = load_ruleset()
    source = workdir or db.hypercare_home() / "demo" / f"{start}-{days}d-{customers}c-seed{seed}"
    began = time.perf_counter()
    print(f"Hypercare demo: {customers} customers, {days} days from {start}, rules {ruleset.version}")
    with MonthBeingGenerated(source, start, days, customers, seed) as month:
        if db_url is None:
            db_url = fresh_embedded_database(DEMO_DATABASE)
        agreement = _run_month(db_url, ruleset, source, month, start, days)
    print(f"done in {time.perf_counter() - began:.1f}s; the audit store is {db.resolve_url(db_url)}")
    return 0 if agreement.exact else 1


def _run_month(
    db_url: str, ruleset: RuleSet, source: Path, month: MonthBeingGenerated, start: dt.date, days: int
) -> TruthAgreement:
    """Each day as it is generated: load, evaluate, dispatch its alerts, begin its scorecard."""
    from hypercare.alerts.channels import senders_from_settings
    from hypercare.alerts.dispatch import dispatch
    from hypercare.evaluate import evaluate_day
    from hypercare.loader import LoadReport, load_snapshot
    from hypercare.scorecard.build import ScorecardMonth

    senders = senders_from_settings(capture_dir=source / "alert-capture")
    # Autocommit, as the CLI and the DAG tasks connect: each load, area and dispatch pass
    # commits on its own, and nothing stays open while the next day loads or the day's
    # scorecard reads beside it.
    with db.connect(db_url, autocommit=True) as conn, db.connect(db_url, autocommit=True) as loading_conn:
        db.migrate(conn)

        def load(day: dt.date) -> LoadReport:
            month.wait_for(day)
            return load_snapshot(loading_conn, source, day, ruleset=ruleset)

        # The next day loads while this one is evaluated, as an ingest run of the next day
        # may run beside an evaluation in Airflow; each day is evaluated once it is loaded.
        with (
            ScorecardMonth(db_url, ruleset, source) as scorecards,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="load") as loader,
        ):
            loading = loader.submit(load, start)
            for offset in range(days):
                day = start + dt.timedelta(days=offset)
                load_report = loading.result()
                if offset + 1 < days:
                    loading = loader.submit(load, day + dt.timedelta(days=1))
                runs = evaluate_day(conn, day, ruleset, actor="demo")
                print(
                    f"{day} {day.strftime('%a')}: loaded {load_report.rows_loaded:>7} rows "
                    f"({load_report.rows_quarantined} quarantined); "
                    + ", ".join(f"{r.area} {r.findings}" for r in runs)
                )
                sent_at = ruleset.calendar.as_of_end(day).astimezone(dt.UTC)
                # Passes until the outbox has nothing due, as the 15-minute DAG would within the day.
                messages = 0
                for attempt in range(100):
                    dispatched = dispatch(conn, ruleset, senders, now=sent_at, dispatch_id=f"demo-{day}-{attempt}")
                    messages += dispatched.messages_sent
                    if dispatched.drained or not dispatched.notifications_sent:
                        break
                print(f"    alerts: {messages} message(s); " + _alerts_by_role(conn, sent_at))
                # The day's scorecard is compiled and drawn beside the next days' runs.
                scorecards.add(day)
            report = month.report()
            print(f"generated {source} in {report.seconds:.1f}s, beside the first days' runs")
            print(report.summary())
            _print_findings(conn)
            agreement = truth_agreement(conn, source / "ground_truth.csv", list(AREAS))
            print(
                f"\nground truth: {agreement.expected} expected findings-days, {agreement.found} found, "
                f"{agreement.missed.height} missed, {agreement.unexpected.height} unexpected"
            )
            if not agreement.exact:
                print(agreement.missed.head(10))
                print(agreement.unexpected.head(10))
            print()
            for line in scorecards.finish():
                print(line)
    return agreement


class MonthBeingGenerated:
    """The demo's month generated in a process of its own, each day handed over as soon as
    its folder is written: loading and evaluating begin while later days are still made."""

    def __init__(self, source: Path, start: dt.date, days: int, customers: int, seed: int):
        context = get_context("spawn")
        self._ready = context.Queue()
        self._process = context.Process(
            target=_generate_month, args=(self._ready, source, start, days, customers, seed), name="generate"
        )
        self._done: set[dt.date] = set()
        self._report: GenerateReport | None = None

    def __enter__(self) -> MonthBeingGenerated:
        self._process.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()

    def wait_for(self, day: dt.date) -> None:
        while day not in self._done:
            self._take()

    def report(self) -> GenerateReport:
        while self._report is None:
            self._take()
        return self._report

    def _take(self) -> None:
        try:
            item = self._ready.get(timeout=1)
        except queue.Empty:
            if self._process.is_alive():
                return
            try:  # what it put just before it ended (its traceback, say) comes first
                item = self._ready.get(timeout=1)
            except queue.Empty:
                raise RuntimeError(f"the generator stopped (exit code {self._process.exitcode})") from None
        if isinstance(item, str):
            raise RuntimeError(f"the generator failed:\n{item}")
        if isinstance(item, dt.date):
            self._done.add(item)
        else:
            self._report = item


def _generate_month(ready, source: Path, start: dt.date, days: int, customers: int, seed: int) -> None:
    from hypercare.ruleset import load_ruleset
    from hypercare.synth import DEMO_RESPONSE, generate

    try:
        report = generate(
            source,
            start=start,
            days=days,
            customers=customers,
            seed=seed,
            ruleset=load_ruleset(),
            response=DEMO_RESPONSE,
            on_day=ready.put,
        )
    except Exception:
        ready.put(traceback.format_exc())  # raised again in the demo's process
        return
    ready.put(report)


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
