-- Alerting: an outbox of notifications, acknowledgements and silences.

-- One row per notification to one recipient. notification_id is the fingerprint
-- (finding, kind, episode, step, recipient): writing it twice is a no-op, and delivery
-- is keyed by it.
create table hypercare.alert_outbox (
    notification_id uuid primary key,
    finding_id      uuid not null,
    kind            text not null check (kind in ('firing', 'repeat', 'escalation', 'resolved')),
    episode_on      date not null,
    step            integer not null default 0,
    as_of           date,
    area            text,
    rule_id         text not null,
    severity        text not null,
    owner_role      text not null,
    recipient       text not null,
    payload         jsonb not null,
    status          text not null default 'pending'
                    check (status in ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        integer not null default 0,
    next_attempt_at timestamptz not null default '-infinity',
    last_error      text,
    claimed_by      text,
    claimed_at      timestamptz,
    sent_at         timestamptz,
    delivery_ref    text,
    silenced        boolean not null default false,
    inhibited_by    uuid,
    created_at      timestamptz not null default now()
);
create index alert_outbox_due_idx on hypercare.alert_outbox (status, next_attempt_at);
create index alert_outbox_finding_idx on hypercare.alert_outbox (finding_id, episode_on);
create index alert_outbox_run_idx on hypercare.alert_outbox (as_of, area);

-- Acknowledgement of one episode of a finding: stops its repeats and escalations.
create table hypercare.alert_acks (
    finding_id      uuid not null,
    episode_on      date not null,
    acknowledged_at timestamptz not null,
    acknowledged_by text not null,
    note            text,
    primary key (finding_id, episode_on)
);

-- Silences match on rule, subject and/or role (null matches anything) until ends_at.
create table hypercare.alert_silences (
    silence_id  uuid primary key,
    rule_id     text,
    subject_key text,
    owner_role  text,
    starts_at   timestamptz not null,
    ends_at     timestamptz not null check (ends_at > starts_at),
    reason      text not null,
    author      text not null,
    created_at  timestamptz not null default now()
);

-- The findings view now shows acknowledged episodes.
create or replace view hypercare.findings as
select s.finding_id, s.rule_id, s.rule_version, s.onboarding_id, s.opportunity_id, s.account_id, s.segment,
       s.high_value, s.severity, s.reason_code, s.owner_roles,
       case when s.status in ('open', 'reopened') and exists (
                select 1 from hypercare.alert_acks a
                where a.finding_id = s.finding_id
                  and a.episode_on = (select max(e.event_on) from hypercare.finding_events e
                                      where e.finding_id = s.finding_id and e.event in ('opened', 'reopened')))
            then 'acknowledged' else s.status end as status,
       s.first_seen_on, s.last_seen_on, s.resolved_on, s.evidence
from hypercare.finding_state s;

-- Alert quality per rule and role, for the scorecard.
create view hypercare.alert_quality as
with firing as (
    select rule_id, owner_role, finding_id, episode_on, min(sent_at) as first_sent_at,
           bool_or(silenced) as silenced, (episode_on > min(episode_on) over (partition by finding_id)) as reopened
    from hypercare.alert_outbox
    where kind = 'firing' and status = 'sent'
    group by rule_id, owner_role, finding_id, episode_on
)
select f.rule_id, f.owner_role,
       count(*) as sent,
       count(a.finding_id) as acknowledged,
       percentile_cont(0.5) within group (
           order by extract(epoch from a.acknowledged_at - f.first_sent_at) / 60) as median_minutes_to_ack,
       count(*) filter (where exists (
           select 1 from hypercare.alert_outbox r
           where r.finding_id = f.finding_id and r.episode_on = f.episode_on and r.kind = 'resolved'
             and r.owner_role = f.owner_role and r.status = 'sent')) as resolved,
       count(*) filter (where f.reopened) as reopened,
       (select count(distinct (o.finding_id, o.episode_on)) from hypercare.alert_outbox o
         where o.rule_id = f.rule_id and o.owner_role = f.owner_role and o.silenced) as silenced
from firing f
left join hypercare.alert_acks a on a.finding_id = f.finding_id and a.episode_on = f.episode_on
group by f.rule_id, f.owner_role;
