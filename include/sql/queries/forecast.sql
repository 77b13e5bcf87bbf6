-- Breach forecast: what would open (or clear) by the end of the next business day if the
-- data stayed as it is, per (day, area). Replaced together with the area's run.

-- name: delete_area
delete from hypercare.finding_forecasts where as_of = %(as_of)s and area = %(area)s;

-- name: insert_staged
insert into hypercare.finding_forecasts (
    as_of, area, horizon, change, rule_id, subject_key, finding_id, rule_version, onboarding_id,
    opportunity_id, account_id, segment, strategic, high_value, severity, reason_code, owner_roles, alert,
    since, evidence)
select %(as_of)s, %(area)s, %(horizon)s, change, rule_id, subject_key, md5(rule_id || '|' || subject_key)::uuid,
       %(rule_version)s, onboarding_id, opportunity_id, account_id, segment, strategic, high_value, severity,
       reason_code, owner_roles, alert, since, evidence::jsonb
from stage_forecast;

-- name: other_areas
-- The other areas' forecast for the day: the cross-cutting backlog ages the findings
-- the day after would hold.
select change, rule_id, subject_key, onboarding_id, opportunity_id, account_id, segment, strategic,
       high_value, severity
from hypercare.finding_forecasts
where as_of = %(as_of)s and area <> %(area)s;

-- name: due_soon
-- Findings that would open by the horizon, one row per finding and owner role, with the
-- customer facts (from the same snapshot) that the scorecard and the digest show; put in
-- order by hypercare.forecast.due_frame.
select role.owner_role, f.finding_id, f.rule_id, f.subject_key, f.severity, f.alert, f.horizon, f.onboarding_id,
       coalesce(f.opportunity_id, p.opportunity_id) as opportunity_id, f.segment, f.high_value,
       d.account_id, d.account_name, d.arr::double precision as arr, d.sales_owner
from hypercare.finding_forecasts f
cross join lateral unnest(f.owner_roles) as role(owner_role)
-- The onboarding's first project by index lookup: the day's forecasts are written in the
-- same transaction, so their row count is unknown to the planner, and a join planned for
-- one forecast row rescanned every project per row (20 s at 20k customers).
left join lateral (
    select lp.opportunity_id
    from hypercare.landing_onboarding_projects lp
    where lp.snapshot_date = %(as_of)s and lp.onboarding_id = f.onboarding_id
    order by lp.created_at
    limit 1
) p on true
-- The day as a parameter, not f.as_of: the plan then reads (and locks) that day's landing
-- partitions only, never one a load of another day is writing.
left join hypercare.landing_deals d
  on d.snapshot_date = %(as_of)s and d.opportunity_id = coalesce(f.opportunity_id, p.opportunity_id)
where f.as_of = %(as_of)s and f.change = 'opens';
