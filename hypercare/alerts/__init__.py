"""Alerts people act on: an outbox written with the findings, and a dispatcher.

Evaluation writes notifications for alert-marked findings in the same transaction as
the findings (`outbox.enqueue_run`); the dispatcher (`dispatch.dispatch`) adds repeats
and escalations, holds back silenced and inhibited ones, groups the rest per recipient
and sends them, recording every attempt, so an outage delays a message but never loses
or duplicates it.
"""
