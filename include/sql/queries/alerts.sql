-- Alert notifications written by evaluation runs and by the dispatcher.

-- name: latest_run
select max(as_of) from hypercare.evaluation_runs where area = %(area)s;

-- name: drop_unsent_of_run
-- A run withdrawn (its day gave no verdict): the notices it queued and that never went
-- out are dropped; the queue is then rebuilt for the area's newest remaining day.
delete from hypercare.alert_outbox
where as_of = %(as_of)s and area = %(area)s and status in ('pending', 'failed');

-- name: firing_candidates
-- Alert-marked findings open on the area's newest day (%(as_of)s) whose current episode
-- has no live firing notification yet, with the customer facts a message needs, read
-- from the same snapshot.
with first_project as (
    select distinct on (onboarding_id) onboarding_id, opportunity_id
    from hypercare.landing_onboarding_projects
    where snapshot_date = %(as_of)s
    order by onboarding_id, created_at
),
open_alerts as (
    select o.*, ep.event_on as episode_on, ep.event
    from hypercare.finding_occurrences o
    cross join lateral (
        select e.event_on, e.event from hypercare.finding_events e
        where e.finding_id = o.finding_id and e.event in ('opened', 'reopened') and e.event_on <= o.as_of
        order by e.event_on desc limit 1
    ) ep
    where o.as_of = %(as_of)s and o.area = %(area)s and o.alert
)
select o.finding_id, o.rule_id, o.subject_key, o.severity, o.reason_code, o.owner_roles, o.since,
       o.evidence::text as evidence, o.onboarding_id, coalesce(o.opportunity_id, p.opportunity_id) as opportunity_id,
       o.segment, d.account_name, d.arr, d.sales_owner, o.event, o.episode_on
from open_alerts o
left join first_project p on p.onboarding_id = o.onboarding_id
left join hypercare.landing_deals d
  on d.snapshot_date = o.as_of and d.opportunity_id = coalesce(o.opportunity_id, p.opportunity_id)
where not exists (
    select 1 from hypercare.alert_outbox x
    where x.finding_id = o.finding_id and x.episode_on = o.episode_on and x.kind = 'firing'
      and x.status <> 'cancelled');

-- name: enqueue_resolved
-- A finding that cleared on this day gets a resolved message wherever its episode was
-- announced (or is still waiting to be). The day's resolved findings are found first and
-- their notifications looked up by finding, so the cost follows the day, not the outbox.
with resolved as materialized (
    select e.finding_id
    from hypercare.finding_events e
    join hypercare.finding_state s on s.finding_id = e.finding_id and s.area = %(area)s
    where e.event = 'resolved' and e.event_on = %(as_of)s
),
announced as materialized (
    select x.*
    from hypercare.alert_outbox x
    join resolved r on r.finding_id = x.finding_id
)
insert into hypercare.alert_outbox (
    notification_id, finding_id, kind, episode_on, step, as_of, area, rule_id, severity, owner_role,
    recipient, payload, routing_version)
select md5(f.finding_id::text || '|resolved|' || f.episode_on || '|' || f.recipient)::uuid,
       f.finding_id, 'resolved', f.episode_on, 0, %(as_of)s, %(area)s, f.rule_id, f.severity, f.owner_role,
       f.recipient, f.payload || jsonb_build_object('resolved_on', %(as_of)s::text), %(routing_version)s
from (
    select distinct on (x.finding_id, x.recipient) x.*
    from announced x
    where x.kind in ('firing', 'escalation') and x.status in ('pending', 'sending', 'sent', 'failed')
      and x.episode_on = (select max(p.event_on) from hypercare.finding_events p
                          where p.finding_id = x.finding_id and p.event in ('opened', 'reopened')
                            and p.event_on < %(as_of)s)
    order by x.finding_id, x.recipient, x.episode_on desc
) f
on conflict (notification_id) do nothing;

-- name: insert_staged
-- A notification written again is a no-op, unless it had been cancelled (its episode
-- looked over, or its rule not alert-marked) and is owed again.
insert into hypercare.alert_outbox (
    notification_id, finding_id, kind, episode_on, step, as_of, area, rule_id, severity, owner_role,
    recipient, payload, next_attempt_at, routing_version)
select md5(finding_id || '|' || kind || '|' || episode_on || '|' || step || '|' || recipient)::uuid,
       finding_id::uuid, kind, episode_on, step, as_of, area, rule_id, severity, owner_role, recipient,
       payload::jsonb, coalesce(next_attempt_at, '-infinity'), routing_version
from stage_outbox
on conflict (notification_id) do update set
    status = 'pending', payload = excluded.payload, as_of = excluded.as_of, last_error = null,
    routing_version = excluded.routing_version,
    next_attempt_at = excluded.next_attempt_at, claimed_by = null, claimed_at = null
where alert_outbox.status = 'cancelled';

-- name: open_alerts
-- Episodes announced and still open, with what was sent, for repeats and escalations:
-- one row per sent firing notice of a current, unacknowledged episode, with its repeats
-- and escalations to the same role and recipient looked up by finding and episode.
-- The open findings and their current episode come first (materialized), so the planner
-- joins the outbox on row counts it can estimate.
with open_episode as materialized (
    select s.finding_id, s.severity, e.episode_on
    from hypercare.finding_state s
    cross join lateral (
        select max(e.event_on) as episode_on from hypercare.finding_events e
        where e.finding_id = s.finding_id and e.event in ('opened', 'reopened')
    ) e
    where s.status in ('open', 'reopened')
)
select f.finding_id, f.episode_on, f.rule_id, o.severity, f.owner_role, f.recipient, f.payload::text as payload,
       greatest(f.sent_at, r.last_repeat_at) as last_sent_at, f.sent_at as first_sent_at, r.repeats, r.escalations
from open_episode o
join hypercare.alert_outbox f on f.finding_id = o.finding_id and f.episode_on = o.episode_on
cross join lateral (
    select max(x.sent_at) filter (where x.kind = 'repeat') as last_repeat_at,
           max(x.step) filter (where x.kind = 'repeat') as repeats,
           max(x.step) filter (where x.kind = 'escalation') as escalations
    from hypercare.alert_outbox x
    where x.finding_id = f.finding_id and x.episode_on = f.episode_on and x.owner_role = f.owner_role
      and x.recipient = f.recipient and x.kind in ('repeat', 'escalation')
) r
where f.kind = 'firing' and f.status = 'sent'
  and not exists (select 1 from hypercare.alert_acks a
                  where a.finding_id = f.finding_id and a.episode_on = f.episode_on);

-- name: stale_groups
-- Messages whose delivery is unknown: claimed longer ago than the lease (the dispatcher
-- died, or the send timed out) and not recorded as sent.
select claimed_by, min(recipient), min(claimed_at) from hypercare.alert_outbox
where status = 'sending' and claimed_at < %(stale_before)s group by claimed_by;

-- name: confirm_stale
update hypercare.alert_outbox set status = 'sent', sent_at = claimed_at, delivery_ref = 'confirmed:' || claimed_by,
       last_error = null
where status = 'sending' and claimed_by = any(%(groups)s);

-- name: release_stale
-- Unconfirmed messages go back to the queue and are sent again.
update hypercare.alert_outbox set status = 'pending', claimed_by = null, claimed_at = null
where status = 'sending' and claimed_by = any(%(groups)s);

-- name: cancel_outdated
-- Firing, repeat and escalation notices of an episode that is over, or of a finding no
-- longer alert-marked, are never sent.
update hypercare.alert_outbox x set status = 'cancelled', last_error = 'episode over before delivery'
where x.status in ('pending', 'failed') and x.kind not in ('resolved', 'digest')
  and not exists (
      select 1 from hypercare.finding_state s
      where s.finding_id = x.finding_id and s.status in ('open', 'reopened') and s.alert
        and x.episode_on = (select max(e.event_on) from hypercare.finding_events e
                            where e.finding_id = x.finding_id and e.event in ('opened', 'reopened')));

-- name: cancel_unannounced_resolved
-- A resolved notice is sent only where its episode's alert went out (or still may).
update hypercare.alert_outbox x set status = 'cancelled', last_error = 'alert was never delivered'
where x.status in ('pending', 'failed') and x.kind = 'resolved'
  and not exists (
      select 1 from hypercare.alert_outbox f
      where f.finding_id = x.finding_id and f.episode_on = x.episode_on and f.recipient = x.recipient
        and f.kind in ('firing', 'escalation') and f.status in ('pending', 'sending', 'sent', 'failed'));

-- name: hold_silenced
update hypercare.alert_outbox x
set next_attempt_at = s.ends_at, silenced = true, silenced_at = coalesce(x.silenced_at, %(now)s)
from (
    select distinct on (o.notification_id) o.notification_id, s.ends_at
    from hypercare.alert_outbox o
    join hypercare.alert_silences s
      on s.starts_at <= %(now)s and s.ends_at > %(now)s
     and (s.rule_id is null or s.rule_id = o.rule_id)
     and (s.subject_key is null or s.subject_key = o.payload->>'subject_key')
     and (s.owner_role is null or s.owner_role = o.owner_role)
    where o.status in ('pending', 'failed') and o.next_attempt_at <= %(now)s
    order by o.notification_id, s.ends_at desc
) s
where x.notification_id = s.notification_id;

-- name: hold_inhibited
-- %(rules)s is a JSON list of {source, targets, equal}: a target notice waits while a
-- source finding with the same key is open.
update hypercare.alert_outbox x set next_attempt_at = %(now)s + interval '15 minutes', inhibited_by = i.source_id
from (
    select distinct on (o.notification_id) o.notification_id, s.finding_id as source_id
    from hypercare.alert_outbox o
    join jsonb_to_recordset(%(rules)s::jsonb) as r(source text, targets text[], equal text)
      on o.rule_id = any(r.targets)
    join hypercare.finding_state s
      on s.rule_id = r.source and s.status in ('open', 'reopened')
     and case r.equal when 'onboarding_id' then s.onboarding_id = o.payload->>'onboarding_id'
                      else s.subject_key = o.payload->>'subject_key' end
    where o.status in ('pending', 'failed') and o.kind <> 'resolved' and o.next_attempt_at <= %(now)s
    order by o.notification_id
) i
where x.notification_id = i.notification_id;

-- name: claim_due
update hypercare.alert_outbox x set status = 'sending', claimed_by = %(dispatch_id)s, claimed_at = %(now)s
where x.notification_id in (
    select notification_id from hypercare.alert_outbox
    where status in ('pending', 'failed') and next_attempt_at <= %(now)s
    order by recipient, created_at
    limit %(batch_size)s
    for update skip locked)
returning notification_id::text, kind, recipient, payload::text, attempts;

-- name: mark_sent
update hypercare.alert_outbox set status = 'sent', sent_at = %(now)s, delivery_ref = %(ref)s,
       attempts = attempts + 1, claimed_by = %(group)s, last_error = null
where notification_id = any(%(ids)s::uuid[]);

-- name: mark_failed
-- The channel refused the message (an HTTP error, a refused connection): it did not arrive.
update hypercare.alert_outbox set status = 'failed', attempts = attempts + 1, last_error = %(error)s,
       next_attempt_at = %(retry_at)s, claimed_by = null, claimed_at = null
where notification_id = any(%(ids)s::uuid[]);

-- name: mark_unconfirmed
-- The send timed out or broke off: it may have arrived. The claim stays until the lease
-- runs out, then the channel is asked (or, where it cannot tell, the message is resent).
update hypercare.alert_outbox set attempts = attempts + 1, last_error = %(error)s
where notification_id = any(%(ids)s::uuid[]);

-- name: defer
-- Messages not attempted because an earlier one to the same recipient failed.
update hypercare.alert_outbox set status = 'pending', next_attempt_at = %(retry_at)s, claimed_by = null,
       claimed_at = null, last_error = 'waiting: an earlier message to this recipient failed'
where notification_id = any(%(ids)s::uuid[]);

-- name: set_group
update hypercare.alert_outbox set claimed_by = %(group)s where notification_id = any(%(ids)s::uuid[]);

-- name: insert_digests
-- The day's "due soon" digest per role and recipient: one notice, whatever the re-runs. A
-- re-run before delivery refreshes what it lists; once sent it is never sent again.
insert into hypercare.alert_outbox (
    notification_id, finding_id, kind, episode_on, step, as_of, area, rule_id, severity, owner_role,
    recipient, payload, next_attempt_at, routing_version)
select md5(finding_id || '|' || kind || '|' || episode_on || '|' || step || '|' || recipient)::uuid,
       finding_id::uuid, kind, episode_on, step, as_of, area, rule_id, severity, owner_role, recipient,
       payload::jsonb, coalesce(next_attempt_at, '-infinity'), routing_version
from stage_outbox
on conflict (notification_id) do update set
    payload = excluded.payload, routing_version = excluded.routing_version
where alert_outbox.status in ('pending', 'failed');

-- name: cancel_stale_digests
-- A digest still unsent once a later day has been forecast (its area evaluated a later
-- day) is no longer news: that day's digest, if anything is due, replaces it.
update hypercare.alert_outbox x set status = 'cancelled', last_error = 'a later day was forecast'
where x.kind = 'digest' and x.status in ('pending', 'failed')
  and x.as_of < (select max(r.as_of) from hypercare.evaluation_runs r where r.area = x.area);
