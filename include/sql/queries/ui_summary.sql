-- The summaries the Findings page (migration 0012) and the scorecard (migration 0016)
-- read, rewritten for one (as_of, area) run inside the run's transaction, after its
-- occurrences and lifecycle changed.

-- name: delete_occurrence_counts
delete from hypercare.occurrence_counts where as_of = %(as_of)s and area = %(area)s;

-- name: insert_occurrence_counts
insert into hypercare.occurrence_counts (as_of, area, rule_id, severity, reason_code, findings, high_value, alerting)
select as_of, area, rule_id, severity, reason_code, count(*),
       count(*) filter (where high_value), count(*) filter (where alert)
from hypercare.finding_occurrences
where as_of = %(as_of)s and area = %(area)s
group by as_of, area, rule_id, severity, reason_code;

-- name: delete_finding_counts
delete from hypercare.finding_counts where area = %(area)s;

-- name: insert_finding_counts
insert into hypercare.finding_counts (area, rule_id, status, severity, segment, high_value, reason_code, owner_roles, findings)
select area, rule_id, status, severity, segment, high_value, reason_code, owner_roles, count(*)
from hypercare.finding_state
where area = %(area)s
group by area, rule_id, status, severity, segment, high_value, reason_code, owner_roles;
