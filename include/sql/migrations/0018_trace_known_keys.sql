-- Journey events are keyed by what identifies them, (event_type, ref_id, event_at), instead
-- of by the digest of those columns. An area's run reads back the keys of the events the
-- trace already holds for its event types (hypercare.store.unrecorded_trace) and stages only
-- the others: this key answers that read from the index alone, and a day's new events
-- (increasing references of a few types) land next to each other in it rather than at
-- random places of a digest's index. event_id stays as the digest of the key.
alter table hypercare.trace_events drop constraint trace_events_pkey;
alter table hypercare.trace_events
    add constraint trace_events_pkey primary key (event_type, ref_id, event_at) include (first_observed_on, linked_on);
