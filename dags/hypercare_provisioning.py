"""Airflow DAG hypercare_provisioning: is internal setup right and on time?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_provisioning
Owner: **hypercare-data-eng**; findings go to the technical owner and CS ops.

Evaluates the `provisioning.*` rules when a snapshot lands: entitlement mismatches,
workspace and identity setup late against kickoff, unowned integrations, failed items
(alert when the customer is launch-ready), unapproved manual overrides, overdue items,
launches without a support handoff.
"""

hypercare_provisioning = build_area_dag("provisioning", DOC)
