-- The day's events index carries the finding as a key column, not only as a payload: a
-- lookup of one event by (event_on, event, finding_id) is then exact through either
-- index. With the finding only included, a plan that chose this index on stale
-- statistics filtered every event of the day for each event it looked up (quadratic in
-- a day's events).
drop index hypercare.finding_events_day_idx;
create index finding_events_day_idx on hypercare.finding_events (event_on, event, finding_id);
