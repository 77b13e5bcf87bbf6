-- The Hypercare pages in the Airflow UI page through findings newest first and filter
-- them by rule; these indexes keep a page a bounded index scan on a large store.
create index if not exists finding_state_last_seen_idx on hypercare.finding_state (last_seen_on desc, finding_id);
create index if not exists finding_state_rule_idx on hypercare.finding_state (rule_id, last_seen_on desc);
create index if not exists audit_log_subject_idx on hypercare.audit_log (subject);
