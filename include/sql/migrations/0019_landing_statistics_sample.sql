-- A landed partition is analyzed with a sample of 3,000 rows (statistics target 10) instead
-- of 30,000. The statements that read landing tables filter them by day and join them on
-- one identifier (opportunity_id, onboarding_id) or a status with a handful of values: row
-- counts, whether an identifier is unique and the common statuses are what their plans need,
-- and a small sample gives those. Every load analyzes its ten partitions inside the load's
-- transaction, where the full sample was about a quarter of a small day's load.
create or replace function hypercare.analyze_landing_partition(entity text, snapshot_date date) returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set default_statistics_target = 10
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
