-- No data, no verdict: a held entity (volume drop), the source line of a quarantined
-- row, and the (day, area) runs that were not evaluated because an input was unusable.

alter table hypercare.load_runs drop constraint load_runs_status_check;
alter table hypercare.load_runs
    add constraint load_runs_status_check check (status in ('loaded', 'rejected', 'absent', 'held'));

-- The physical line of a CSV row (header = line 1; quoted newlines counted); null for Parquet.
alter table hypercare.quarantine add column line_number integer;

-- One row per (day, area) whose inputs were unusable: no run, no findings, nothing resolved.
-- Removed when the area is evaluated for that day on usable inputs.
create table hypercare.evaluation_blocks (
    as_of        date not null,
    area         text not null,
    entities     text[] not null,
    reason       text not null,
    rule_version text not null references hypercare.rule_sets (version),
    blocked_at   timestamptz not null default now(),
    primary key (as_of, area)
);
