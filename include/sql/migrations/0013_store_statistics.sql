-- Planner statistics for the audit store's busiest tables, refreshed by the evaluation
-- itself rather than left to autovacuum: a new store (or one after a large backfill)
-- otherwise plans lifecycle and alert queries with no statistics at all, as if each
-- table held a few rows, and a hash join becomes a nested loop over every row.
-- ANALYZE needs the owner's rights; the writer calls this SECURITY DEFINER function.
create function hypercare.refresh_store_statistics() returns setof text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    stale record;
begin
    for stale in
        select c.relname
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_stat_user_tables s on s.relid = c.oid
        where n.nspname = 'hypercare'
          and c.relname in ('finding_occurrences', 'finding_events', 'finding_state', 'metric_values',
                            'trace_events', 'evaluation_runs', 'alert_outbox')
          -- Never analyzed, or changed by more rows than it held when last analyzed: a growing
          -- store is analyzed as it doubles, a handful of times, not by every area's run (the
          -- rest is autovacuum's, at a tenth plus 50 rows, checked once a minute at best).
          and (c.reltuples < 0
               or coalesce(s.n_mod_since_analyze, 0) > greatest(1000, c.reltuples))
    loop
        execute format('analyze hypercare.%I', stale.relname);
        return next stale.relname;
    end loop;
end;
$$;

revoke all on function hypercare.refresh_store_statistics() from public;
