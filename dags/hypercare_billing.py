"""Airflow DAG hypercare_billing: will billing data block first invoice or launch?"""

from hypercare_airflow.areas import build_area_dag

DOC = """
### hypercare_billing
Owner: **hypercare-data-eng**; findings go to the finance owner, account owner and RevOps.

Evaluates the `billing.*` rules when a snapshot lands: missing bill-to contact, invalid
address, tax ID or PO missing, plan/seats conflicting with the deal, unreviewed changes
from customers, automation or AI, and billing problems that block the first invoice or
launch within a week (alert). Findings name the fields and their owner; they never
propose finance values.
"""

hypercare_billing = build_area_dag("billing", DOC)
