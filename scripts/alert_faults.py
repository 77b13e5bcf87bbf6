"""The alert path under faults, measured: sent, received, duplicates and lost notices.

Generates a hypercare month's first days (default 2,000 customers, 4 days), loads them,
runs `evaluate --from --to` over the range twice (the re-run that used to drop unsent
notifications), then dispatches the same outbox (a copy of the database per scenario)
through loopback Slack and SMTP servers that fail in scripted ways, including a real
`kill -9` of a dispatcher process in the middle of a send. After the faults, later
passes (past the sending lease and any backoff) settle what is left, as the 15-minute
dispatcher would. For each scenario it prints:

  owed        firing notices owed for the open alert-marked findings of the newest day
  sent        notices recorded as sent in the outbox (all kinds)
  received    notices that arrived at the loopback servers (each arrival counted)
  duplicates  arrivals beyond the first of the same notice
  held        owed notices visibly held back (silenced, or inhibited by another open finding)
  lost        owed notices that never arrived and are not visibly held

Run: `make alert-faults` (or `python scripts/alert_faults.py --customers 500` for a quick look).
Figures are kept in the README (Alerts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypercare import db  # noqa: E402
from hypercare.alerts.dispatch import dispatch  # noqa: E402
from hypercare.alerts.senders import SlackApiSender, SlackWebhookSender, SmtpSender  # noqa: E402
from hypercare.evaluate import evaluate_day  # noqa: E402
from hypercare.loader import load_snapshot  # noqa: E402
from hypercare.ruleset import load_ruleset  # noqa: E402
from hypercare.synth import generate  # noqa: E402
from tests.loopback import MailSink, SlackStandIn  # noqa: E402

TIMEOUT, HANG = 1.0, 2.0  # the same ratio as a 15 s client timeout against a 30 s hang
RULES = load_ruleset()


def database_url(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def channel_senders(slack_base: str, smtp_port: int, via: str) -> dict:
    if via == "api":
        from slack_sdk import WebClient

        slack_sender = SlackApiSender(WebClient(token="xoxb-faults", base_url=f"{slack_base}/api/", timeout=TIMEOUT))
    else:
        from slack_sdk.webhook import WebhookClient

        slack_sender = SlackWebhookSender(WebhookClient(f"{slack_base}/webhook", timeout=TIMEOUT))
    return {
        "slack": slack_sender,
        "email": SmtpSender("127.0.0.1", smtp_port, "hypercare@example.com", timeout=TIMEOUT),
    }


def senders(slack: SlackStandIn, mail: MailSink, via: str) -> dict:
    return channel_senders(slack.base, mail.port, via)


def owed_firing(conn: psycopg.Connection) -> set[str]:
    """Firing notices of the current episode of every open alert-marked finding on each area's newest day."""
    rows = conn.execute(
        """select x.notification_id::text
           from hypercare.alert_outbox x
           join hypercare.finding_state s
             on s.finding_id = x.finding_id and s.status in ('open', 'reopened') and s.alert
           join (select area, max(as_of) as as_of from hypercare.evaluation_runs group by area) n
             on n.area = s.area and s.last_seen_on = n.as_of
           where x.kind = 'firing'
             and x.episode_on = (select max(e.event_on) from hypercare.finding_events e
                                 where e.finding_id = x.finding_id and e.event in ('opened', 'reopened'))"""
    ).fetchall()
    return {r[0] for r in rows}


def open_alert_findings(conn: psycopg.Connection) -> int:
    return conn.execute(
        """select count(*) from hypercare.finding_state s
           join (select area, max(as_of) as as_of from hypercare.evaluation_runs group by area) n
             on n.area = s.area and s.last_seen_on = n.as_of
           where s.status in ('open', 'reopened') and s.alert"""
    ).fetchone()[0]


def kill_mid_send(url: str, slack: SlackStandIn, via: str, smtp_port: int, now: dt.datetime) -> None:
    """Run dispatcher processes until one is inside a Slack send (one message delivered, the
    next hanging), then SIGKILL it. Earlier processes may finish batches without Slack messages."""
    arrived = len(slack.messages())
    slack.plan.extend([("ok",), ("hang", 60)])
    for _ in range(20):
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", url, via, slack.base, str(smtp_port), now.isoformat()], cwd=ROOT
        )
        deadline = time.monotonic() + 120
        while len(slack.messages()) < arrived + 2 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            break
    slack.plan.clear()


def run_scenario(admin_url: str, template: str, name: str, via: str, faults) -> dict:
    url = database_url(admin_url, f"faults_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{urlsplit(url).path[1:]}" template "{template}"')
    try:
        with SlackStandIn() as slack, MailSink() as mail, db.connect(url) as conn:
            owed = owed_firing(conn)
            now = dt.datetime.now(dt.UTC)
            now = faults(conn, slack, mail, via, url, now) or now
            slack.plan.clear()
            mail.plan.clear()
            for step in range(40):  # the 15-minute dispatcher, from after the lease onwards
                report = dispatch(
                    conn, RULES, senders(slack, mail, via), now=now + dt.timedelta(minutes=15 * (step + 1))
                )
                if step > 8 and not report.notifications_sent:
                    break
            received = Counter(slack.notice_ids()) + Counter(mail.notice_ids())
            held = {
                r[0]
                for r in conn.execute(
                    "select notification_id::text from hypercare.alert_outbox "
                    "where status <> 'sent' and (silenced or inhibited_by is not null)"
                )
            }
            sent = conn.execute("select count(*) from hypercare.alert_outbox where status = 'sent'").fetchone()[0]
            return {
                "scenario": name,
                "via": via,
                "owed": len(owed),
                "sent": sent,
                "received": sum(received.values()),
                "duplicates": sum(received.values()) - len(received),
                "held": len(owed & held),
                "lost": len(owed - set(received) - held),
                "max_per_message": max((notices_in(m) for m in slack.messages()), default=0),
            }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{urlsplit(url).path[1:]}" with (force)')


def notices_in(message: dict) -> int:
    return sum(1 for b in message.get("blocks") or [] if b.get("type") == "section" and ":" not in b["block_id"])


def healthy(conn, slack, mail, via, url, now):
    return None


def two_hangs(conn, slack, mail, via, url, now):
    slack.plan.extend([("ok",), ("hang", HANG), ("ok",), ("hang", HANG)])
    while dispatch(conn, RULES, senders(slack, mail, via), now=now).notifications_sent:
        pass
    return now


def errors_and_rate_limits(conn, slack, mail, via, url, now):
    slack.plan.extend([("status", 500), ("rate_limit", 30), ("status", 500), ("rate_limit", 30)])
    mail.plan.extend([("reject",), ("reject",)])
    for minutes in (0, 2, 5):
        dispatch(conn, RULES, senders(slack, mail, via), now=now + dt.timedelta(minutes=minutes))
    return now


def two_kills(conn, slack, mail, via, url, now):
    kill_mid_send(url, slack, via, mail.port, now)
    kill_mid_send(url, slack, via, mail.port, now + dt.timedelta(minutes=11))  # settles the first, then dies
    return now + dt.timedelta(minutes=11)


def smtp_hangs(conn, slack, mail, via, url, now):
    mail.plan.extend([("ok",), ("hang", HANG), ("hang", HANG)])
    while dispatch(conn, RULES, senders(slack, mail, via), now=now).notifications_sent:
        pass
    return now


SCENARIOS = [
    ("no faults", "webhook", healthy),
    ("webhook: 2 posts hang past the timeout", "webhook", two_hangs),
    ("webhook: HTTP 500, 429 and SMTP 451", "webhook", errors_and_rate_limits),
    ("webhook: dispatcher kill -9 mid-send, twice", "webhook", two_kills),
    ("Web API: 2 posts hang past the timeout", "api", two_hangs),
    ("Web API: dispatcher kill -9 mid-send, twice", "api", two_kills),
    ("SMTP: 2 messages hang past the timeout", "webhook", smtp_hangs),
]


def child(url: str, via: str, slack_base: str, smtp_port: str, now: str) -> None:
    """The dispatcher process that `kill_mid_send` kills."""
    with db.connect(url) as conn:
        dispatch(conn, RULES, channel_senders(slack_base, int(smtp_port), via), now=dt.datetime.fromisoformat(now))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 11, 2))
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    admin_url = db.resolve_url()
    template = f"faults_base_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'create database "{template}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp)
            generate(source, start=args.start, days=args.days, customers=args.customers, seed=7, ruleset=RULES)
            days = [args.start + dt.timedelta(days=i) for i in range(args.days)]
            with db.connect(database_url(admin_url, template)) as conn:
                db.migrate(conn)
                for day in days:
                    load_snapshot(conn, source, day)
                outbox = []
                for _ in range(2):
                    for day in days:
                        evaluate_day(conn, day, RULES)
                    outbox.append(conn.execute("select count(*) from hypercare.alert_outbox").fetchone()[0])
                print(
                    f"{args.customers} customers, {days[0]}..{days[-1]} evaluated twice: outbox {outbox[0]} -> "
                    f"{outbox[1]} rows; {open_alert_findings(conn)} open alert-marked findings on the newest day, "
                    f"{len(owed_firing(conn))} firing notices owed to their recipients"
                )
        print("| scenario | owed | held | sent | received | duplicates | lost | notices per Slack message (max) |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, via, faults in SCENARIOS:
            row = run_scenario(admin_url, template, name, via, faults)
            print(
                f"| {name} | {row['owed']} | {row['held']} | {row['sent']} | {row['received']} | {row['duplicates']} | "
                f"{row['lost']} | {row['max_per_message']} |",
                flush=True,
            )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{template}" with (force)')


if __name__ == "__main__":
    main()
