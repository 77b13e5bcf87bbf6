-- Replace one (as_of, area) run's outputs. Staging tables are filled by COPY first.

-- name: delete_occurrences
delete from hypercare.finding_occurrences where as_of = %(as_of)s and area = %(area)s;

-- name: insert_occurrences
insert into hypercare.finding_occurrences (
    as_of, area, rule_id, subject_key, finding_id, rule_version, onboarding_id, opportunity_id,
    account_id, segment, strategic, high_value, severity, reason_code, owner_roles, alert, since,
    evidence)
select %(as_of)s, %(area)s, rule_id, subject_key, md5(rule_id || '|' || subject_key)::uuid,
       %(rule_version)s, onboarding_id, opportunity_id, account_id, segment, strategic, high_value,
       severity, reason_code, owner_roles, alert, since, evidence::jsonb
from stage_findings;

-- name: delete_metrics
delete from hypercare.metric_values where as_of = %(as_of)s and area = %(area)s;

-- name: insert_metrics
insert into hypercare.metric_values (as_of, area, metric, dimension, dimension_value, value, detail, rule_version)
select %(as_of)s, %(area)s, metric, dimension, dimension_value, value, detail::jsonb, %(rule_version)s
from stage_metrics;

-- name: upsert_run
insert into hypercare.evaluation_runs (as_of, area, rule_version, finding_count, metric_count, evaluated_at)
values (%(as_of)s, %(area)s, %(rule_version)s, %(finding_count)s, %(metric_count)s, now())
on conflict (as_of, area) do update set
    rule_version = excluded.rule_version, finding_count = excluded.finding_count,
    metric_count = excluded.metric_count, evaluated_at = excluded.evaluated_at;

-- name: upsert_trace
-- Journey events are facts of the source: the first observation is kept, and a re-run
-- only moves first_observed_on earlier, or links a deal's event to its onboarding and
-- moves linked_on (the first day that saw the link) earlier, so a day that sees nothing
-- new writes nothing. The staged events are one row per event and only those the trace
-- does not hold as of the day (store.unrecorded_trace, read in this transaction under the
-- area's lock, and no other area writes these event types), so no row is locked or
-- rewritten for nothing. That check is not repeated here: on a store's first day the
-- trace is empty and unanalyzed, and an anti-join planned as a scan of the trace rescans
-- the rows this very statement inserts, once per staged event (minutes at 100k).
-- Attributes are parsed as JSON only for the rows that are written.
insert into hypercare.trace_events as t (
    event_id, onboarding_id, opportunity_id, account_id, event_type, event_at, ref_id,
    attributes, first_observed_on, linked_on)
select n.event_id, n.onboarding_id, n.opportunity_id, n.account_id, n.event_type, n.event_at, n.ref_id,
       n.attributes::jsonb, n.first_observed_on,
       case when n.onboarding_id is not null then n.first_observed_on end
from (
    select md5(event_type || '|' || ref_id || '|' || event_at::text)::uuid as event_id, onboarding_id,
           opportunity_id, account_id, event_type, event_at, ref_id, attributes,
           %(as_of)s::date as first_observed_on
    from stage_trace
) n
on conflict (event_type, ref_id, event_at) do update set
    onboarding_id = coalesce(t.onboarding_id, excluded.onboarding_id),
    first_observed_on = least(t.first_observed_on, excluded.first_observed_on),
    linked_on = least(t.linked_on, excluded.linked_on),
    attributes = case when excluded.first_observed_on < t.first_observed_on
                      then excluded.attributes else t.attributes end
where excluded.first_observed_on < t.first_observed_on
   or excluded.linked_on < coalesce(t.linked_on, 'infinity');
