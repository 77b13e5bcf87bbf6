-- Queries of the Airflow DAGs (plugins/hypercare_airflow).

-- name: rule_counts
-- Findings per rule for the given days and areas; every rule of the rule set is listed,
-- so a rule that did not fire shows 0.
select d.as_of, r.rule_id, count(o.rule_id) as findings
from unnest(%(days)s::date[]) as d (as_of)
cross join unnest(%(rule_ids)s::text[]) as r (rule_id)
left join hypercare.finding_occurrences o
    on o.as_of = d.as_of and o.rule_id = r.rule_id and o.area = any(%(areas)s)
group by d.as_of, r.rule_id
order by d.as_of, r.rule_id;

-- name: missing_evaluations
-- Areas that have neither evaluated the snapshot as it was last loaded nor recorded that
-- they give no verdict on it (hypercare.evaluation_blocks).
with loaded as (
    select max(loaded_at) as at from hypercare.load_runs where snapshot_date = %(snapshot_date)s
)
select array_agg(a.area order by a.area)
from unnest(%(areas)s::text[]) as a (area), loaded
where not exists (
    select 1 from hypercare.evaluation_runs e
    where e.as_of = %(snapshot_date)s and e.area = a.area and e.evaluated_at >= loaded.at
)
and not exists (
    select 1 from hypercare.evaluation_blocks b
    where b.as_of = %(snapshot_date)s and b.area = a.area and b.blocked_at >= loaded.at
);
