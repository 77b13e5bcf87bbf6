"""Compile, archive, write and send one day's scorecard: what the CLI, the DAG and the demo call."""

from __future__ import annotations

import datetime as dt
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from hypercare.db import named_queries
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


def write_and_send_month(conn: psycopg.Connection, ruleset: RuleSet, days: list[dt.date], workdir: Path) -> list[str]:
    """For the demo: archive each day's scorecard, write it to <workdir>/scorecards/<date>.html,
    and send the send-day ones to a local mail capture that files them in <workdir>/mail."""
    from hypercare.scorecard.capture import MailCapture

    config = scorecard_config(ruleset)
    with conn.transaction():
        register_config_versions(conn, ruleset, ("scorecard",))
    written, sent = [], []
    # Charts are drawn in worker processes while this one runs the next days' SQL; the
    # days are archived, written and sent in order.
    with MailCapture(workdir / "mail") as capture, _chart_workers() as workers:
        settings = smtp_settings_from_url(capture.url)
        drawing = []
        for day in days:
            data = compile_scorecard_data(conn, day, ruleset)
            drawing.append((data, workers.submit(render_charts, data)))
        for data, images in drawing:
            scorecard = Scorecard(data=data, images=images.result(), config=config)
            archive_scorecard(conn, scorecard)
            day = scorecard.as_of
            written.append(scorecard.write_html(workdir / "scorecards" / f"{day}.html"))
            if scorecard.send_day:
                send_scorecard(conn, scorecard, settings)
                sent.append(f"{day} (day {scorecard.data['hypercare_day']})")
    return [
        f"scorecards: {len(written)} written to {workdir / 'scorecards'} (open any .html in a browser)",
        f"emailed on the hypercare cadence: {', '.join(sent) or 'none'}",
        f"captured mail: {len(capture.files)} message(s) in {workdir / 'mail'} (.eml, open in a mail client)",
    ]


def _chart_workers() -> ProcessPoolExecutor:
    """Processes started fresh (not forked from a process holding threads and a connection)."""
    return ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1), mp_context=get_context("spawn"))
