-- When a silence first held a notice back. The scorecard counts the silenced notices of
-- its day by this time, as it counts sent ones by sent_at: a notice silenced after the end
-- of the day (a repeat of an earlier episode, held at a later dispatch) is not in that
-- day's scorecard, compiled then or again later. Notices silenced before this column
-- existed take the time they were queued, the earliest a silence could have held them.
alter table hypercare.alert_outbox add column silenced_at timestamptz;
update hypercare.alert_outbox set silenced_at = created_at where silenced;
alter table hypercare.alert_outbox
    add constraint alert_outbox_silenced_at check (silenced = (silenced_at is not null));
