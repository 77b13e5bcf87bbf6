-- The Findings page in the Airflow UI reads small summaries instead of the whole history:
-- each run rewrites its own rows of them in its transaction (include/sql/queries/ui_summary.sql),
-- so a page costs the same on a month of 100k customers as on a day of 60.

-- Findings per evaluated day and rule: the 30-day sparklines.
create table hypercare.rule_day_counts (
    as_of    date not null,
    area     text not null,
    rule_id  text not null,
    findings integer not null,
    primary key (as_of, area, rule_id)
);

-- Findings per rule and every value the page filters on: the per-rule counts under filters.
create table hypercare.finding_counts (
    area        text not null,
    rule_id     text not null,
    status      text not null,
    severity    text not null,
    segment     text,
    high_value  boolean,
    reason_code text not null,
    owner_roles text[] not null,
    findings    integer not null
);
create index finding_counts_area_idx on hypercare.finding_counts (area);

insert into hypercare.rule_day_counts (as_of, area, rule_id, findings)
select as_of, area, rule_id, count(*)
from hypercare.finding_occurrences
group by as_of, area, rule_id;

insert into hypercare.finding_counts (area, rule_id, status, severity, segment, high_value, reason_code, owner_roles, findings)
select area, rule_id, status, severity, segment, high_value, reason_code, owner_roles, count(*)
from hypercare.finding_state
group by area, rule_id, status, severity, segment, high_value, reason_code, owner_roles;

-- Pages are keyset scans in the page's order (newest seen first, then finding id, both
-- descending), for all findings and for one rule's.
drop index hypercare.finding_state_last_seen_idx;
drop index hypercare.finding_state_rule_idx;
create index finding_state_page_idx on hypercare.finding_state (last_seen_on, finding_id);
create index finding_state_rule_page_idx on hypercare.finding_state (rule_id, last_seen_on, finding_id);
