"""Airflow DAG hypercare_ownership: does a named human own every new customer, on time?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_ownership
Owner: **hypercare-data-eng**; findings go to RevOps, CS ops, the onboarding lead and the account owner.

Evaluates the `ownership.*` rules when a snapshot lands: no onboarding owner after one
business day (alert), missing CSM/technical/finance owners, no kickoff task, kickoff not
scheduled or not completed within the segment's SLA (alert for high-value accounts),
and kickoff no-shows/reschedules. Metrics: owner-assignment and kickoff-scheduling
queues, time to owner and to kickoff (p50, p90 by segment and high value).
"""

hypercare_ownership = build_area_dag("ownership", DOC)
