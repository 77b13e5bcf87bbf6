-- Finding counts per day, area, rule, severity and reason code: what the scorecard's
-- tables and trend lines count. Each run rewrites its own (as_of, area) rows in its
-- transaction (include/sql/queries/ui_summary.sql), so a scorecard reads a few hundred
-- rows a day instead of aggregating every occurrence of its 14-day window (2 s a query
-- at 100k customers).
create table hypercare.occurrence_counts (
    as_of       date not null,
    area        text not null,
    rule_id     text not null,
    severity    text not null,
    reason_code text not null,
    findings    integer not null,
    high_value  integer not null,
    alerting    integer not null,
    primary key (as_of, area, rule_id, severity, reason_code)
);

insert into hypercare.occurrence_counts (as_of, area, rule_id, severity, reason_code, findings, high_value, alerting)
select as_of, area, rule_id, severity, reason_code, count(*),
       count(*) filter (where high_value), count(*) filter (where alert)
from hypercare.finding_occurrences
group by as_of, area, rule_id, severity, reason_code;
