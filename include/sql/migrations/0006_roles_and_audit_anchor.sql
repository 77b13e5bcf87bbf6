-- Least privilege and an anchored audit log.
--
-- `hypercare db roles` creates three roles and records them here: an owner (owns the
-- schema, runs migrations), a writer (what loads, runs and the dispatcher use: rows in,
-- no DDL, the audit log insert-only) and a reader (BI on the documented views). What the
-- writer needs that only an owner may do (create a day's landing partition, analyze it,
-- record the audit log's head) goes through the SECURITY DEFINER functions below, which
-- take no value the writer could forge.

create table hypercare.database_roles (
    kind      text primary key check (kind in ('owner', 'writer', 'reader')),
    role_name text not null
);

-- The audit log's head (entry count and last hash) as seen at the end of each run,
-- written only by hypercare.record_audit_checkpoint (owner's rights). `audit verify`
-- checks the log against the latest one, so deleting the newest entries or rewriting
-- the chain with recomputed hashes is detected, not only an edited row.
create table hypercare.audit_checkpoints (
    checkpoint_id bigint generated always as identity primary key,
    recorded_at   timestamptz not null default now(),
    recorded_by   text not null,
    entries       bigint not null,
    head_seq      bigint,
    head_hash     text not null,
    context       text,
    consistent    boolean not null
);

create function hypercare.refuse_change() returns trigger
language plpgsql as $$
begin
    raise exception '% is append-only (% refused)', tg_table_name, tg_op;
end;
$$;

create trigger audit_checkpoints_append_only
    before update or delete or truncate on hypercare.audit_checkpoints
    for each statement execute function hypercare.refuse_change();

-- Records the current head. Returns it, and whether the previous checkpoint's head is
-- still where it was (false: entries were removed or rewritten since).
create function hypercare.record_audit_checkpoint(context text default null)
returns table (entries bigint, head_hash text, consistent boolean)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    n bigint;
    last_seq bigint;
    last_hash text;
    previous record;
    still_there boolean := true;
begin
    perform pg_advisory_xact_lock(727003);  -- the audit log's append lock
    select count(*) into n from hypercare.audit_log;
    select a.seq, a.hash into last_seq, last_hash from hypercare.audit_log a order by a.seq desc limit 1;
    select c.entries, c.head_hash into previous
    from hypercare.audit_checkpoints c order by c.checkpoint_id desc limit 1;
    if found and previous.entries > 0 then
        still_there := n >= previous.entries and exists (
            select 1 from (select a.hash from hypercare.audit_log a order by a.seq
                           offset previous.entries - 1 limit 1) h
            where h.hash = previous.head_hash);
    end if;
    insert into hypercare.audit_checkpoints (recorded_by, entries, head_seq, head_hash, context, consistent)
    values (session_user, n, last_seq, coalesce(last_hash, repeat('0', 64)), left(context, 200), still_there);
    return query select n, coalesce(last_hash, repeat('0', 64)), still_there;
end;
$$;

-- A day's partition of a landing table, created with the owner's rights.
create function hypercare.create_landing_partition(entity text, snapshot_date date) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (
        select 1 from pg_partitioned_table p
        join pg_class c on c.oid = p.partrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'hypercare' and c.relname = 'landing_' || entity
    ) then
        raise exception 'no landing table for entity %', entity;
    end if;
    execute format('create table if not exists hypercare.%I partition of hypercare.%I for values in (%L)',
                   'landing_' || entity || '_' || to_char(snapshot_date, 'YYYYMMDD'), 'landing_' || entity,
                   snapshot_date);
end;
$$;

-- Planner statistics for a freshly loaded partition (ANALYZE needs the owner's rights).
create function hypercare.analyze_landing_partition(entity text, snapshot_date date) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    partition text := 'landing_' || entity || '_' || to_char(snapshot_date, 'YYYYMMDD');
begin
    if to_regclass(format('hypercare.%I', partition)) is null or entity !~ '^[a-z_]+$' then
        raise exception 'no landing partition % ', partition;
    end if;
    execute format('analyze hypercare.%I', partition);
end;
$$;

revoke all on function hypercare.record_audit_checkpoint(text) from public;
revoke all on function hypercare.create_landing_partition(text, date) from public;
revoke all on function hypercare.analyze_landing_partition(text, date) from public;
