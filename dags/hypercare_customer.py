"""Airflow DAG hypercare_customer: are customers moving, or stalled behind their tasks?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_customer
Owner: **hypercare-data-eng**; findings go to the onboarding owner, account owner and workflow owner.

Evaluates the `customer.*` rules when a snapshot lands: overdue customer tasks (alert
when one blocks first value), unresponsive customers, milestones past their segment's
grace, stalls without a reason code, first value claimed without evidence. Metrics:
overdue tasks, reminders, customer-response queue, stalls by reason, time to first value.
"""

hypercare_customer = build_area_dag("customer", DOC)
