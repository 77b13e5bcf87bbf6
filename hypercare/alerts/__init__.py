"""Alerts people act on: an outbox written with the findings, and a dispatcher.

Evaluation writes notifications for alert-marked findings in the same transaction as
the findings (`outbox.enqueue_run`); the dispatcher (`dispatch.dispatch`) adds repeats
and escalations, holds back silenced and inhibited ones, groups the rest per recipient
and sends them within each channel's limits, recording every attempt: an outage delays a
message but never loses it, and only a message whose delivery was ambiguous (a timeout,
a crash) can arrive twice, and never through the Slack Web API.
"""
