"""Compile, archive, write and send one day's scorecard: what the CLI, the DAG and the demo call."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from hypercare.db import connect, named_queries
from hypercare.ruleset import RuleSet
from hypercare.scorecard.charts import render_charts
from hypercare.scorecard.config import ScorecardConfig, scorecard_config
from hypercare.scorecard.data import compile_data
from hypercare.scorecard.mail import SmtpSettings, build_message, send_message, smtp_settings_from_url
from hypercare.scorecard.render import render_html, render_text, subject
from hypercare.store import record_checkpoint, register_config_versions


@dataclass(frozen=True)
class Scorecard:
    data: dict
    images: dict[str, bytes]
    config: ScorecardConfig

    @property
    def as_of(self) -> dt.date:
        return dt.date.fromisoformat(self.data["as_of"])

    @property
    def send_day(self) -> bool:
        return self.data["send_day"]

    @property
    def subject(self) -> str:
        return subject(self.data)

    @cached_property
    def standalone_html(self) -> str:
        """The HTML with charts embedded as data URIs: opens on its own, as archived."""
        return render_html(self.data, self.images, inline=True)

    def text(self) -> str:
        return render_text(self.data)

    def message(self, sender: str | None = None, recipients: list[str] | None = None) -> EmailMessage:
        return build_message(
            subject=self.subject,
            html=render_html(self.data, self.images, inline=False),
            text=self.text(),
            images=self.images,
            as_of=self.data["as_of"],
            sender=sender or self.config.sender,
            recipients=recipients or self.config.all_recipients,
        )

    def write_html(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.standalone_html, encoding="utf-8")
        return path


def compile_scorecard_data(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet) -> dict:
    """The scorecard's numbers for `as_of`, stamped with the audit log's head."""
    data = compile_data(conn, as_of, ruleset, scorecard_config(ruleset))
    with conn.transaction():
        head = record_checkpoint(conn, f"scorecard {as_of}")
    # The head travels with every scorecard email: a copy outside the database to verify against.
    data["audit_head"] = {"entries": head.entries, "hash": head.head_hash, "token": head.token()}
    return data


def compile_scorecard(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet) -> Scorecard:
    data = compile_scorecard_data(conn, as_of, ruleset)
    return Scorecard(data=data, images=render_charts(data), config=scorecard_config(ruleset))


def archive_scorecard(conn: psycopg.Connection, scorecard: Scorecard) -> None:
    """Replace the archived row of the scorecard's day (data JSON, standalone HTML, text)."""
    with conn.transaction():
        conn.execute(
            named_queries("scorecard")["archive"],
            {
                "as_of": scorecard.as_of,
                "hypercare_day": scorecard.data["hypercare_day"],
                "send_day": scorecard.send_day,
                "review_day": scorecard.data["review_day"],
                "rule_versions": scorecard.data["rule_versions"],
                "data": Jsonb(json.loads(json.dumps(scorecard.data, default=str))),
                "html": scorecard.standalone_html,
                "text_body": scorecard.text(),
                "config_version": scorecard.config.version,
            },
        )


def compile_and_archive(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet) -> Scorecard:
    with conn.transaction():
        register_config_versions(conn, ruleset, ("scorecard",))
    scorecard = compile_scorecard(conn, as_of, ruleset)
    archive_scorecard(conn, scorecard)
    return scorecard


def sent_at(conn: psycopg.Connection, as_of: dt.date) -> dt.datetime | None:
    row = conn.execute("select sent_at from hypercare.scorecards where as_of = %s", (as_of,)).fetchone()
    return row[0] if row else None


def send_scorecard(conn: psycopg.Connection, scorecard: Scorecard, settings: SmtpSettings) -> list[str]:
    """Email the scorecard to every configured recipient and record the delivery on its row."""
    message = scorecard.message(sender=settings.sender)
    accepted = send_message(message, settings)
    with conn.transaction():
        conn.execute(
            named_queries("scorecard")["mark_sent"],
            {"as_of": scorecard.as_of, "sent_at": dt.datetime.now(dt.UTC), "sent_to": accepted},
        )
    return accepted


def load_archived(conn: psycopg.Connection, as_of: dt.date, ruleset: RuleSet) -> Scorecard:
    """The archived scorecard of `as_of`, with its charts redrawn from the archived data."""
    row = conn.execute("select data from hypercare.scorecards where as_of = %s", (as_of,)).fetchone()
    if row is None:
        raise LookupError(f"no archived scorecard for {as_of}; compile it first")
    return Scorecard(data=row[0], images=render_charts(row[0]), config=scorecard_config(ruleset))


class ScorecardMonth:
    """For the demo: each day's scorecard, begun as soon as the day is evaluated.

    A thread with a connection of its own compiles the day's numbers while the caller goes
    on to the next day, worker processes draw the charts, and the days are then archived,
    written to <workdir>/scorecards/<date>.html and, on send days, sent to a local mail
    capture that files them in <workdir>/mail, in the order they were added. A scorecard
    reads what was true by the end of its day (silences as they stand when it is compiled),
    so compiled that evening it reads as one compiled after the month.
    """

    def __init__(self, db_url: str, ruleset: RuleSet, workdir: Path):
        self.db_url = db_url
        self.ruleset = ruleset
        self.workdir = workdir
        self.config = scorecard_config(ruleset)
        self.written: list[Path] = []
        self.sent: list[str] = []
        self._drawing: deque[tuple[dict, Future]] = deque()
        self._jobs: list[Future] = []

    def __enter__(self) -> ScorecardMonth:
        from hypercare.scorecard.capture import MailCapture

        with ExitStack() as stack:  # whatever started is closed again if a later part fails
            self._conn = stack.enter_context(connect(self.db_url, autocommit=True))
            with self._conn.transaction():
                register_config_versions(self._conn, self.ruleset, ("scorecard",))
            self._capture = stack.enter_context(MailCapture(self.workdir / "mail"))
            self._settings = smtp_settings_from_url(self._capture.url)
            self._workers = stack.enter_context(_chart_workers())
            self._thread = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorecards"))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        for job in self._jobs:
            job.cancel()
        self._stack.close()

    def add(self, day: dt.date) -> None:
        """Begin `day`'s scorecard; the day must be evaluated and its alerts dispatched."""
        for job in self._jobs:
            if job.done():
                job.result()  # a day that failed stops the month here, not at its end
        self._jobs.append(self._thread.submit(self._compile, day))

    def finish(self) -> list[str]:
        """Wait for every added day to be archived, written and sent; what was done, in lines."""
        self._jobs.append(self._thread.submit(self._complete, True))
        for job in self._jobs:
            job.result()
        return [
            f"scorecards: {len(self.written)} written to {self.workdir / 'scorecards'} (open any .html in a browser)",
            f"emailed on the hypercare cadence: {', '.join(self.sent) or 'none'}",
            f"captured mail: {len(self._capture.files)} message(s) in {self.workdir / 'mail'}"
            " (.eml, open in a mail client)",
        ]

    def _compile(self, day: dt.date) -> None:
        data = compile_scorecard_data(self._conn, day, self.ruleset)
        self._drawing.append((data, self._workers.submit(render_charts, data)))
        self._complete(wait=False)

    def _complete(self, wait: bool) -> None:
        """Archive, write and send the oldest days whose charts are drawn (all of them when `wait`)."""
        while self._drawing and (wait or self._drawing[0][1].done()):
            data, images = self._drawing.popleft()
            scorecard = Scorecard(data=data, images=images.result(), config=self.config)
            archive_scorecard(self._conn, scorecard)
            day = scorecard.as_of
            self.written.append(scorecard.write_html(self.workdir / "scorecards" / f"{day}.html"))
            if scorecard.send_day:
                send_scorecard(self._conn, scorecard, self._settings)
                self.sent.append(f"{day} (day {scorecard.data['hypercare_day']})")


def _chart_workers() -> ProcessPoolExecutor:
    """Processes started fresh (not forked from a process holding threads and a connection)."""
    return ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1), mp_context=get_context("spawn"))
