-- Every open finding's state row is rewritten by each day's run (its last day seen moves and
-- its evidence mostly changes), and last_seen_on keyed both Findings page indexes: no such
-- update could be heap-only, so each went through all five indexes of the table (the
-- largest statement of a daily run at 100k customers, docs/benchmarks.md). The page now
-- lists findings not resolved first, then the most recently resolved, keyed on resolved_on,
-- which changes only when a finding resolves or reopens. With the index keys stable and
-- half of each page kept free for the next version of its rows, a day's rewrite of a
-- finding stays on its page and touches no index. The fill factor applies to pages written
-- from now on: rows of an existing store move to such pages with their next rewrite.
drop index hypercare.finding_state_page_idx;
drop index hypercare.finding_state_rule_page_idx;
create index finding_state_page_idx
    on hypercare.finding_state ((coalesce(resolved_on, date '9999-12-31')), finding_id);
create index finding_state_rule_page_idx
    on hypercare.finding_state (rule_id, (coalesce(resolved_on, date '9999-12-31')), finding_id);
alter table hypercare.finding_state set (fillfactor = 50);
