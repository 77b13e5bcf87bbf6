"""Airflow DAG hypercare_ai: is the AI layer trustworthy enough, and gated where it must be?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_ai
Owner: **hypercare-data-eng**; findings go to the automation owner, RevOps and the onboarding owner.

Evaluates the `ai.*` hard gates when a snapshot lands: low confidence auto-applied
(alert), outputs conflicting with CRM, material commitments without evidence, customer
emails sent unreviewed, sensitive changes without approval, sensitive access unlogged.
Metrics: acceptance/correction/rejection rates by kind and model+prompt version,
confidence distribution and calibration, low-confidence escalation rate, review queue.
"""

hypercare_ai = build_area_dag("ai", DOC)
