-- No data, no verdict: an (as_of, area) whose inputs were unusable has no run. Any run it
-- had before (on inputs since replaced) is withdrawn; the lifecycle is then recomputed
-- without it, so nothing resolves because of that day.

-- name: record_block
insert into hypercare.evaluation_blocks (as_of, area, entities, reason, rule_version, blocked_at)
values (%(as_of)s, %(area)s, %(entities)s, %(reason)s, %(rule_version)s, now())
on conflict (as_of, area) do update set
    entities = excluded.entities, reason = excluded.reason,
    rule_version = excluded.rule_version, blocked_at = excluded.blocked_at;

-- name: delete_run
delete from hypercare.evaluation_runs where as_of = %(as_of)s and area = %(area)s;

-- name: clear_block
delete from hypercare.evaluation_blocks where as_of = %(as_of)s and area = %(area)s;
