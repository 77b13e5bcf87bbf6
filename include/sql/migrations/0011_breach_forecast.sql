-- Breach forecast: per (day, area), the findings that would open by the end of the next
-- business day if the data stayed as it is (snapshot D evaluated as of that day), and
-- the ones that would clear. Written with the day's run and replaced with it.
create table hypercare.finding_forecasts (
    as_of          date not null,
    area           text not null,
    horizon        date not null,
    change         text not null check (change in ('opens', 'resolves')),
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
create index finding_forecasts_run_idx on hypercare.finding_forecasts (as_of, area);

-- The daily "due soon" digest per role travels through the alert outbox: one notice per
-- role, recipient and day, never a page about one finding.
alter table hypercare.alert_outbox drop constraint alert_outbox_kind_check;
alter table hypercare.alert_outbox add constraint alert_outbox_kind_check
    check (kind in ('firing', 'repeat', 'escalation', 'resolved', 'digest'));
