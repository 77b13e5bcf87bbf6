-- Lifecycle of findings, recomputed for the ids in temp table `affected_findings`: the
-- events a run can change from the area's runs and occurrences around its day, the rest
-- as stored (each run leaves the stored events equal to a derivation from every run).
-- Deterministic: the same occurrences and runs always give the same state and events,
-- whatever order days were run in.
-- Only rows that change are written: a day that changes nothing about a finding leaves
-- its events and state untouched (no dead tuples, no index churn).

-- name: collect_on_day
insert into affected_findings (finding_id)
select finding_id
from hypercare.finding_occurrences
where as_of = %(as_of)s and area = %(area)s
on conflict do nothing;

-- name: collect_neighbours
-- A run for %(as_of)s changes a finding's events only at that day and at the area's
-- next run (whose predecessor it is), so beyond the day's own findings (collected
-- before and after the replacement) only those present on the previous and the next
-- run of the area can change.
insert into affected_findings (finding_id)
select o.finding_id
from hypercare.finding_occurrences o
where o.area = %(area)s
  and o.as_of in (
      (select max(as_of) from hypercare.evaluation_runs where area = %(area)s and as_of < %(as_of)s),
      (select min(as_of) from hypercare.evaluation_runs where area = %(area)s and as_of > %(as_of)s))
on conflict do nothing;

-- name: analyze_affected
analyze affected_findings;

-- name: derive_events
-- A run for %(as_of)s changes whether a finding is present on that day only, so of its
-- events only those on that day and on the area's next run can change, and which of its
-- openings is the first. The rest are read back as stored instead of rederived from every
-- run since the finding was first seen (9 s an area on 30 days x 100k customers).
insert into derived_events (finding_id, event, event_on, rule_version)
with runs as (
    select as_of, rule_version, lag(as_of) over (order by as_of) as previous_run
    from hypercare.evaluation_runs
    where area = %(area)s
),
changed_days as (
    -- The day itself, whether it still has a run or its run was withdrawn, and the next run.
    select %(as_of)s::date as day
    union
    select min(as_of) from runs where as_of > %(as_of)s
),
changed_runs as (
    select r.as_of, r.rule_version, r.previous_run
    from runs r
    join changed_days d on d.day = r.as_of
),
present as (
    select o.finding_id, o.as_of
    from hypercare.finding_occurrences o
    join affected_findings a using (finding_id)
    where o.area = %(area)s
      and o.as_of in (select as_of from changed_runs union select previous_run from changed_runs)
),
changed as (
    select a.finding_id,
           case when n.finding_id is not null then 'start' else 'resolved' end as event,
           r.as_of as event_on,
           r.rule_version
    from affected_findings a
    cross join changed_runs r
    left join present n on n.finding_id = a.finding_id and n.as_of = r.as_of
    left join present b on b.finding_id = a.finding_id and b.as_of = r.previous_run
    where (n.finding_id is null) <> (b.finding_id is null)
),
kept as (
    select e.finding_id, e.event, e.event_on, e.rule_version
    from hypercare.finding_events e
    join affected_findings a using (finding_id)
    where e.event_on not in (select day from changed_days where day is not null)
),
events as (
    select * from kept
    union all
    select * from changed
)
select finding_id,
       case
           when event = 'resolved' then 'resolved'
           when event_on = min(event_on) filter (where event <> 'resolved') over (partition by finding_id)
               then 'opened'
           else 'reopened'
       end,
       event_on,
       rule_version
from events;

-- name: analyze_derived
-- Temporary tables are never analyzed by autovacuum. Without statistics the planner took
-- (event_on, event) as selective and merge-joined every event of the day with every
-- derived event of the day (quadratic: 25 s an area at 20k customers, minutes at 100k).
analyze derived_events;

-- name: delete_events
delete from hypercare.finding_events e
using affected_findings a
where e.finding_id = a.finding_id
  and not exists (
      select 1 from derived_events d
      where d.finding_id = e.finding_id and d.event_on = e.event_on and d.event = e.event
        and d.rule_version = e.rule_version);

-- name: insert_events
insert into hypercare.finding_events (finding_id, event, event_on, rule_version)
select d.finding_id, d.event, d.event_on, d.rule_version
from derived_events d
where not exists (
    select 1 from hypercare.finding_events e
    where e.finding_id = d.finding_id and e.event_on = d.event_on and e.event = d.event);

-- name: delete_vanished_state
-- Only this day's occurrences changed, so a finding can vanish only if the day was the
-- only one it was seen on; its stored state (not yet refreshed) says so without a probe.
delete from hypercare.finding_state s
using affected_findings a
where s.finding_id = a.finding_id
  and s.first_seen_on = %(as_of)s
  and s.last_seen_on = %(as_of)s
  and not exists (select 1 from hypercare.finding_occurrences o where o.finding_id = s.finding_id);

-- name: upsert_state
-- Only this day's occurrences changed, and the stored state (not yet refreshed) holds each
-- finding's latest occurrence and first day from every other day. So a finding seen on
-- the day takes the day's occurrence when no later day holds one, a finding not seen on
-- it keeps what is stored unless the day was its first or latest, and only those (and
-- findings without a state) look their latest occurrence up in the index: one probe per
-- finding of the area's day (300k at 100k customers) was half of the statement's time.
with day as (
    select o.finding_id, o.area, o.rule_id, o.subject_key, o.rule_version, o.onboarding_id,
           o.opportunity_id, o.account_id, o.segment, o.strategic, o.high_value, o.severity,
           o.reason_code, o.owner_roles, o.alert, o.since, o.evidence
    from hypercare.finding_occurrences o
    where o.as_of = %(as_of)s and o.area = %(area)s
),
stored as (
    select a.finding_id, s.first_seen_on, s.last_seen_on, (d.finding_id is not null) as seen_on_day
    from affected_findings a
    left join hypercare.finding_state s using (finding_id)
    left join day d using (finding_id)
),
latest as (
    select d.*, least(t.first_seen_on, %(as_of)s) as first_seen_on, %(as_of)s::date as last_seen_on
    from stored t
    join day d using (finding_id)
    where t.last_seen_on is null or t.last_seen_on <= %(as_of)s
    union all
    select s.finding_id, s.area, s.rule_id, s.subject_key, s.rule_version, s.onboarding_id,
           s.opportunity_id, s.account_id, s.segment, s.strategic, s.high_value, s.severity,
           s.reason_code, s.owner_roles, s.alert, s.since, s.evidence,
           case when t.seen_on_day then least(s.first_seen_on, %(as_of)s) else s.first_seen_on end,
           s.last_seen_on
    from stored t
    join hypercare.finding_state s using (finding_id)
    where (t.seen_on_day and s.last_seen_on > %(as_of)s)
       or (not t.seen_on_day and s.last_seen_on <> %(as_of)s and s.first_seen_on <> %(as_of)s)
    union all
    select o.finding_id, o.area, o.rule_id, o.subject_key, o.rule_version, o.onboarding_id,
           o.opportunity_id, o.account_id, o.segment, o.strategic, o.high_value, o.severity,
           o.reason_code, o.owner_roles, o.alert, o.since, o.evidence,
           (select min(f.as_of) from hypercare.finding_occurrences f where f.finding_id = o.finding_id),
           o.as_of
    from stored t
    cross join lateral (
        select * from hypercare.finding_occurrences o
        where o.finding_id = t.finding_id
        order by o.as_of desc
        limit 1
    ) o
    where not t.seen_on_day
      and (t.last_seen_on is null or t.last_seen_on = %(as_of)s or t.first_seen_on = %(as_of)s)
),
lifecycle as (
    select finding_id,
           (array_agg(event order by event_on desc))[1] as last_event,
           max(event_on) filter (where event = 'resolved') as last_resolved_on,
           count(*) filter (where event in ('opened', 'reopened')) as episodes
    from derived_events
    group by finding_id
)
insert into hypercare.finding_state as s (
    finding_id, area, rule_id, subject_key, rule_version, onboarding_id, opportunity_id,
    account_id, segment, strategic, high_value, severity, reason_code, owner_roles, alert,
    since, evidence, status, first_seen_on, last_seen_on, resolved_on, episodes)
select l.finding_id, l.area, l.rule_id, l.subject_key, l.rule_version, l.onboarding_id,
       l.opportunity_id, l.account_id, l.segment, l.strategic, l.high_value, l.severity,
       l.reason_code, l.owner_roles, l.alert, l.since, l.evidence,
       case c.last_event when 'resolved' then 'resolved' when 'reopened' then 'reopened' else 'open' end,
       l.first_seen_on, l.last_seen_on,
       case when c.last_event = 'resolved' then c.last_resolved_on end,
       c.episodes
from latest l
join lifecycle c using (finding_id)
on conflict (finding_id) do update set
    rule_version = excluded.rule_version, onboarding_id = excluded.onboarding_id,
    opportunity_id = excluded.opportunity_id, account_id = excluded.account_id,
    segment = excluded.segment, strategic = excluded.strategic, high_value = excluded.high_value,
    severity = excluded.severity, reason_code = excluded.reason_code,
    owner_roles = excluded.owner_roles, alert = excluded.alert, since = excluded.since,
    evidence = excluded.evidence, status = excluded.status, first_seen_on = excluded.first_seen_on,
    last_seen_on = excluded.last_seen_on, resolved_on = excluded.resolved_on,
    episodes = excluded.episodes
where (s.rule_version, s.onboarding_id, s.opportunity_id, s.account_id, s.segment, s.strategic,
       s.high_value, s.severity, s.reason_code, s.owner_roles, s.alert, s.since, s.evidence,
       s.status, s.first_seen_on, s.last_seen_on, s.resolved_on, s.episodes)
      is distinct from
      (excluded.rule_version, excluded.onboarding_id, excluded.opportunity_id, excluded.account_id,
       excluded.segment, excluded.strategic, excluded.high_value, excluded.severity,
       excluded.reason_code, excluded.owner_roles, excluded.alert, excluded.since, excluded.evidence,
       excluded.status, excluded.first_seen_on, excluded.last_seen_on, excluded.resolved_on,
       excluded.episodes);
