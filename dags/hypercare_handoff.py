"""Airflow DAG hypercare_handoff: is the handoff packet good enough to act on?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_handoff
Owner: **hypercare-data-eng**; findings go to the onboarding owner, RevOps and the onboarding lead.

Evaluates the `handoff.*` rules when a snapshot lands: required fields missing at
submission and before kickoff (per segment), success criteria missing at kickoff,
handoffs waiting for acceptance, corrections after kickoff. Metrics: complete-at-handoff
and complete-before-kickoff rates by segment and sales team, missing count per field,
and the handoff-acceptance and pre-kickoff-cleanup queues (p50, p90, max, oldest item).
"""

hypercare_handoff = build_area_dag("handoff", DOC)
