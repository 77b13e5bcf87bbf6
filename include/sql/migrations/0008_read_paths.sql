-- Indexes for the paths that read one day or one kind of row out of a growing history.

-- The day's lifecycle events ("resolved on D", "opened on D"): alert enqueueing and the
-- scorecard look them up by day; the primary key leads with the finding.
create index finding_events_day_idx on hypercare.finding_events (event_on, event) include (finding_id);

-- Alert quality reads only sent firing notices and silenced ones; partial indexes keep
-- those reads proportional to the alerts sent, not to every repeat ever queued.
create index alert_outbox_sent_firing_idx on hypercare.alert_outbox (rule_id, owner_role, finding_id, episode_on)
    include (sent_at, silenced)
    where kind = 'firing' and status = 'sent';
create index alert_outbox_silenced_idx on hypercare.alert_outbox (rule_id, owner_role)
    include (finding_id, episode_on)
    where silenced;
create index alert_outbox_sent_resolved_idx on hypercare.alert_outbox (finding_id, episode_on, owner_role)
    where kind = 'resolved' and status = 'sent';
