-- Scoped versions of the rules configuration. The rule-set version (hypercare.rule_sets,
-- stamped on runs, findings and metrics) now hashes only what evaluation reads; alert
-- routing, scorecard settings and operations settings have versions of their own, kept
-- in hypercare.config_versions and recorded on the notifications and scorecards they shaped.

-- What a stored rule-set version hashes. Versions registered before this migration hashed
-- the whole file ('whole_file') and keep their whole-file content, so findings stamped
-- with them stay readable; newer ones hold only the sections of scope 'rules'.
alter table hypercare.rule_sets
    add column covers text not null default 'whole_file' check (covers in ('whole_file', 'rules'));
alter table hypercare.rule_sets alter column covers set default 'rules';

-- Versions of the other scopes, by (scope, version).
create table hypercare.config_versions (
    scope         text not null check (scope in ('alerting', 'scorecard', 'operations')),
    version       text not null,
    content       jsonb not null,
    registered_at timestamptz not null default now(),
    primary key (scope, version)
);

-- A whole-file version also was each scope's version: register its sections under it.
insert into hypercare.config_versions (scope, version, content, registered_at)
select s.scope, r.version,
       coalesce((select jsonb_object_agg(e.key, e.value) from jsonb_each(r.content) e
                 where e.key = any(s.sections)), '{}'::jsonb),
       r.registered_at
from hypercare.rule_sets r
cross join (values ('alerting', array['alerting']),
                   ('scorecard', array['hypercare', 'scorecard']),
                   ('operations', array['ingest', 'operations'])) as s(scope, sections)
where r.covers = 'whole_file';

-- The alert-routing version each notification was routed with (scope 'alerting').
alter table hypercare.alert_outbox add column routing_version text;
-- Notifications queued before: the whole-file version of the run that queued them, and
-- for repeats and escalations the one of the episode's firing notice.
update hypercare.alert_outbox x set routing_version = r.rule_version
from hypercare.evaluation_runs r
where r.as_of = x.as_of and r.area = x.area;
update hypercare.alert_outbox x set routing_version = f.routing_version
from hypercare.alert_outbox f
where x.routing_version is null and f.finding_id = x.finding_id and f.episode_on = x.episode_on
  and f.kind = 'firing' and f.routing_version is not null;

-- The scorecard-settings version a scorecard was compiled with (scope 'scorecard'); null
-- for scorecards compiled before versions were recorded.
alter table hypercare.scorecards add column config_version text;
