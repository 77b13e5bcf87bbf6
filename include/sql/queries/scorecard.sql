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
-- The day's exceptions (warn and above), one row per finding, read once into a frame, each
-- with its episode: the latest opening or reopening up to the day, and whether the finding
-- had been reopened by then. The fixes, the accounts behind them, the reopened count and
-- the journeys stuck in the control loop are all answered from it
-- (hypercare/scorecard/exceptions.py).
select o.area, o.rule_id, o.reason_code, o.severity, o.subject_key, o.onboarding_id,
       o.opportunity_id, o.high_value, array_to_string(o.owner_roles, ',') as owner_roles,
       e.opened_on, coalesce(e.reopened, false) as reopened
from hypercare.finding_occurrences o
left join (
    select finding_id, max(event_on) as opened_on, bool_or(event = 'reopened') as reopened
    from hypercare.finding_events
    where event_on <= %(as_of)s and event in ('opened', 'reopened')
    group by finding_id
) e on e.finding_id = o.finding_id
where o.as_of = %(as_of)s and o.severity <> 'info';

-- name: day_deals
-- The deals landed on the day, for the ARR and the account behind each exception.
select opportunity_id, account_id, arr
from hypercare.landing_deals
where snapshot_date = %(as_of)s;

-- name: loop_journeys
-- Where each open customer journey sits in the control loop on the day, from the landed
-- snapshot of that day: the first step of the loop not yet done. Whether a journey is
-- stuck at its step (an exception that day from an area that owns the step) is decided
-- from the day's exceptions (hypercare/scorecard/exceptions.py).
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
)
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
      where p.snapshot_date = %(as_of)s and p.opportunity_id = d.opportunity_id and p.status <> 'cancelled');

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
