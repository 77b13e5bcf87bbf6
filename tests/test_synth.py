"""The synthetic month generator and its ground-truth oracle.

The files are checked against the contract by a validator written here from the contract
data (not the project's loader), and the oracle is checked two ways: on hand-built
snapshots at the edges of the business clock, and by re-deriving the truth from the
written files after dropping exactly the rows that validator rejects.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hypercare.contract import Entity, load_contract
from hypercare.ruleset import DEFAULT_RULES_FILE, RuleSet, load_ruleset, parse_ruleset
from hypercare.synth import TRUTH_FILE, generate
from hypercare.synth.snapshots import ENTITIES, PLANNED_COLUMNS
from hypercare.synth.truth import ORACLES, SnapshotView, truth_for

START = dt.date(2026, 11, 2)
TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%#z"
UTC = dt.UTC


# -- helpers ---------------------------------------------------------------------------
def read_text(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def parse_ts(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(TS_FORMAT, strict=False, time_zone="UTC")


def contract_breaks(frame: pl.DataFrame, entity: Entity) -> np.ndarray:
    """Rows the contract quarantines, judged from the text alone: types, enums, bounds,
    required cells, order checks, and every copy of a duplicated key."""
    checks: list[pl.Expr] = []
    for column in entity.columns:
        cell = pl.col(column.name)
        present = cell.is_not_null()
        if column.required:
            checks.append(~present)
        if column.required_when:
            checks.append(~present & pl.col(column.required_when.column).is_in(column.required_when.values))
        number = cell.cast(pl.Float64, strict=False)
        wrong = {
            "enum": ~cell.is_in(column.values),
            "bool": ~cell.is_in(["true", "false"]),
            "int": cell.cast(pl.Int64, strict=False).is_null(),
            "decimal": number.is_null(),
            "ts": ~cell.str.contains(TS_PATTERN),
            "date": ~cell.str.contains(r"^\d{4}-\d{2}-\d{2}$"),
        }.get(column.type)
        if wrong is not None:
            checks.append(present & wrong)
        if column.min is not None:
            checks.append(present & (number < column.min))
        if column.max is not None:
            checks.append(present & (number > column.max))
        if column.pattern:
            checks.append(present & ~cell.str.contains(column.pattern))
    for order in entity.order:
        checks.append(parse_ts(order.column) < parse_ts(order.not_before))
    checks.append(pl.struct(list(entity.key)).is_duplicated())
    return frame.select(pl.any_horizontal([c.fill_null(False) for c in checks])).to_series().to_numpy()


def typed_view(folder: Path, day: dt.date) -> SnapshotView:
    """Snapshot `day` as a monitor would see it, parsed from the written files."""
    contract = load_contract()
    frames, rows, quarantined = {}, {}, {}
    for entity in ENTITIES:
        text = read_text(folder / f"{entity}.csv")
        broken = contract_breaks(text, contract[entity])
        rows[entity], quarantined[entity] = len(text), int(broken.sum())
        clean = text.filter(~pl.Series(broken))
        spec = contract[entity]
        frames[entity] = clean.with_columns(
            [parse_ts(c.name) for c in spec.columns if c.type == "ts"]
            + [pl.col(c.name) == "true" for c in spec.columns if c.type == "bool"]
        )
    return SnapshotView(day=day, frames=frames, file_rows=rows, quarantined=quarantined)


def ruleset_in(timezone: str) -> RuleSet:
    return parse_ruleset(DEFAULT_RULES_FILE.read_text().replace("timezone: UTC", f"timezone: {timezone}"))


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="module")
def month(tmp_path_factory, ruleset):
    """The default month: 400 customers, 30 days from go-live, seed 7."""
    out = tmp_path_factory.mktemp("month")
    report = generate(out, START, 30, 400, 7, ruleset)
    return out, report, pl.read_csv(out / TRUTH_FILE, try_parse_dates=True)


# -- the written files -----------------------------------------------------------------
def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path, ruleset):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, START, 4, 60, seed, ruleset)
    first, again, other = (folder_bytes(tmp_path / n) for n in "abc")
    assert first == again
    assert first.keys() == other.keys()
    assert first != other


def test_only_last_writes_the_full_runs_last_day(tmp_path, ruleset):
    full = generate(tmp_path / "full", START, 6, 80, 11, ruleset)
    last = generate(tmp_path / "last", START, 6, 80, 11, ruleset, only_last=True)
    day = (START + dt.timedelta(days=5)).isoformat()
    assert [p.name for p in (tmp_path / "last").iterdir() if p.is_dir()] == [day]
    assert folder_bytes(tmp_path / "full" / day) == folder_bytes(tmp_path / "last" / day)
    full_truth = pl.read_csv(tmp_path / "full" / TRUTH_FILE).filter(pl.col("as_of") == day)
    assert pl.read_csv(tmp_path / "last" / TRUTH_FILE).equals(full_truth)
    assert last.rows[last.written_days[0]] == full.rows[full.written_days[-1]]


def test_parquet_holds_the_same_cells_as_csv(tmp_path, ruleset):
    generate(tmp_path / "csv", START, 2, 40, 5, ruleset)
    generate(tmp_path / "pq", START, 2, 40, 5, ruleset, fmt="parquet")
    for entity in ENTITIES:
        text = read_text(tmp_path / "csv" / "2026-11-03" / f"{entity}.csv")
        assert pl.read_parquet(tmp_path / "pq" / "2026-11-03" / f"{entity}.parquet").equals(text)


def test_files_have_the_contract_columns_and_formats(month):
    out, report, _ = month
    contract = load_contract()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [d.isoformat() for d in report.written_days]
    for day in report.written_days:
        for entity in ENTITIES:
            text = read_text(out / day.isoformat() / f"{entity}.csv")
            expected = contract[entity].column_names + (["crm_region"] if entity == "deals" else [])
            assert text.columns == expected
            assert len(text) == report.rows[day][entity]
    deals = read_text(out / "2026-11-20" / "deals.csv")
    assert deals["crm_region"].is_in(["NA", "EMEA", "APAC", "LATAM"]).all()
    assert deals["modules"].str.contains(";").any()
    assert deals["account_name"].str.contains(",").any()
    created = read_text(out / "2026-11-20" / "onboarding_projects.csv")["created_at"]
    assert created.str.ends_with("Z").mean() > 0.8
    assert created.str.contains(r"[+-]\d{2}:\d{2}$").any()


def test_quarantine_in_truth_matches_an_independent_contract_check(month, ruleset):
    out, report, truth = month
    contract = load_contract()
    high_share = ruleset.rule("contract.violation").param("high_share")
    seen: dict[tuple[dt.date, str], str] = {}
    for day in report.written_days:
        for entity in ENTITIES:
            text = read_text(out / day.isoformat() / f"{entity}.csv")
            broken = int(contract_breaks(text, contract[entity]).sum())
            assert broken == report.quarantined[day][entity], (day, entity)
            if broken:
                seen[(day, entity)] = "high" if broken / len(text) > high_share else "warn"
    violations = truth.filter(pl.col("rule_id") == "contract.violation")
    assert {(r["as_of"], r["subject_key"]): r["severity"] for r in violations.iter_rows(named=True)} == seen
    assert sum(report.rows[report.written_days[0]].values()) > 0


def test_no_event_is_after_the_as_of_end(month, ruleset):
    out, report, _ = month
    contract = load_contract()
    for day in report.written_days:
        end = ruleset.calendar.as_of_end(day).astimezone(UTC)
        for entity in ENTITIES:
            spec = contract[entity].columns
            columns = [c.name for c in spec if c.type == "ts" and c.name not in PLANNED_COLUMNS]
            text = read_text(out / day.isoformat() / f"{entity}.csv")
            latest = text.select(pl.max_horizontal([parse_ts(c) for c in columns]).max()).item()
            assert latest is None or latest < end, (day, entity, latest)


def test_non_utc_business_timezone_cuts_snapshots_at_local_midnight(tmp_path):
    new_york = ruleset_in("America/New_York")
    report = generate(tmp_path, START, 3, 60, 2, new_york)
    for day in report.written_days:
        end = new_york.calendar.as_of_end(day).astimezone(UTC)
        projects = read_text(tmp_path / day.isoformat() / "onboarding_projects.csv")
        created = projects.select(parse_ts("created_at"))
        assert created.to_series().max() < end
        assert created.to_series().max() > end - dt.timedelta(days=1)


# -- the ground truth of a default month -------------------------------------------------
def test_every_rule_fires_in_a_default_month(month):
    _, report, truth = month
    assert set(truth["rule_id"]) == set(ORACLES)
    severities = truth.group_by("rule_id").agg(pl.col("severity").unique().sort())
    by_rule = dict(zip(severities["rule_id"], severities["severity"].to_list(), strict=True))
    assert by_rule["trigger.duplicate_project"] == ["high", "warn"]
    assert by_rule["contract.violation"] == ["high", "warn"]
    assert by_rule["trigger.missed_eligible"] == ["high"]
    assert truth.select(["as_of", "rule_id", "subject_key"]).is_duplicated().sum() == 0
    assert truth.equals(truth.sort(["as_of", "rule_id", "subject_key", "severity"]))
    assert report.truth == dict(truth.group_by("rule_id").len().iter_rows())


def test_manual_share_crosses_the_threshold_both_ways(month):
    _, report, truth = month
    manual_days = set(truth.filter(pl.col("rule_id") == "trigger.manual_creation")["as_of"])
    assert 0 < len(manual_days) < len(report.written_days)


def test_excluded_deals_never_appear_in_the_truth(month):
    """Excluded as the monitor sees it: a quarantined deal row hides its exclusion too."""
    out, report, truth = month
    deal_contract = load_contract()["deals"]
    excluded_seen = 0
    for day in report.written_days:
        deals = read_text(out / day.isoformat() / "deals.csv")
        deals = deals.filter(~pl.Series(contract_breaks(deals, deal_contract)))
        projects = read_text(out / day.isoformat() / "onboarding_projects.csv")
        excluded = deals.filter(pl.col("excluded_reason").is_not_null())["opportunity_id"]
        excluded_seen += len(excluded)
        excluded_projects = projects.filter(pl.col("opportunity_id").is_in(excluded.implode()))["project_id"]
        subjects = truth.filter((pl.col("as_of") == day) & pl.col("rule_id").str.starts_with("trigger."))
        assert not subjects["subject_key"].is_in(excluded.implode()).any(), day
        assert not subjects["subject_key"].is_in(excluded_projects.implode()).any(), day
    assert excluded_seen > 0


def test_truth_is_what_the_written_files_say(month, ruleset):
    out, report, truth = month
    for day in report.written_days[::4]:
        recomputed = truth_for(typed_view(out / day.isoformat(), day), ruleset)
        assert recomputed.equals(truth.filter(pl.col("as_of") == day)), day


# -- the oracle at the edges of the business clock ----------------------------------------
DEAL_DEFAULTS = {
    "account_id": "ACC-1", "segment": "smb", "strategic": False, "stage": "closed_won", "closed_won_at": None,
    "contract_state": "signed", "contract_signed_at": None, "payment_condition": "none",
    "payment_received_at": None, "excluded_reason": None,
}
PROJECT_DEFAULTS = {"opportunity_id": None, "created_at": None, "created_by": "automation",
                    "status": "active", "paused_at": None}


def at(text: str, zone: str = "UTC") -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def view_of(day: dt.date, deals: list[dict], projects: list[dict] = (), quarantined: dict | None = None,
            file_rows: dict | None = None) -> SnapshotView:
    ts = pl.Datetime("us", "UTC")
    deal_schema = {"opportunity_id": pl.String, "account_id": pl.String, "segment": pl.String,
                   "strategic": pl.Boolean, "stage": pl.String, "closed_won_at": ts,
                   "contract_state": pl.String,
                   "contract_signed_at": ts, "payment_condition": pl.String, "payment_received_at": ts,
                   "excluded_reason": pl.String}
    project_schema = {"project_id": pl.String, "opportunity_id": pl.String, "created_at": ts,
                      "created_by": pl.String, "status": pl.String, "paused_at": ts}
    frames = {
        "deals": pl.DataFrame([DEAL_DEFAULTS | d for d in deals], schema=deal_schema),
        "onboarding_projects": pl.DataFrame([PROJECT_DEFAULTS | p for p in projects], schema=project_schema),
    }
    return SnapshotView(day=day, frames=frames, file_rows=file_rows or {}, quarantined=quarantined or {})


def fired(rule_id: str, view: SnapshotView, ruleset: RuleSet) -> dict[str, str]:
    found = ORACLES[rule_id](view, ruleset)
    return dict(zip(found["subject_key"], found["severity"], strict=True))


def days_fired(rule_id: str, first: dt.date, last: dt.date, deals: list[dict], projects: list[dict] = (),
               ruleset: RuleSet | None = None) -> list[dt.date]:
    ruleset = ruleset or load_ruleset()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if fired(rule_id, view_of(d, deals, projects), ruleset)]


def test_friday_afternoon_eligibility_is_late_from_mondays_run():
    friday = at("2026-11-06T16:00:00")
    deal = {"opportunity_id": "OPP-1", "closed_won_at": friday,
            "contract_signed_at": friday - dt.timedelta(hours=2)}
    assert days_fired("trigger.missed_eligible", dt.date(2026, 11, 6), dt.date(2026, 11, 10), [deal]) == [
        dt.date(2026, 11, 9), dt.date(2026, 11, 10)]
    created_monday = {"project_id": "PRJ-1", "opportunity_id": "OPP-1",
                      "created_at": at("2026-11-09T17:00:00")}
    assert days_fired("trigger.missed_eligible", dt.date(2026, 11, 6), dt.date(2026, 11, 10), [deal],
                      [created_monday]) == []


def test_holiday_before_the_weekend_pushes_the_deadline_to_monday():
    wednesday = at("2026-11-25T16:00:00")
    deal = {"opportunity_id": "OPP-1", "closed_won_at": wednesday, "contract_signed_at": wednesday}
    assert days_fired("trigger.missed_eligible", dt.date(2026, 11, 25), dt.date(2026, 11, 30), [deal]) == [
        dt.date(2026, 11, 30)]


def test_eligibility_clock_runs_in_the_business_timezone():
    sunday_evening_new_york = at("2026-11-08T22:00:00", "America/New_York")
    deal = {"opportunity_id": "OPP-1", "closed_won_at": sunday_evening_new_york,
            "contract_signed_at": sunday_evening_new_york}
    window = (dt.date(2026, 11, 8), dt.date(2026, 11, 10))
    assert days_fired("trigger.missed_eligible", *window, [deal], ruleset=ruleset_in("America/New_York")) == [
        dt.date(2026, 11, 9), dt.date(2026, 11, 10)]
    assert days_fired("trigger.missed_eligible", *window, [deal]) == [dt.date(2026, 11, 10)]


def test_prepayment_decides_eligibility_only_for_prepayment_deals(ruleset):
    close = at("2026-11-02T10:00:00")
    paid_later = close + dt.timedelta(days=3)
    deals = [
        {"opportunity_id": "OPP-PRE", "closed_won_at": close, "contract_signed_at": close,
         "payment_condition": "prepayment"},
        {"opportunity_id": "OPP-PAID", "closed_won_at": close, "contract_signed_at": close,
         "payment_condition": "prepayment", "payment_received_at": paid_later},
        {"opportunity_id": "OPP-PO", "closed_won_at": close, "contract_signed_at": close,
         "payment_condition": "po_required", "payment_received_at": paid_later},
    ]
    projects = [{"project_id": f"PRJ-{i}", "opportunity_id": d["opportunity_id"],
                 "created_at": close + dt.timedelta(hours=1)} for i, d in enumerate(deals)]
    view = view_of(dt.date(2026, 11, 10), deals, projects)
    assert fired("trigger.premature_start", view, ruleset) == {"PRJ-0": "high", "PRJ-1": "high"}
    stuck = view_of(dt.date(2026, 11, 9), deals[:1])
    assert fired("trigger.stuck_before_eligible", stuck, ruleset) == {"OPP-PRE": "warn"}
    assert fired("trigger.stuck_before_eligible", view_of(dt.date(2026, 11, 6), deals[:1]), ruleset) == {}


def test_premature_start_needs_a_present_unexcluded_deal(ruleset):
    close = at("2026-11-03T10:00:00")
    deals = [
        {"opportunity_id": "OPP-OPEN", "stage": "open", "contract_signed_at": close},
        {"opportunity_id": "OPP-EXCL", "stage": "open", "contract_signed_at": close,
         "excluded_reason": "partner_led_onboarding"},
        {"opportunity_id": "OPP-OK", "closed_won_at": close, "contract_signed_at": close},
    ]
    projects = [
        {"project_id": "PRJ-OPEN", "opportunity_id": "OPP-OPEN", "created_at": close},
        {"project_id": "PRJ-EXCL", "opportunity_id": "OPP-EXCL", "created_at": close},
        {"project_id": "PRJ-OK", "opportunity_id": "OPP-OK", "created_at": close},
        {"project_id": "PRJ-GONE", "opportunity_id": "OPP-ABSENT", "created_at": close},
        {"project_id": "PRJ-CANC", "opportunity_id": "OPP-OPEN", "created_at": close, "status": "cancelled"},
    ]
    view = view_of(dt.date(2026, 11, 4), deals, projects)
    assert fired("trigger.premature_start", view, ruleset) == {"PRJ-OPEN": "high"}
    assert fired("trigger.signed_not_closed", view, ruleset) == {"OPP-OPEN": "warn"}
    assert fired("trigger.signed_not_closed", view_of(dt.date(2026, 11, 3), deals, projects), ruleset) == {}


def test_duplicates_count_live_projects_and_follow_strategic(ruleset):
    close = at("2026-11-03T10:00:00")
    deals = [
        {"opportunity_id": "OPP-S", "strategic": True, "closed_won_at": close, "contract_signed_at": close},
        {"opportunity_id": "OPP-C", "closed_won_at": close, "contract_signed_at": close},
        {"opportunity_id": "OPP-X", "closed_won_at": close, "contract_signed_at": close,
         "excluded_reason": "pilot"},
    ]
    projects = [
        {"project_id": "P1", "opportunity_id": "OPP-S", "created_at": close},
        {"project_id": "P2", "opportunity_id": "OPP-S", "created_at": close},
        {"project_id": "P3", "opportunity_id": "OPP-C", "created_at": close},
        {"project_id": "P4", "opportunity_id": "OPP-C", "created_at": close, "status": "cancelled"},
        {"project_id": "P5", "opportunity_id": "OPP-X", "created_at": close},
        {"project_id": "P6", "opportunity_id": "OPP-X", "created_at": close},
        {"project_id": "P7", "opportunity_id": "OPP-GONE", "created_at": close},
        {"project_id": "P8", "opportunity_id": "OPP-GONE", "created_at": close, "status": "paused"},
    ]
    view = view_of(dt.date(2026, 11, 4), deals, projects)
    assert fired("trigger.duplicate_project", view, ruleset) == {"OPP-S": "high", "OPP-GONE": "warn"}


def test_manual_share_must_exceed_the_threshold_within_the_trailing_week(ruleset):
    day = dt.date(2026, 11, 20)
    end = ruleset.calendar.as_of_end(day).astimezone(UTC)
    deals = [{"opportunity_id": "OPP-X", "excluded_reason": "pilot"}]

    def projects(manual: int, total: int, extra: list[dict] = ()) -> list[dict]:
        return [{"project_id": f"P{i:02d}", "created_at": end - dt.timedelta(days=1),
                 "created_by": "manual" if i < manual else "automation", "opportunity_id": f"OPP-{i}"}
                for i in range(total)] + list(extra)

    assert fired("trigger.manual_creation", view_of(day, deals, projects(1, 10)), ruleset) == {}
    assert fired("trigger.manual_creation", view_of(day, deals, projects(2, 10)), ruleset) == {
        "P00": "warn", "P01": "warn"}
    outside = {"project_id": "OLD", "created_at": end - dt.timedelta(days=7), "created_by": "manual"}
    tied = {"project_id": "TIED", "created_at": end - dt.timedelta(hours=1), "created_by": "manual",
            "opportunity_id": "OPP-X", "status": "cancelled"}
    crowded = view_of(day, deals, projects(1, 9, [outside, tied]))
    assert fired("trigger.manual_creation", crowded, ruleset) == {"P00": "warn"}


def test_paused_and_unlinked_projects(ruleset):
    thursday = at("2026-11-12T10:00:00")
    projects = [
        {"project_id": "PAUSED", "opportunity_id": "OPP-1", "created_at": thursday, "status": "paused",
         "paused_at": thursday},
        {"project_id": "LOOSE", "created_at": thursday},
        {"project_id": "LOOSE-CANC", "created_at": thursday, "status": "cancelled"},
    ]
    deals = [{"opportunity_id": "OPP-1", "closed_won_at": thursday, "contract_signed_at": thursday}]
    window = (dt.date(2026, 11, 12), dt.date(2026, 11, 16))
    paused_days = days_fired("trigger.paused_handoff", *window, deals, projects)
    assert paused_days == [dt.date(2026, 11, 16)]
    excluded = [deals[0] | {"excluded_reason": "reseller_managed"}]
    assert days_fired("trigger.paused_handoff", *window, excluded, projects) == []
    assert days_fired("trigger.paused_handoff", *window, [], projects) == [dt.date(2026, 11, 16)]
    view = view_of(dt.date(2026, 11, 12), deals, projects)
    assert fired("trigger.unlinked_project", view, ruleset) == {"LOOSE": "warn"}


def test_contract_violation_severity_uses_the_share_of_the_file(ruleset):
    view = view_of(START, [], quarantined={"deals": 1, "writebacks": 3, "milestones": 0},
                   file_rows={"deals": 100, "writebacks": 200, "milestones": 50})
    assert fired("contract.violation", view, ruleset) == {"deals": "warn", "writebacks": "high"}
