"""Property: after any sequence of evaluations, re-runs, backfills, concurrent runs,
silences, channel faults and dispatcher crashes, every open alert-marked finding of the
newest day is paged for its current episode, to every recipient, and never more than
the channel allows: exactly once through the Slack Web API, and through an incoming
webhook or SMTP at most the notices of the messages whose delivery was ambiguous (a
timeout, a dropped connection, a crash between send and record).

A small world (four onboardings, one alert-marked rule, five days) against the real
store and loopback Slack and SMTP servers. The budget is bounded for CI; set
HYPOTHESIS_PROFILE=long (`make fuzz`) for a longer search.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import Counter

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from hypercare import db
from hypercare.alerts.actions import silence
from hypercare.alerts.dispatch import dispatch
from hypercare.alerts.routing import recipients
from hypercare.alerts.senders import SlackApiSender, SlackWebhookSender, SmtpSender
from tests.loopback import MailSink, SlackStandIn
from tests.test_alerts import RULES, end_of, evaluate, no_owner

BUDGETS = {
    "ci": {"max_examples": 25, "stateful_step_count": 10},
    "long": {"max_examples": 300, "stateful_step_count": 30},
}
PROFILE = settings(
    **BUDGETS.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), BUDGETS["ci"]),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


SUBJECTS = ("N1", "N2", "N3", "N4")
DAYS = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(5)]
RULE_ID = "ownership.no_owner"
TIMEOUT, HANG = 0.2, 0.35
RESET = (
    "truncate hypercare.finding_occurrences, hypercare.finding_state, hypercare.finding_events, "
    "hypercare.evaluation_runs, hypercare.metric_values, hypercare.trace_events, hypercare.alert_outbox, "
    "hypercare.alert_acks, hypercare.alert_silences"
)
SLACK_FAULTS = st.sampled_from([("ok",), ("ok",), ("status", 500), ("rate_limit", 1), ("hang", HANG), ("drop",)])
MAIL_FAULTS = st.sampled_from([("ok",), ("ok",), ("reject",), ("hang", HANG)])


class Crash:
    """A dispatcher killed around a send: before it (nothing left) or after it (nothing recorded)."""

    def __init__(self, inner, after_send: bool, log: list[int]):
        self.inner, self.after_send, self.log = inner, after_send, log
        self.channel, self.can_confirm = inner.channel, inner.can_confirm

    def send(self, target, message, fingerprint):
        if self.after_send:
            self.inner.send(target, message, fingerprint)
            self.log.append(len(message.notification_ids))
        raise SystemExit("killed")

    def delivered(self, target, fingerprint, since=None):
        return self.inner.delivered(target, fingerprint, since)


def episode_start(truth: dict[dt.date, frozenset], subject: str) -> dt.date:
    """The first day of the subject's current episode, from the evaluated days alone."""
    days = sorted(truth)
    start = days[-1]
    for day in reversed(days):
        if subject not in truth[day]:
            break
        start = day
    return start


def alert_path_machine(db_url: str, slack: SlackStandIn, mail: MailSink, via: str):
    class AlertPath(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.conn = db.connect(db_url)
            self.conn.execute(RESET)
            self.conn.commit()
            slack.reset()
            mail.reset()
            self.truth: dict[dt.date, frozenset] = {}
            self.now = end_of(DAYS[0])
            self.crashed_after_send: list[int] = []
            self.dispatches = 0

        def senders(self):
            if via == "api":
                client = WebClient(token="xoxb-property", base_url=f"{slack.base}/api/", timeout=TIMEOUT)
                slack_sender = SlackApiSender(client)
            else:
                slack_sender = SlackWebhookSender(WebhookClient(f"{slack.base}/webhook", timeout=TIMEOUT))
            email = SmtpSender("127.0.0.1", mail.port, sender="hypercare@example.com", timeout=TIMEOUT)
            return {"slack": slack_sender, "email": email}

        def run(self, conn, day: dt.date, subjects: frozenset) -> None:
            evaluate(conn, day, "ownership", no_owner(*sorted(subjects)))

        @rule(day=st.sampled_from(DAYS), subjects=st.frozensets(st.sampled_from(SUBJECTS)))
        def evaluate_day(self, day, subjects):
            """A run, a re-run of the same day, or a backfill of an older one."""
            self.run(self.conn, day, subjects)
            self.truth[day] = subjects

        @rule(first=st.sampled_from(DAYS), last=st.sampled_from(DAYS))
        def rerun_range(self, first, last):
            """`evaluate --from --to` again over days already evaluated."""
            for day in sorted(d for d in self.truth if first <= d <= last):
                self.run(self.conn, day, self.truth[day])

        @rule(
            runs=st.lists(
                st.tuples(st.sampled_from(DAYS), st.frozensets(st.sampled_from(SUBJECTS))), min_size=2, max_size=2
            )
        )
        def concurrent_runs(self, runs):
            """Two evaluations at once, on separate connections."""
            barrier = threading.Barrier(len(runs))
            errors: list[BaseException] = []

            def work(day, subjects):
                try:
                    with db.connect(db_url) as conn:
                        barrier.wait()
                        self.run(conn, day, subjects)
                except BaseException as exc:  # surfaced below
                    errors.append(exc)

            threads = [threading.Thread(target=work, args=run) for run in runs]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, errors
            final = {}
            for day, subjects in runs:  # same-day runs serialise; which one wins is read back
                final[day] = subjects
            for day in final:
                rows = self.conn.execute(
                    "select subject_key from hypercare.finding_occurrences where as_of = %s", (day,)
                ).fetchall()
                self.truth[day] = frozenset(r[0] for r in rows)

        @rule(
            minutes=st.integers(1, 300),
            slack_faults=st.lists(SLACK_FAULTS, max_size=3),
            mail_faults=st.lists(MAIL_FAULTS, max_size=2),
        )
        def dispatch_pass(self, minutes, slack_faults, mail_faults):
            self.now += dt.timedelta(minutes=minutes)
            slack.plan.extend(slack_faults)
            mail.plan.extend(mail_faults)
            dispatch(self.conn, RULES, self.senders(), now=self.now)
            slack.plan.clear()
            mail.plan.clear()

        @rule(minutes=st.integers(1, 60))
        def concurrent_dispatchers(self, minutes):
            self.now += dt.timedelta(minutes=minutes)
            errors: list[BaseException] = []

            def work():
                try:
                    with db.connect(db_url) as conn:
                        dispatch(conn, RULES, self.senders(), now=self.now)
                except BaseException as exc:
                    errors.append(exc)

            threads = [threading.Thread(target=work) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert not errors, errors

        @rule(channel=st.sampled_from(["slack", "email"]), after_send=st.booleans(), minutes=st.integers(1, 30))
        def dispatcher_crash(self, channel, after_send, minutes):
            self.now += dt.timedelta(minutes=minutes)
            senders = self.senders()
            senders[channel] = Crash(senders[channel], after_send, self.crashed_after_send)
            try:
                dispatch(self.conn, RULES, senders, now=self.now)
            except SystemExit:
                self.conn.rollback()

        @rule(subject=st.sampled_from(SUBJECTS), hours=st.integers(1, 8))
        def silence_subject(self, subject, hours):
            silence(
                self.conn,
                author="ops@example.com",
                reason="maintenance",
                rule_id=RULE_ID,
                subject_key=subject,
                starts_at=self.now,
                ends_at=self.now + dt.timedelta(hours=hours),
            )

        @invariant()
        def held_notices_are_visible(self):
            """A due notice not sent is visibly held: silenced, inhibited, failed with a reason, or in flight."""
            hidden = self.conn.execute(
                "select count(*) from hypercare.alert_outbox where status = 'pending' and next_attempt_at > %s "
                "and not silenced and inhibited_by is null and last_error is null and attempts = 0",
                (self.now,),
            ).fetchone()[0]
            self.conn.commit()
            assert hidden == 0

        def teardown(self):
            try:
                if self.truth:
                    self.settle_and_check()
            finally:
                self.conn.close()

        def settle_and_check(self):
            slack.plan.clear()
            mail.plan.clear()
            settle = self.now + dt.timedelta(days=1)
            for step in range(6):
                dispatch(self.conn, RULES, self.senders(), now=settle + dt.timedelta(minutes=15 * step))
            newest = max(self.truth)
            alerting = RULES.content["alerting"]
            owed = {r.address for r in recipients(alerting, list(RULES.rule(RULE_ID).owner_roles), "mid_market", None)}
            received = Counter(slack.notice_ids()) + Counter(mail.notice_ids())
            for subject in sorted(self.truth[newest]):
                episode = episode_start(self.truth, subject)
                rows = self.conn.execute(
                    "select x.recipient, x.status, x.notification_id::text from hypercare.alert_outbox x "
                    "join hypercare.finding_state s using (finding_id) "
                    "where s.subject_key = %s and x.kind = 'firing' and x.episode_on = %s",
                    (subject, episode),
                ).fetchall()
                assert {r for r, _, _ in rows} == owed, (subject, episode, rows)
                for recipient, status, notification_id in rows:
                    assert status == "sent", (subject, episode, recipient, status)
                    assert received[notification_id] >= 1, (subject, episode, recipient, "never arrived")
                    if via == "api" and recipient.startswith("slack:"):
                        assert received[notification_id] == 1, (subject, recipient, "arrived twice")
            slack_ids, mail_ids = slack.notice_ids(), mail.notice_ids()
            slack_duplicates = len(slack_ids) - len(set(slack_ids))
            mail_duplicates = len(mail_ids) - len(set(mail_ids))
            crash_bound = sum(self.crashed_after_send)
            if via == "api":
                assert slack_duplicates == 0
            else:
                assert slack_duplicates <= slack.ambiguous_notices + crash_bound
            assert mail_duplicates <= mail.ambiguous_notices + crash_bound
            self.conn.commit()

    return AlertPath


@pytest.fixture(scope="module")
def loopback():
    with SlackStandIn() as slack, MailSink() as mail:
        yield slack, mail


@pytest.mark.parametrize("via", ["webhook", "api"])
def test_every_open_alert_is_paged_once_per_episode_whatever_happens(db_url, loopback, via):
    slack, mail = loopback
    run_state_machine_as_test(alert_path_machine(db_url, slack, mail, via), settings=PROFILE)
