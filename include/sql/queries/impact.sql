-- Impact preview: the window's findings, alerts and notifications before and after
-- re-evaluating it under a proposed rule set, inside a transaction that is rolled back.
-- %(state)s is 'before' or 'after'; temp tables vanish with the rollback.

-- name: create_state
create temp table impact_occurrences (
    state          text not null,
    as_of          date not null,
    rule_id        text not null,
    subject_key    text not null,
    finding_id     uuid not null,
    severity       text not null,
    customer       text,
    opportunity_id text,
    segment        text
);
create temp table impact_alerts (state text not null, rule_id text not null, finding_id uuid not null, opened_on date not null);
create temp table impact_pending (state text not null, notification_id uuid not null);
create temp table impact_deals (opportunity_id text primary key, account_name text, segment text, arr numeric);
create temp table impact_projects (onboarding_id text primary key, opportunity_id text not null);

-- name: capture_occurrences
-- The customer is the deal (opportunity), through the onboarding's project when the
-- finding names only the onboarding; else the account or onboarding it names.
insert into impact_occurrences
select %(state)s, o.as_of, o.rule_id, o.subject_key, o.finding_id, o.severity,
       coalesce(o.opportunity_id, p.opportunity_id, o.account_id, o.onboarding_id),
       coalesce(o.opportunity_id, p.opportunity_id), o.segment
from hypercare.finding_occurrences o
left join impact_projects p on p.onboarding_id = o.onboarding_id
where o.as_of between %(date_from)s and %(date_to)s;

-- name: capture_alerts
-- Alert-marked episodes that opened (or reopened) in the window: what would have paged.
insert into impact_alerts
select %(state)s, o.rule_id, o.finding_id, e.event_on
from hypercare.finding_events e
join hypercare.finding_occurrences o on o.finding_id = e.finding_id and o.as_of = e.event_on
where e.event in ('opened', 'reopened') and e.event_on between %(date_from)s and %(date_to)s and o.alert;

-- name: capture_pending
insert into impact_pending
select %(state)s, notification_id from hypercare.alert_outbox where status = 'pending';

-- name: committed_versions
select distinct r.rule_version, s.content, s.covers
from hypercare.evaluation_runs r
join hypercare.rule_sets s on s.version = r.rule_version
where r.as_of between %(date_from)s and %(date_to)s
order by r.rule_version;

-- name: rule_counts
-- Per rule: distinct findings added, removed and unchanged over the window, alerts
-- before and after, and customers newly flagged and no longer flagged with their ARR.
with findings as (
    select rule_id, finding_id, bool_or(state = 'before') as before, bool_or(state = 'after') as after
    from impact_occurrences group by rule_id, finding_id
), customers as (
    select rule_id, customer, min(opportunity_id) as opportunity_id,
           bool_or(state = 'before') as before, bool_or(state = 'after') as after
    from impact_occurrences where customer is not null group by rule_id, customer
), alerts as (
    select rule_id, count(*) filter (where state = 'before') as before, count(*) filter (where state = 'after') as after
    from impact_alerts group by rule_id
), per_rule as (
    select rule_id,
           count(*) filter (where before) as findings_before,
           count(*) filter (where after) as findings_after,
           count(*) filter (where after and not before) as added,
           count(*) filter (where before and not after) as removed,
           count(*) filter (where before and after) as unchanged
    from findings group by rule_id
), flagged as (
    select c.rule_id,
           count(*) filter (where c.after and not c.before) as newly_flagged,
           coalesce(sum(d.arr) filter (where c.after and not c.before), 0) as newly_flagged_arr,
           count(*) filter (where c.before and not c.after) as no_longer_flagged,
           coalesce(sum(d.arr) filter (where c.before and not c.after), 0) as no_longer_flagged_arr
    from customers c left join impact_deals d on d.opportunity_id = c.opportunity_id
    group by c.rule_id
)
select coalesce(p.rule_id, a.rule_id) as rule_id,
       coalesce(p.findings_before, 0), coalesce(p.findings_after, 0), coalesce(p.added, 0),
       coalesce(p.removed, 0), coalesce(p.unchanged, 0),
       coalesce(f.newly_flagged, 0), coalesce(f.newly_flagged_arr, 0)::double precision,
       coalesce(f.no_longer_flagged, 0), coalesce(f.no_longer_flagged_arr, 0)::double precision,
       coalesce(a.before, 0), coalesce(a.after, 0)
from per_rule p
full join alerts a on a.rule_id = p.rule_id
left join flagged f on f.rule_id = coalesce(p.rule_id, a.rule_id)
order by 1;

-- name: deals_in_window
-- Each deal's latest facts in the window, for segment and ARR at stake.
insert into impact_deals
select distinct on (opportunity_id) opportunity_id, account_name, segment, arr
from hypercare.landing_deals
where snapshot_date between %(date_from)s and %(date_to)s
order by opportunity_id, snapshot_date desc;

-- name: projects_in_window
-- Each onboarding's deal, as its first project names it on the latest day in the window.
insert into impact_projects
select distinct on (onboarding_id) onboarding_id, opportunity_id
from hypercare.landing_onboarding_projects
where snapshot_date between %(date_from)s and %(date_to)s and opportunity_id is not null
order by onboarding_id, snapshot_date desc, created_at;

-- name: customer_changes
-- Per rule, the customers it flags after and not before (newly flagged) or the reverse,
-- and whether any rule flags the customer before and after.
with per_rule as (
    select rule_id, customer, min(opportunity_id) as opportunity_id, min(segment) as finding_segment,
           bool_or(state = 'before') as before, bool_or(state = 'after') as after
    from impact_occurrences where customer is not null group by rule_id, customer
), overall as (
    select customer, bool_or(state = 'before') as before, bool_or(state = 'after') as after
    from impact_occurrences where customer is not null group by customer
)
select case when r.after then 'newly_flagged' else 'no_longer_flagged' end as change, r.rule_id,
       r.customer, r.opportunity_id, d.account_name, coalesce(d.segment, r.finding_segment) as segment,
       d.arr::double precision, o.before as flagged_by_any_rule_before, o.after as flagged_by_any_rule_after
from per_rule r
join overall o on o.customer = r.customer
left join impact_deals d on d.opportunity_id = r.opportunity_id
where r.before <> r.after
order by change, r.rule_id, d.arr desc nulls last, r.customer;

-- name: severity_changes
select a.rule_id, b.severity as severity_before, a.severity as severity_after, count(distinct a.finding_id)
from impact_occurrences a
join impact_occurrences b
  on b.state = 'before' and b.as_of = a.as_of and b.rule_id = a.rule_id and b.subject_key = a.subject_key
where a.state = 'after' and a.severity <> b.severity
group by 1, 2, 3
order by 1, 2, 3;

-- name: notification_changes
select count(*) filter (where a.notification_id is not null and b.notification_id is null),
       count(*) filter (where a.notification_id is null and b.notification_id is not null)
from (select notification_id from impact_pending where state = 'after') a
full join (select notification_id from impact_pending where state = 'before') b using (notification_id);
