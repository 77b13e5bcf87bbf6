-- The landing tables of the per-item entities keep their keys by contract, not by index.
-- The loader's contract check quarantines every copy of a duplicated key before a row
-- lands (hypercare/contract.py), and only the loader writes landing partitions, each
-- truncated and copied in one transaction; no reader looks these rows up by key (the rules
-- read a whole day's partition, the scorecard and alerts join the deals and projects).
-- Maintaining their unique indexes row by row was most of the server's COPY: at 100k
-- customers it doubled the cost of writing the largest files (docs/benchmarks.md, tenth
-- round). Deals and onboarding projects, looked up by key, keep theirs.
alter table hypercare.landing_handoff_fields drop constraint landing_handoff_fields_pkey;
alter table hypercare.landing_billing_accounts drop constraint landing_billing_accounts_pkey;
alter table hypercare.landing_provisioning_items drop constraint landing_provisioning_items_pkey;
alter table hypercare.landing_customer_tasks drop constraint landing_customer_tasks_pkey;
alter table hypercare.landing_milestones drop constraint landing_milestones_pkey;
alter table hypercare.landing_ai_suggestions drop constraint landing_ai_suggestions_pkey;
alter table hypercare.landing_writebacks drop constraint landing_writebacks_pkey;
alter table hypercare.landing_system_records drop constraint landing_system_records_pkey;
