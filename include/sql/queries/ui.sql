-- Queries behind the Hypercare pages in the Airflow UI. Every filter is a bind parameter;
-- a null parameter means "any". Status follows the `hypercare.findings` view: an open or
-- reopened finding whose current episode is acknowledged reads `acknowledged`.

-- name: findings_page
-- The keyset condition and the order are filled in by ui_queries.findings_page: a page starts
-- after or before a cursor. Findings whose current episode is acknowledged are read once from
-- the acknowledgements, so no status costs a probe per finding. A snapshot date's findings are
-- probed one by one (never hashed from the whole day), within the span each was seen, and
-- only on a day that had findings at all.
with acknowledged as (
    select a.finding_id
    from hypercare.alert_acks a
    where a.episode_on = (select max(e.event_on) from hypercare.finding_events e
                          where e.finding_id = a.finding_id and e.event in ('opened', 'reopened'))
)
select s.finding_id, s.area, s.rule_id, s.subject_key, s.onboarding_id, s.account_id, s.segment, s.high_value,
       s.severity, s.reason_code, s.owner_roles, s.first_seen_on, s.last_seen_on, s.resolved_on,
       case when s.status in ('open', 'reopened') and s.finding_id in (select finding_id from acknowledged)
            then 'acknowledged' else s.status end as status
from hypercare.finding_state s
where {keyset}
  and (%(area)s::text is null or s.area = %(area)s)
  and (%(rule_id)s::text is null or s.rule_id = %(rule_id)s)
  and (%(severity)s::text is null or s.severity = %(severity)s)
  and (%(segment)s::text is null or s.segment = %(segment)s)
  and (%(high_value)s::boolean is null or s.high_value = %(high_value)s)
  and (%(owner_role)s::text is null or %(owner_role)s = any(s.owner_roles))
  and (%(reason_code)s::text is null or s.reason_code = %(reason_code)s)
  and (%(onboarding_id)s::text is null or s.onboarding_id = %(onboarding_id)s)
  and (%(snapshot_date)s::date is null
       or (exists (select 1 from hypercare.occurrence_counts c where c.as_of = %(snapshot_date)s)
           and s.first_seen_on <= %(snapshot_date)s and s.last_seen_on >= %(snapshot_date)s
           and (select true from hypercare.finding_occurrences o
                where o.finding_id = s.finding_id and o.as_of = %(snapshot_date)s limit 1)))
  and (%(status)s::text is null
       or (%(status)s = 'resolved' and s.status = 'resolved')
       or (%(status)s = 'acknowledged' and s.status in ('open', 'reopened')
           and s.finding_id = any(array(select finding_id from acknowledged)))
       or (%(status)s in ('open', 'reopened') and s.status = %(status)s
           and s.finding_id not in (select finding_id from acknowledged)))
order by {place} {order}, s.finding_id {order}
limit %(limit)s;

-- name: rule_counts
-- Findings per rule under the filters, from the per-run summary (migration 0012).
select rule_id, sum(findings)::integer as findings,
       coalesce(sum(findings) filter (where status in ('open', 'reopened')), 0)::integer as not_resolved
from hypercare.finding_counts
where (%(area)s::text is null or area = %(area)s)
  and (%(rule_id)s::text is null or rule_id = %(rule_id)s)
  and (%(severity)s::text is null or severity = %(severity)s)
  and (%(segment)s::text is null or segment = %(segment)s)
  and (%(high_value)s::boolean is null or high_value = %(high_value)s)
  and (%(owner_role)s::text is null or %(owner_role)s = any(owner_roles))
  and (%(reason_code)s::text is null or reason_code = %(reason_code)s)
group by rule_id
order by sum(findings) desc, rule_id;

-- name: rule_counts_of_onboarding
-- The same counts for one onboarding's findings, which the summary does not keep apart.
select s.rule_id, count(*)::integer as findings,
       count(*) filter (where s.status in ('open', 'reopened'))::integer as not_resolved
from hypercare.finding_state s
where s.onboarding_id = %(onboarding_id)s
  and (%(area)s::text is null or s.area = %(area)s)
  and (%(rule_id)s::text is null or s.rule_id = %(rule_id)s)
  and (%(severity)s::text is null or s.severity = %(severity)s)
  and (%(segment)s::text is null or s.segment = %(segment)s)
  and (%(high_value)s::boolean is null or s.high_value = %(high_value)s)
  and (%(owner_role)s::text is null or %(owner_role)s = any(s.owner_roles))
  and (%(reason_code)s::text is null or s.reason_code = %(reason_code)s)
group by s.rule_id
order by count(*) desc, s.rule_id;

-- name: rule_daily
-- Findings per rule per evaluated day over the 30 days up to the newest run: the sparklines.
select rule_id, as_of, sum(findings)::integer as findings
from hypercare.occurrence_counts
where as_of > %(until)s::date - 30 and as_of <= %(until)s and rule_id = any(%(rules)s)
group by rule_id, as_of;

-- name: newest_run
select max(as_of) from hypercare.evaluation_runs;

-- name: finding
select s.*, f.status as shown_status
from hypercare.finding_state s join hypercare.findings f using (finding_id)
where s.finding_id = %(finding_id)s;

-- name: journey_findings
select s.finding_id, s.rule_id, s.subject_key, s.segment, s.severity, s.reason_code, s.owner_roles, s.first_seen_on,
       s.last_seen_on, s.resolved_on, f.status, s.evidence
from hypercare.finding_state s join hypercare.findings f using (finding_id)
where s.onboarding_id = %(onboarding_id)s
order by s.first_seen_on, s.rule_id;

-- name: journey_trace
select event_type, event_at, ref_id, attributes, first_observed_on
from hypercare.trace_events
where onboarding_id = %(onboarding_id)s
order by event_at, event_type;

-- name: journey_alerts
select o.finding_id, o.kind, o.episode_on, o.recipient, o.status, o.sent_at, o.attempts, o.last_error,
       o.silenced, o.inhibited_by
from hypercare.alert_outbox o
where o.finding_id = any(%(finding_ids)s)
order by o.created_at, o.recipient;

-- name: acks
select finding_id, episode_on, acknowledged_at, acknowledged_by, note
from hypercare.alert_acks
where finding_id = any(%(finding_ids)s)
order by acknowledged_at;

-- name: silences
-- Silences still in force or ended within the last week, newest first.
select silence_id, rule_id, subject_key, owner_role, starts_at, ends_at, reason, author
from hypercare.alert_silences
where ends_at > %(now)s - interval '7 days'
  and (%(subject_keys)s::text[] is null or subject_key is null or subject_key = any(%(subject_keys)s))
order by starts_at desc
limit 200;

-- name: scorecards
select as_of, hypercare_day, send_day, review_day, rule_versions, compiled_at, sent_at, sent_to
from hypercare.scorecards
order by as_of desc;

-- name: scorecard_html
select html from hypercare.scorecards where as_of = %(as_of)s;

-- name: runs
select r.as_of, r.area, r.rule_version, r.finding_count, r.metric_count, r.evaluated_at, 'evaluated' as outcome,
       null::text as reason
from hypercare.evaluation_runs r
union all
select b.as_of, b.area, b.rule_version, null, null, b.blocked_at, 'no verdict', b.reason
from hypercare.evaluation_blocks b
order by 1 desc, 2
limit %(limit)s;

-- name: rule_sets
-- Every rule-set version with the days evaluated under it, newest first.
select v.version, v.covers, v.registered_at, min(r.as_of) as first_day, max(r.as_of) as last_day,
       count(r.as_of) as runs
from hypercare.rule_sets v
left join hypercare.evaluation_runs r on r.rule_version = v.version
group by v.version, v.covers, v.registered_at
order by v.registered_at desc;

-- name: config_versions
select scope, version, registered_at
from hypercare.config_versions
order by registered_at desc, scope;

-- name: loads
select snapshot_date, entity, status, rows_read, rows_loaded, rows_quarantined, message
from hypercare.load_runs
order by snapshot_date desc, entity
limit %(limit)s;

-- name: quarantine
select snapshot_date, entity, source_file, row_number, line_number, column_name, value, reason
from hypercare.quarantine
where snapshot_date = %(snapshot_date)s and (%(entity)s::text is null or entity = %(entity)s)
order by entity, row_number, column_name
limit %(limit)s;

-- name: audit_log
select seq, logged_at, actor, action, subject, details
from hypercare.audit_log
order by seq desc
limit %(limit)s;
