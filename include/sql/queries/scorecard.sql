-- Queries behind the daily scorecard. Every statement reads one as-of date (or a short
-- list of dates) of the audit store, so a scorecard for day D can be recompiled later
-- and gives the same numbers.

-- name: evaluated_areas
-- Which areas ran on each day, under which rule set.
select as_of, area, rule_version
from hypercare.evaluation_runs
where as_of = any(%(days)s)
order by as_of, area;

-- name: findings_by_rule
-- Finding counts per day, area, rule and severity (info included; callers filter).
select as_of, area, rule_id, severity,
       sum(findings)::bigint as findings,
       sum(high_value)::bigint as high_value,
       sum(alerting)::bigint as alerting
from hypercare.occurrence_counts
where as_of = any(%(days)s)
group by as_of, area, rule_id, severity
order by as_of, area, rule_id, severity;

-- name: exceptions_by_reason
-- Exceptions (warn and above) per day, reason code and severity.
select as_of, reason_code, severity, sum(findings)::bigint as findings
from hypercare.occurrence_counts
where as_of = any(%(days)s) and severity <> 'info'
group by as_of, reason_code, severity
order by as_of, reason_code, severity;

-- name: metrics
-- The metric rows the scorecard shows: named metrics plus every queue metric.
select as_of, area, metric, dimension, dimension_value, value, detail
from hypercare.metric_values
where as_of = any(%(days)s)
  and (metric = any(%(metrics)s) or starts_with(metric, 'queue.'))
order by as_of, area, metric, dimension, dimension_value;

-- name: metric_series
-- Daily overall values of a few metrics over a date range (charts and weekly sums).
select as_of, metric, value
from hypercare.metric_values
where as_of between %(start)s and %(end)s and dimension = 'all' and metric = any(%(metrics)s)
order by as_of, metric;

-- name: day_exceptions
-- The day's exceptions (warn and above), read once for two answers, as JSON arrays:
-- fixes: the exceptions grouped into fixes by (rule, reason code), with what ranks them:
--   how many, how old the oldest open episode is (calendar days from the day it opened or
--   reopened), and the ARR of the affected deals (each deal once);
-- reopened: how many exceptions there are, and how many of their findings had been
--   reopened at least once by the day.
with today as materialized (
    select o.finding_id, o.rule_id, o.reason_code, o.severity, o.subject_key, o.onboarding_id,
           o.opportunity_id, o.high_value, o.owner_roles, d.arr::double precision as arr,
           e.opened_on, coalesce(e.reopened, false) as reopened
    from hypercare.finding_occurrences o
    left join hypercare.landing_deals d
        on d.snapshot_date = %(as_of)s and d.opportunity_id = o.opportunity_id
    left join (
        select e.finding_id,
               max(e.event_on) filter (where e.event in ('opened', 'reopened')) as opened_on,
               bool_or(e.event = 'reopened') as reopened
        from hypercare.finding_events e
        where e.event_on <= %(as_of)s
          and e.finding_id in (
              select finding_id from hypercare.finding_occurrences
              where as_of = %(as_of)s and severity <> 'info')
        group by e.finding_id
    ) e on e.finding_id = o.finding_id
    where o.as_of = %(as_of)s and o.severity <> 'info'
),
arr_at_risk as (
    select rule_id, reason_code, sum(arr) as arr_at_risk
    from (select distinct rule_id, reason_code, opportunity_id, arr from today where arr is not null) deals
    group by rule_id, reason_code
),
fixes as (
    select t.rule_id, t.reason_code,
           count(*) as findings,
           count(distinct coalesce(t.onboarding_id, t.opportunity_id, t.subject_key)) as customers,
           count(*) filter (where t.high_value) as high_value,
           max(case t.severity when 'critical' then 3 when 'high' then 2 else 1 end) as severity_rank,
           coalesce(max(%(as_of)s::date - t.opened_on), 0) as oldest_days,
           (array_agg(t.subject_key order by t.opened_on nulls last, t.subject_key))[1] as oldest_subject,
           coalesce(max(a.arr_at_risk), 0) as arr_at_risk,
           (array_agg(array_to_string(t.owner_roles, ',') order by t.subject_key))[1] as owner_roles,
           count(distinct t.onboarding_id) as onboardings
    from today t
    left join arr_at_risk a on a.rule_id = t.rule_id and a.reason_code = t.reason_code
    group by t.rule_id, t.reason_code
)
select
    (select coalesce(json_agg(json_build_array(
                rule_id, reason_code, findings, customers, high_value, severity_rank, oldest_days,
                oldest_subject, arr_at_risk, owner_roles, onboardings) order by rule_id, reason_code), '[]')
     from fixes),
    (select json_build_array(count(*), count(*) filter (where reopened)) from today);

-- name: fix_accounts
-- The accounts behind each fix (rule, reason code) of the day, largest ARR first, at most
-- %(per_fix)s per fix. Read beside day_exceptions, on the scorecard's second connection.
with behind as (
    select distinct o.rule_id, o.reason_code, d.account_id, o.onboarding_id, d.arr::double precision as arr
    from hypercare.finding_occurrences o
    join hypercare.landing_deals d on d.snapshot_date = %(as_of)s and d.opportunity_id = o.opportunity_id
    where o.as_of = %(as_of)s and o.severity <> 'info'
),
ranked as (
    select *, row_number() over (
        partition by rule_id, reason_code order by arr desc, account_id, onboarding_id nulls last) as n
    from behind
)
select rule_id, reason_code, account_id, onboarding_id, arr
from ranked
where n <= %(per_fix)s
order by rule_id, reason_code, n;

-- name: control_loop
-- Where each open customer journey sits in the control loop on the day, from the
-- landed snapshot of that day: the first step of the loop not yet done. A journey is
-- stuck at its step when it has an exception (warn and above) that day from the areas
-- that own the step.
with projects as (
    select p.onboarding_id, p.handoff_accepted_at, p.onboarding_owner, p.kickoff_scheduled_at
    from hypercare.landing_onboarding_projects p
    where p.snapshot_date = %(as_of)s and p.status in ('active', 'paused')
),
open_items as (
    select distinct onboarding_id from hypercare.landing_provisioning_items
    where snapshot_date = %(as_of)s and status <> 'done'
),
open_tasks as (
    select distinct onboarding_id from hypercare.landing_customer_tasks
    where snapshot_date = %(as_of)s and completed_at is null
),
open_writebacks as (
    select distinct onboarding_id from hypercare.landing_writebacks
    where snapshot_date = %(as_of)s and status <> 'succeeded'
),
value_reached as (
    select distinct onboarding_id from hypercare.landing_milestones
    where snapshot_date = %(as_of)s and milestone = 'first_value' and completed_at is not null
),
escalated as (
    select distinct onboarding_id from hypercare.finding_occurrences
    where as_of = %(as_of)s and alert and onboarding_id is not null
),
journeys as (
    select p.onboarding_id as journey,
           case
               when p.handoff_accepted_at is null then 'validate'
               when p.onboarding_owner is null or p.kickoff_scheduled_at is null then 'assign'
               when i.onboarding_id is not null then 'provision'
               when t.onboarding_id is not null then 'customer_tasks'
               when x.onboarding_id is not null then 'escalate'
               when w.onboarding_id is not null then 'write_back'
               when v.onboarding_id is null then 'measure_value'
               else 'value_reached'
           end as stage
    from projects p
    left join open_items i on i.onboarding_id = p.onboarding_id
    left join open_tasks t on t.onboarding_id = p.onboarding_id
    left join escalated x on x.onboarding_id = p.onboarding_id
    left join open_writebacks w on w.onboarding_id = p.onboarding_id
    left join value_reached v on v.onboarding_id = p.onboarding_id
    union all
    -- Deals eligible on the day (the rules' shared definition, as in
    -- hypercare.snapshot.with_deal_status) with no live or completed project: still to be
    -- captured.
    select d.opportunity_id, 'capture'
    from hypercare.landing_deals d
    where d.snapshot_date = %(as_of)s
      and d.stage = 'closed_won' and d.excluded_reason is null
      and d.contract_state in ('signed', 'countersigned')
      and (d.payment_condition <> 'prepayment' or d.payment_received_at is not null)
      and not exists (
          select 1 from hypercare.landing_onboarding_projects p
          where p.snapshot_date = %(as_of)s and p.opportunity_id = d.opportunity_id and p.status <> 'cancelled')
),
step_areas (stage, area) as (
    values ('capture', 'trigger'), ('validate', 'handoff'), ('validate', 'trigger'), ('assign', 'ownership'),
           ('provision', 'provisioning'), ('provision', 'billing'), ('customer_tasks', 'customer'),
           ('escalate', 'backlog'), ('write_back', 'writeback'), ('measure_value', 'customer')
),
area_bits as (
    select area, 1 << (row_number() over (order by area) - 1)::integer as bit
    from (select distinct area from step_areas) a
),
stage_masks as (
    select s.stage, bit_or(b.bit) as mask from step_areas s join area_bits b using (area) group by s.stage
),
exception_areas as (
    -- Per journey, the areas with an exception on the day, one bit each: a journey is
    -- stuck when it shares a bit with its step's mask (one pass, no join per pair).
    select x.journey, bit_or(b.bit) as mask
    from (
        select o.area, o.onboarding_id as journey
        from hypercare.finding_occurrences o
        where o.as_of = %(as_of)s and o.severity <> 'info' and o.onboarding_id is not null
        union all
        select o.area, o.opportunity_id
        from hypercare.finding_occurrences o
        where o.as_of = %(as_of)s and o.severity <> 'info' and o.opportunity_id is not null
    ) x
    join area_bits b using (area)
    group by x.journey
)
select j.stage, count(*) as customers, count(*) filter (where e.mask & m.mask <> 0) as stuck
from journeys j
left join stage_masks m on m.stage = j.stage
left join exception_areas e on e.journey = j.journey
group by j.stage;

-- name: alert_quality_exists
select to_regclass('hypercare.alert_quality') is not null;

-- name: alert_quality
-- Alerts of the runs from %(start)s up to the scorecard's day, per rule and role: episodes
-- first notified (firing), repeats and escalations sent, episodes acknowledged by the end
-- of that day, reopened episodes and silenced ones. Nothing after the scorecard's day counts:
-- repeats and escalations carry no run day, so a notice sent or silenced after the end of
-- the day (%(until)s, when that day's run dispatches) is left out, and a day compiled again
-- later reads as it did that day.
with sent as (
    select rule_id, owner_role, finding_id, episode_on, kind, silenced, sent_at
    from hypercare.alert_outbox
    where status = 'sent' and kind <> 'digest' and coalesce(as_of, episode_on) between %(start)s and %(as_of)s
      and sent_at <= %(until)s
),
firing as (
    select rule_id, owner_role, finding_id, episode_on, min(sent_at) as first_sent_at
    from sent
    where kind = 'firing'
    group by rule_id, owner_role, finding_id, episode_on
),
first_episode as (
    select finding_id, min(event_on) as first_on
    from hypercare.finding_events
    where event = 'opened'
    group by finding_id
),
episodes as (
    select f.rule_id, f.owner_role, f.finding_id, f.episode_on,
           extract(epoch from a.acknowledged_at - f.first_sent_at) / 60 as minutes_to_ack,
           a.finding_id is not null as acknowledged,
           f.episode_on > coalesce(fe.first_on, f.episode_on) as reopened
    from firing f
    left join first_episode fe on fe.finding_id = f.finding_id
    left join hypercare.alert_acks a
           on a.finding_id = f.finding_id and a.episode_on = f.episode_on and a.acknowledged_at < %(until)s
),
per_role as (
    select rule_id, owner_role,
           count(*) as first_alerts,
           count(*) filter (where acknowledged) as acknowledged,
           percentile_cont(0.5) within group (order by minutes_to_ack) as median_minutes_to_ack,
           count(*) filter (where reopened) as reopened
    from episodes
    group by rule_id, owner_role
),
follow_ups as (
    select rule_id, owner_role,
           count(*) filter (where kind = 'repeat') as repeats,
           count(*) filter (where kind = 'escalation') as escalations,
           count(*) filter (where kind = 'resolved') as resolved
    from sent
    group by rule_id, owner_role
),
silenced as (
    select rule_id, owner_role, count(distinct (finding_id, episode_on)) as silenced
    from hypercare.alert_outbox
    where silenced and kind <> 'digest' and coalesce(as_of, episode_on) between %(start)s and %(as_of)s
      and silenced_at <= %(until)s
    group by rule_id, owner_role
),
keys as (
    select rule_id, owner_role from per_role
    union select rule_id, owner_role from follow_ups
    union select rule_id, owner_role from silenced
)
select k.rule_id, k.owner_role,
       coalesce(p.first_alerts, 0) as first_alerts, coalesce(u.repeats, 0) as repeats,
       coalesce(u.escalations, 0) as escalations, coalesce(p.acknowledged, 0) as acknowledged,
       p.median_minutes_to_ack, coalesce(u.resolved, 0) as resolved, coalesce(p.reopened, 0) as reopened,
       coalesce(x.silenced, 0) as silenced
from keys k
left join per_role p using (rule_id, owner_role)
left join follow_ups u using (rule_id, owner_role)
left join silenced x using (rule_id, owner_role)
order by coalesce(p.first_alerts, 0) + coalesce(u.repeats, 0) + coalesce(u.escalations, 0) desc,
         k.rule_id, k.owner_role;

-- name: archive
-- One row per as-of date: compiling a day again replaces its row, keeping when and to
-- whom it was sent.
insert into hypercare.scorecards (
    as_of, hypercare_day, send_day, review_day, rule_versions, data, html, text_body, compiled_at, config_version)
values (%(as_of)s, %(hypercare_day)s, %(send_day)s, %(review_day)s, %(rule_versions)s, %(data)s, %(html)s,
        %(text_body)s, now(), %(config_version)s)
on conflict (as_of) do update set
    config_version = excluded.config_version,
    hypercare_day = excluded.hypercare_day,
    send_day = excluded.send_day,
    review_day = excluded.review_day,
    rule_versions = excluded.rule_versions,
    data = excluded.data,
    html = excluded.html,
    text_body = excluded.text_body,
    compiled_at = excluded.compiled_at;

-- name: mark_sent
update hypercare.scorecards
set sent_at = %(sent_at)s, sent_to = %(sent_to)s
where as_of = %(as_of)s;
