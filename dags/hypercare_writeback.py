"""Airflow DAG hypercare_writeback: do writebacks land, and do systems agree?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_writeback
Owner: **hypercare-data-eng**; findings go to the technical owner and RevOps.

Evaluates the `writeback.*` rules when a snapshot lands: failed or stuck writebacks,
retry storms, writes without idempotency key, and drift between systems on package,
seats or scope (alert) or on owner, status or go-live, with each system's value as
evidence. Metrics: failure rate and sync errors by target system.
"""

hypercare_writeback = build_area_dag("writeback", DOC)
