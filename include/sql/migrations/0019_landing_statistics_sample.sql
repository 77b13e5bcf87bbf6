-- A landed partition is analyzed with a sample of 3,000 rows (statistics target 10) instead
-- of 30,000. The statements that read landing tables filter them by day and join them on
-- one identifier (opportunity_id, onboarding_id) or a status with a handful of values: row
-- counts, whether an identifier is unique and the common statuses are what their plans need,
-- and a small sample gives those. Every load analyzes its ten partitions inside the load's
-- transaction, where the full sample was about a quarter of a small day's load.
alter function hypercare.analyze_landing_partition(text, date) set default_statistics_target = 10;
