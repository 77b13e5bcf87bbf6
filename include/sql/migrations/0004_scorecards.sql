-- Scorecards: every compiled daily scorecard, its data and rendered HTML, one row per
-- as-of date. Compiling a day again replaces its row; sent_at and sent_to record the
-- email, so a retried or re-run send does not go out twice.

create table hypercare.scorecards (
    as_of         date primary key,
    hypercare_day integer,
    send_day      boolean not null,
    review_day    boolean not null,
    rule_versions text[] not null,
    data          jsonb not null,
    html          text not null,
    text_body     text not null,
    compiled_at   timestamptz not null default now(),
    sent_at       timestamptz,
    sent_to       text[]
);
