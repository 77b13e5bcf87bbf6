"""Airflow DAG hypercare_trigger: did the right customers enter onboarding at the right time?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_trigger
Owner: **hypercare-data-eng**; findings go to RevOps and the onboarding lead.

Runs when a snapshot lands (the landing asset) and evaluates the `trigger.*` rules for
that snapshot date: missed eligible deals (alert), premature starts, duplicate, manual
and unlinked projects, deals stuck before eligibility, paused handoffs and signed but
not closed deals. Each run replaces its own findings and metrics for the date, so
re-runs and backfills are safe. Trigger by hand with a `snapshot_date` to re-evaluate one day.
"""

hypercare_trigger = build_area_dag("trigger", DOC)
