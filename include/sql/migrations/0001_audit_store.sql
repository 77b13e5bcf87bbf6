-- The audit store: rule sets, loads, quarantine, runs, findings, metrics, trace, audit log.

create table hypercare.rule_sets (
    version      text primary key,
    content      jsonb not null,
    source       text not null,
    registered_at timestamptz not null default now()
);

-- One row per entity file per snapshot load: what was read, loaded and quarantined.
create table hypercare.load_runs (
    snapshot_date    date not null,
    entity           text not null,
    source_file      text,
    status           text not null check (status in ('loaded', 'rejected', 'absent')),
    rows_read        integer not null default 0,
    rows_loaded      integer not null default 0,
    rows_quarantined integer not null default 0,
    message          text,
    loaded_at        timestamptz not null default now(),
    primary key (snapshot_date, entity)
);

-- Source rows that broke the contract: one row per failed check, with the failing value.
create table hypercare.quarantine (
    snapshot_date date not null,
    entity        text not null,
    source_file   text not null,
    row_number    integer,
    column_name   text,
    value         text,
    reason        text not null,
    record        jsonb
);
create index quarantine_snapshot_idx on hypercare.quarantine (snapshot_date, entity);

-- Which (day, area) runs exist and with which rule set: a day evaluated without a
-- finding is what resolves it.
create table hypercare.evaluation_runs (
    as_of         date not null,
    area          text not null,
    rule_version  text not null references hypercare.rule_sets (version),
    finding_count integer not null,
    metric_count  integer not null,
    evaluated_at  timestamptz not null default now(),
    primary key (as_of, area)
);

-- What each run found: replaced as a whole for its (as_of, area).
create table hypercare.finding_occurrences (
    as_of          date not null,
    area           text not null,
    rule_id        text not null,
    subject_key    text not null,
    finding_id     uuid not null,
    rule_version   text not null,
    onboarding_id  text,
    opportunity_id text,
    account_id     text,
    segment        text,
    strategic      boolean,
    high_value     boolean,
    severity       text not null check (severity in ('info', 'warn', 'high', 'critical')),
    reason_code    text not null,
    owner_roles    text[] not null,
    alert          boolean not null,
    since          timestamptz,
    evidence       jsonb not null,
    primary key (as_of, rule_id, subject_key)
);
create index finding_occurrences_run_idx on hypercare.finding_occurrences (as_of, area);
create index finding_occurrences_finding_idx on hypercare.finding_occurrences (finding_id, as_of);

-- Lifecycle of each finding across days, derived from occurrences and runs.
create table hypercare.finding_state (
    finding_id     uuid primary key,
    area           text not null,
    rule_id        text not null,
    subject_key    text not null,
    rule_version   text not null,
    onboarding_id  text,
    opportunity_id text,
    account_id     text,
    segment        text,
    strategic      boolean,
    high_value     boolean,
    severity       text not null,
    reason_code    text not null,
    owner_roles    text[] not null,
    alert          boolean not null,
    since          timestamptz,
    evidence       jsonb not null,
    status         text not null check (status in ('open', 'acknowledged', 'resolved', 'reopened')),
    first_seen_on  date not null,
    last_seen_on   date not null,
    resolved_on    date,
    episodes       integer not null
);
create index finding_state_status_idx on hypercare.finding_state (status, area);
create index finding_state_onboarding_idx on hypercare.finding_state (onboarding_id);

-- Every state change of a finding (opened, resolved, reopened), derived and replaceable.
create table hypercare.finding_events (
    finding_id   uuid not null,
    event        text not null check (event in ('opened', 'resolved', 'reopened')),
    event_on     date not null,
    rule_version text not null,
    primary key (finding_id, event_on, event)
);

create table hypercare.metric_values (
    as_of           date not null,
    area            text not null,
    metric          text not null,
    dimension       text not null,
    dimension_value text not null,
    value           double precision,
    detail          jsonb,
    rule_version    text not null,
    primary key (as_of, area, metric, dimension, dimension_value)
);

-- The operational trace: one row per journey event, observed from the snapshots.
create table hypercare.trace_events (
    event_id          uuid primary key,
    onboarding_id     text,
    opportunity_id    text,
    account_id        text,
    event_type        text not null,
    event_at          timestamptz not null,
    ref_id            text not null,
    attributes        jsonb not null,
    first_observed_on date not null
);
create index trace_events_onboarding_idx on hypercare.trace_events (onboarding_id, event_at);
create index trace_events_opportunity_idx on hypercare.trace_events (opportunity_id, event_at);

-- Append-only, hash-chained record of decisions (acknowledge, silence, override,
-- rule-set change, backfill). Each row's hash covers its content and the previous hash.
create table hypercare.audit_log (
    seq       bigint generated always as identity primary key,
    logged_at timestamptz not null,
    actor     text not null,
    action    text not null,
    subject   text not null,
    details   jsonb not null,
    prev_hash text not null,
    hash      text not null unique
);

create function hypercare.audit_log_is_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'hypercare.audit_log is append-only (% refused)', tg_op;
end;
$$;

create trigger audit_log_append_only
    before update or delete or truncate on hypercare.audit_log
    for each statement execute function hypercare.audit_log_is_append_only();

-- Stable read interface for BI, the UI plugin and scripted checks.
create view hypercare.findings as
select finding_id, rule_id, rule_version, onboarding_id, opportunity_id, account_id, segment,
       high_value, severity, reason_code, owner_roles, status, first_seen_on, last_seen_on,
       resolved_on, evidence
from hypercare.finding_state;

create view hypercare.metrics as
select as_of, area, metric, dimension, dimension_value, value, rule_version
from hypercare.metric_values;
