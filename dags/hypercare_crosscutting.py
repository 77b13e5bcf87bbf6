"""Airflow DAG hypercare_crosscutting: aged high-value exceptions and trace gaps."""

from hypercare_airflow.areas import build_area_dag
from hypercare_airflow.common import CROSSCUTTING_AREAS, MONITORING_AREAS, area_asset

DOC = """
### hypercare_crosscutting
Owner: **hypercare-data-eng**; findings go to the workflow owner.

Runs once the contract check and every monitoring area have written their findings (all
their assets updated) and
evaluates, from the audit store, `audit.trace_gap` (an onboarding past kickoff whose
trigger, handoff validation or owner assignment cannot be traced) and
`backlog.aged_high_value` (a high-value onboarding with a finding open for three
business days or more; alert).
"""

hypercare_crosscutting = build_area_dag(
    "crosscutting",
    DOC,
    schedule=[area_asset(area) for area in ("contract", *MONITORING_AREAS)],
    evaluates=CROSSCUTTING_AREAS,
)
