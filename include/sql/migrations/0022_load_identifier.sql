-- Each load of a snapshot has an identifier, written with its load_runs rows in the load's
-- transaction. The local copies of the landed entities are named by it
-- (hypercare/snapshot_cache.py), so a reader takes a copy only for the load the store
-- holds now. Loads before this migration get an identifier no copy has.
alter table hypercare.load_runs add column load_id uuid not null default gen_random_uuid();
