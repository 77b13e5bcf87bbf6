-- The Findings page's counts per day and rule are the scorecard's counts per day, rule,
-- severity and reason code (hypercare.occurrence_counts, migration 0016) summed: one summary
-- written by each run serves both, so the coarser copy goes.
drop table hypercare.rule_day_counts;
