-- A deal's trigger_received event is linked to its onboarding only once a project carries
-- the deal's opportunity, which can be days after the event was first seen. linked_on is
-- the first evaluated day that saw the link, so a past day re-evaluated reads the trace as
-- it stood then, not with a link made later. Events observed before this column existed
-- count as linked from their first observation.
alter table hypercare.trace_events add column linked_on date;
update hypercare.trace_events set linked_on = first_observed_on where onboarding_id is not null;
alter table hypercare.trace_events add constraint trace_events_linked_check
    check ((linked_on is null) = (onboarding_id is null) and linked_on >= first_observed_on);
