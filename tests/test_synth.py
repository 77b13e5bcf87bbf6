"""The synthetic month generator and its ground-truth oracle.

The files are checked against the contract by a validator written here from the contract
data (not the project's loader), and the oracle is checked two ways: on hand-built
snapshots at the edges of the business clock, and by re-deriving the truth from the
written files after dropping exactly the rows that validator rejects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hypercare.contract import Entity, load_contract
from hypercare.ruleset import DEFAULT_RULES_FILE, RuleSet, load_ruleset, parse_ruleset
from hypercare.synth import DEMO_RESPONSE, TRUTH_FILE, generate
from hypercare.synth.snapshots import ENTITIES, PLANNED_COLUMNS
from hypercare.synth.truth import ORACLES, SnapshotView, truth_for
from hypercare.synth.truth_systems import LOOKBACK_RULES, Trail

START = dt.date(2026, 11, 2)
TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
TS_FORMAT = "%Y-%m-%dT%H:%M:%S%#z"
UTC = dt.UTC
TYPED = {"ts": pl.Datetime("us", "UTC"), "bool": pl.Boolean, "int": pl.Int64, "decimal": pl.Float64, "date": pl.Date}


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
            + [pl.col(c.name).cast(TYPED[c.type]) for c in spec.columns if c.type in ("int", "decimal")]
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
    """The demo month: 400 customers, 30 days from go-live, seed 7, the team answering reviews."""
    out = tmp_path_factory.mktemp("month")
    report = generate(out, START, 30, 400, 7, ruleset, response=DEMO_RESPONSE)
    return out, report, pl.read_csv(out / TRUTH_FILE, try_parse_dates=True)


# -- the written files -----------------------------------------------------------------
def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path, ruleset):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, START, 4, 60, seed, ruleset)
    first, again, other = (folder_bytes(tmp_path / n) for n in "abc")
    assert first == again
    assert first.keys() == other.keys()
    assert first != other


@pytest.mark.parametrize("last_days", [1, 2])
def test_last_days_writes_the_full_runs_last_days(tmp_path, ruleset, last_days):
    full = generate(tmp_path / "full", START, 6, 80, 11, ruleset)
    last = generate(tmp_path / "last", START, 6, 80, 11, ruleset, last_days=last_days)
    days = [(START + dt.timedelta(days=offset)).isoformat() for offset in range(6 - last_days, 6)]
    assert sorted(p.name for p in (tmp_path / "last").iterdir() if p.is_dir()) == days
    for day in days:
        assert folder_bytes(tmp_path / "full" / day) == folder_bytes(tmp_path / "last" / day)
    # Rules that look back see only the written days, so they are left out of the match.
    same_day = ~pl.col("rule_id").is_in(LOOKBACK_RULES)
    full_truth = pl.read_csv(tmp_path / "full" / TRUTH_FILE).filter(pl.col("as_of").is_in(days) & same_day)
    assert pl.read_csv(tmp_path / "last" / TRUTH_FILE).filter(same_day).equals(full_truth)
    assert [last.rows[day] for day in last.written_days] == [full.rows[day] for day in full.written_days[-last_days:]]


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
    """Replayed day by day: the trace and backlog rules remember the earlier days."""
    out, report, truth = month
    trail = Trail()
    for index, day in enumerate(report.written_days):
        recomputed = truth_for(replace(typed_view(out / day.isoformat(), day), trail=trail), ruleset)
        if index % 4 == 0:
            assert recomputed.equals(truth.filter(pl.col("as_of") == day)), day


# -- the oracle at the edges of the business clock ----------------------------------------
DEAL_DEFAULTS = {
    "account_id": "ACC-1",
    "segment": "smb",
    "strategic": False,
    "stage": "closed_won",
    "closed_won_at": None,
    "contract_state": "signed",
    "contract_signed_at": None,
    "payment_condition": "none",
    "payment_received_at": None,
    "excluded_reason": None,
}
PROJECT_DEFAULTS = {
    "opportunity_id": None,
    "created_at": None,
    "created_by": "automation",
    "status": "active",
    "paused_at": None,
}


def at(text: str, zone: str = "UTC") -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def view_of(
    day: dt.date,
    deals: list[dict],
    projects: list[dict] = (),
    quarantined: dict | None = None,
    file_rows: dict | None = None,
) -> SnapshotView:
    ts = pl.Datetime("us", "UTC")
    deal_schema = {
        "opportunity_id": pl.String,
        "account_id": pl.String,
        "segment": pl.String,
        "strategic": pl.Boolean,
        "stage": pl.String,
        "closed_won_at": ts,
        "contract_state": pl.String,
        "contract_signed_at": ts,
        "payment_condition": pl.String,
        "payment_received_at": ts,
        "excluded_reason": pl.String,
    }
    project_schema = {
        "project_id": pl.String,
        "opportunity_id": pl.String,
        "created_at": ts,
        "created_by": pl.String,
        "status": pl.String,
        "paused_at": ts,
    }
    frames = {
        "deals": pl.DataFrame([DEAL_DEFAULTS | d for d in deals], schema=deal_schema),
        "onboarding_projects": pl.DataFrame([PROJECT_DEFAULTS | p for p in projects], schema=project_schema),
    }
    return SnapshotView(day=day, frames=frames, file_rows=file_rows or {}, quarantined=quarantined or {})


def fired(rule_id: str, view: SnapshotView, ruleset: RuleSet) -> dict[str, str]:
    found = ORACLES[rule_id](view, ruleset)
    return dict(zip(found["subject_key"], found["severity"], strict=True))


def days_fired(
    rule_id: str,
    first: dt.date,
    last: dt.date,
    deals: list[dict],
    projects: list[dict] = (),
    ruleset: RuleSet | None = None,
) -> list[dt.date]:
    ruleset = ruleset or load_ruleset()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return [d for d in days if fired(rule_id, view_of(d, deals, projects), ruleset)]


def test_friday_afternoon_eligibility_is_late_from_mondays_run():
    friday = at("2026-11-06T16:00:00")
    deal = {"opportunity_id": "OPP-1", "closed_won_at": friday, "contract_signed_at": friday - dt.timedelta(hours=2)}
    assert days_fired("trigger.missed_eligible", dt.date(2026, 11, 6), dt.date(2026, 11, 10), [deal]) == [
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 10),
    ]
    created_monday = {"project_id": "PRJ-1", "opportunity_id": "OPP-1", "created_at": at("2026-11-09T17:00:00")}
    assert (
        days_fired("trigger.missed_eligible", dt.date(2026, 11, 6), dt.date(2026, 11, 10), [deal], [created_monday])
        == []
    )


def test_holiday_before_the_weekend_pushes_the_deadline_to_monday():
    wednesday = at("2026-11-25T16:00:00")
    deal = {"opportunity_id": "OPP-1", "closed_won_at": wednesday, "contract_signed_at": wednesday}
    assert days_fired("trigger.missed_eligible", dt.date(2026, 11, 25), dt.date(2026, 11, 30), [deal]) == [
        dt.date(2026, 11, 30)
    ]


def test_eligibility_clock_runs_in_the_business_timezone():
    sunday_evening_new_york = at("2026-11-08T22:00:00", "America/New_York")
    deal = {
        "opportunity_id": "OPP-1",
        "closed_won_at": sunday_evening_new_york,
        "contract_signed_at": sunday_evening_new_york,
    }
    window = (dt.date(2026, 11, 8), dt.date(2026, 11, 10))
    assert days_fired("trigger.missed_eligible", *window, [deal], ruleset=ruleset_in("America/New_York")) == [
        dt.date(2026, 11, 9),
        dt.date(2026, 11, 10),
    ]
    assert days_fired("trigger.missed_eligible", *window, [deal]) == [dt.date(2026, 11, 10)]


def test_prepayment_decides_eligibility_only_for_prepayment_deals(ruleset):
    close = at("2026-11-02T10:00:00")
    paid_later = close + dt.timedelta(days=3)
    deals = [
        {
            "opportunity_id": "OPP-PRE",
            "closed_won_at": close,
            "contract_signed_at": close,
            "payment_condition": "prepayment",
        },
        {
            "opportunity_id": "OPP-PAID",
            "closed_won_at": close,
            "contract_signed_at": close,
            "payment_condition": "prepayment",
            "payment_received_at": paid_later,
        },
        {
            "opportunity_id": "OPP-PO",
            "closed_won_at": close,
            "contract_signed_at": close,
            "payment_condition": "po_required",
            "payment_received_at": paid_later,
        },
    ]
    projects = [
        {"project_id": f"PRJ-{i}", "opportunity_id": d["opportunity_id"], "created_at": close + dt.timedelta(hours=1)}
        for i, d in enumerate(deals)
    ]
    view = view_of(dt.date(2026, 11, 10), deals, projects)
    assert fired("trigger.premature_start", view, ruleset) == {"PRJ-0": "high", "PRJ-1": "high"}
    stuck = view_of(dt.date(2026, 11, 9), deals[:1])
    assert fired("trigger.stuck_before_eligible", stuck, ruleset) == {"OPP-PRE": "warn"}
    assert fired("trigger.stuck_before_eligible", view_of(dt.date(2026, 11, 6), deals[:1]), ruleset) == {}


def test_premature_start_needs_a_present_unexcluded_deal(ruleset):
    close = at("2026-11-03T10:00:00")
    deals = [
        {"opportunity_id": "OPP-OPEN", "stage": "open", "contract_signed_at": close},
        {
            "opportunity_id": "OPP-EXCL",
            "stage": "open",
            "contract_signed_at": close,
            "excluded_reason": "partner_led_onboarding",
        },
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
        {"opportunity_id": "OPP-X", "closed_won_at": close, "contract_signed_at": close, "excluded_reason": "pilot"},
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
        return [
            {
                "project_id": f"P{i:02d}",
                "created_at": end - dt.timedelta(days=1),
                "created_by": "manual" if i < manual else "automation",
                "opportunity_id": f"OPP-{i}",
            }
            for i in range(total)
        ] + list(extra)

    assert fired("trigger.manual_creation", view_of(day, deals, projects(1, 10)), ruleset) == {}
    assert fired("trigger.manual_creation", view_of(day, deals, projects(2, 10)), ruleset) == {
        "P00": "warn",
        "P01": "warn",
    }
    outside = {"project_id": "OLD", "created_at": end - dt.timedelta(days=7), "created_by": "manual"}
    tied = {
        "project_id": "TIED",
        "created_at": end - dt.timedelta(hours=1),
        "created_by": "manual",
        "opportunity_id": "OPP-X",
        "status": "cancelled",
    }
    crowded = view_of(day, deals, projects(1, 9, [outside, tied]))
    assert fired("trigger.manual_creation", crowded, ruleset) == {"P00": "warn"}


def test_paused_and_unlinked_projects(ruleset):
    thursday = at("2026-11-12T10:00:00")
    projects = [
        {
            "project_id": "PAUSED",
            "opportunity_id": "OPP-1",
            "created_at": thursday,
            "status": "paused",
            "paused_at": thursday,
        },
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
    view = view_of(
        START,
        [],
        quarantined={"deals": 1, "writebacks": 3, "milestones": 0},
        file_rows={"deals": 100, "writebacks": 200, "milestones": 50},
    )
    assert fired("contract.violation", view, ruleset) == {"deals": "warn", "writebacks": "high"}


# -- handoff, ownership and customer areas ------------------------------------------------
PEOPLE_AREAS = ("handoff.", "ownership.", "customer.")
FIELDS = load_contract()["handoff_fields"].column("field").values


def test_every_people_rule_fires_with_each_of_its_severities(month, ruleset):
    _, _, truth = month
    people = truth.filter(pl.col("rule_id").str.contains(r"^(handoff|ownership|customer)\."))
    seen = dict(people.group_by("rule_id").agg(pl.col("severity").unique().sort()).iter_rows())
    expected = {
        rule.rule_id: sorted({rule.severity, rule.extra.get("severity_when_high_value", rule.severity)})
        for rule in ruleset.rules.values()
        if rule.rule_id.startswith(PEOPLE_AREAS)
    }
    assert len(expected) == 17
    assert seen == expected


def test_people_findings_resolve_as_the_month_goes_on(tmp_path, ruleset):
    """Owners get assigned, answers given and tasks done: findings stop, not only start.
    Without the team's response (which clears whole areas) some are still open at the end."""
    report = generate(tmp_path, START, 30, 400, 7, ruleset)
    truth = pl.read_csv(tmp_path / TRUTH_FILE, try_parse_dates=True)
    last = report.written_days[-1]
    for rule_id in (
        "ownership.no_owner",
        "ownership.missing_role",
        "handoff.acceptance_wait",
        "customer.task_overdue",
        "customer.no_response",
        "customer.milestone_aged",
    ):
        spans = truth.filter(pl.col("rule_id") == rule_id).group_by("subject_key").agg(pl.col("as_of").max())
        assert (spans["as_of"] < last).sum() > 0, rule_id
        assert (spans["as_of"] == last).sum() > 0, rule_id


def typed_frame(entity: str, rows: list[dict]) -> pl.DataFrame:
    """A typed snapshot frame with every contract column (null unless given)."""
    schema = {c.name: TYPED.get(c.type, pl.String) for c in load_contract()[entity].columns}
    return pl.DataFrame([{name: row.get(name) for name in schema} for row in rows], schema=schema, orient="row")


def people_view(day: dt.date, **rows: list[dict]) -> SnapshotView:
    entities = (
        "deals",
        "onboarding_projects",
        "handoff_fields",
        "billing_accounts",
        "provisioning_items",
        "customer_tasks",
        "milestones",
    )
    frames = {entity: typed_frame(entity, rows.get(entity, [])) for entity in entities}
    return SnapshotView(day=day, frames=frames, file_rows={}, quarantined={})


def a_deal(opportunity_id: str, eligible: dt.datetime, **overrides) -> dict:
    return {
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "segment": "mid_market",
        "strategic": False,
        "arr": 40_000.0,
        "sales_owner": "ae@example.com",
        "stage": "closed_won",
        "closed_won_at": eligible,
        "contract_state": "signed",
        "contract_signed_at": eligible,
        "payment_condition": "none",
    } | overrides


def a_project(onboarding_id: str, opportunity_id: str | None, created: dt.datetime, **overrides) -> dict:
    """A project with every owner and a kickoff held the next day, unless overridden."""
    kickoff = created + dt.timedelta(days=1)
    return {
        "project_id": f"PRJ-{onboarding_id}",
        "onboarding_id": onboarding_id,
        "opportunity_id": opportunity_id,
        "account_id": f"ACC-{opportunity_id}",
        "created_at": created,
        "created_by": "automation",
        "status": "active",
        "onboarding_owner": "onb@example.com",
        "csm_owner": "csm@example.com",
        "technical_owner": "se@example.com",
        "finance_owner": "fin@example.com",
        "kickoff_task_created_at": created,
        "kickoff_scheduled_at": created,
        "kickoff_scheduled_for": kickoff,
        "kickoff_completed_at": kickoff + dt.timedelta(hours=1),
        "handoff_submitted_at": created,
        "handoff_accepted_at": created,
    } | overrides


def a_packet(onboarding_id: str, filled: dt.datetime, **per_field: dt.datetime | None) -> list[dict]:
    """All fifteen handoff rows filled at `filled`; a field given as None is still blank."""
    return [{"onboarding_id": onboarding_id, "field": f, "filled_at": per_field.get(f, filled)} for f in FIELDS]


def firing(rule_id: str, day: dt.date, ruleset: RuleSet, **rows: list[dict]) -> dict[str, str]:
    return fired(rule_id, people_view(day, **rows), ruleset)


def firing_days(
    rule_id: str, first: dt.date, last: dt.date, ruleset: RuleSet, **rows: list[dict]
) -> dict[str, list[tuple[dt.date, str]]]:
    """Per subject, the days (and severity) `rule_id` fires from `first` to `last`."""
    out: dict[str, list[tuple[dt.date, str]]] = {}
    for offset in range((last - first).days + 1):
        day = first + dt.timedelta(days=offset)
        for subject, severity in firing(rule_id, day, ruleset, **rows).items():
            out.setdefault(subject, []).append((day, severity))
    return out


def first_day(days: dict[str, list[tuple[dt.date, str]]]) -> dict[str, tuple[dt.date, str]]:
    return {subject: fired_on[0] for subject, fired_on in days.items()}


def test_kickoff_slas_follow_the_segment_and_escalate_for_high_value(ruleset):
    monday = at("2026-11-02T10:00:00")
    shapes = {
        "SMB": {"segment": "smb"},
        "MM": {},
        "ENT": {"segment": "enterprise", "arr": 60_000.0},
        "MM-BIG": {"arr": 100_000.0},
        "SMB-STRAT": {"segment": "smb", "strategic": True},
    }
    deals = [a_deal(f"OPP-{name}", monday, **shape) for name, shape in shapes.items()]
    unbooked = {"kickoff_scheduled_at": None, "kickoff_scheduled_for": None, "kickoff_completed_at": None}
    projects = [a_project(name, f"OPP-{name}", monday + dt.timedelta(minutes=5), **unbooked) for name in shapes]
    days = firing_days(
        "ownership.kickoff_not_scheduled",
        START,
        dt.date(2026, 11, 9),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
    )
    assert first_day(days) == {
        "SMB": (dt.date(2026, 11, 4), "warn"),
        "MM": (dt.date(2026, 11, 5), "warn"),
        "ENT": (dt.date(2026, 11, 5), "warn"),
        "MM-BIG": (dt.date(2026, 11, 5), "high"),
        "SMB-STRAT": (dt.date(2026, 11, 4), "high"),
    }
    days = firing_days(
        "ownership.kickoff_not_completed",
        START,
        dt.date(2026, 11, 16),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
    )
    assert first_day(days) == {
        "SMB": (dt.date(2026, 11, 9), "warn"),
        "MM": (dt.date(2026, 11, 11), "warn"),
        "ENT": (dt.date(2026, 11, 16), "warn"),
        "MM-BIG": (dt.date(2026, 11, 11), "high"),
        "SMB-STRAT": (dt.date(2026, 11, 9), "high"),
    }


def test_kickoff_clock_starts_at_creation_when_the_deal_is_not_eligible_or_absent(ruleset):
    created = at("2026-11-04T15:00:00")
    deals = [
        a_deal("OPP-EARLY", at("2026-11-02T10:00:00"), segment="smb"),
        a_deal("OPP-EXCL", at("2026-11-02T10:00:00"), segment="smb", excluded_reason="pilot_extension"),
    ]
    unbooked = {"kickoff_scheduled_at": None, "kickoff_scheduled_for": None, "kickoff_completed_at": None}
    projects = [
        a_project("EARLY", "OPP-EARLY", created, **unbooked),
        a_project("EXCL", "OPP-EXCL", created, **unbooked),
        a_project("GONE", "OPP-GONE", created, **unbooked),
    ]
    days = firing_days(
        "ownership.kickoff_not_scheduled",
        START,
        dt.date(2026, 11, 12),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
    )
    assert first_day(days) == {
        "EARLY": (dt.date(2026, 11, 4), "warn"),
        "EXCL": (dt.date(2026, 11, 6), "warn"),
        "GONE": (dt.date(2026, 11, 9), "warn"),
    }


def test_owner_clock_crosses_the_thanksgiving_holidays(ruleset):
    wednesday = at("2026-11-25T16:00:00")
    deals = [a_deal("OPP-1", wednesday - dt.timedelta(hours=2))]
    projects = [a_project("ONB-1", "OPP-1", wednesday, onboarding_owner=None)]
    days = firing_days(
        "ownership.no_owner",
        dt.date(2026, 11, 25),
        dt.date(2026, 12, 1),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
    )
    assert days == {"ONB-1": [(dt.date(2026, 11, 30), "high"), (dt.date(2026, 12, 1), "high")]}
    owned = [projects[0] | {"onboarding_owner": "onb@example.com"}]
    assert firing("ownership.no_owner", dt.date(2026, 11, 30), ruleset, deals=deals, onboarding_projects=owned) == {}


def test_kickoff_window_counts_business_days_across_the_holidays(ruleset):
    """A kickoff on Tuesday 1 December is within two business days from Wednesday's run
    on (Thanksgiving Thursday and Friday do not count), not from Tuesday's."""
    created = at("2026-11-16T10:00:00")
    kickoff = at("2026-12-01T10:00:00")
    deals = [a_deal("OPP-1", created)]
    projects = [a_project("ONB-1", "OPP-1", created, kickoff_scheduled_for=kickoff, kickoff_completed_at=None)]
    packet = a_packet("ONB-1", created - dt.timedelta(hours=1), billing_details=None)
    days = firing_days(
        "handoff.incomplete_before_kickoff",
        dt.date(2026, 11, 23),
        dt.date(2026, 11, 30),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
        handoff_fields=packet,
    )
    assert [day for day, _ in days["ONB-1"]] == [dt.date(2026, 11, d) for d in (25, 26, 27, 28, 29, 30)]
    cleaned = a_packet("ONB-1", created - dt.timedelta(hours=1), billing_details=at("2026-11-27T09:00:00"))
    assert (
        firing(
            "handoff.incomplete_before_kickoff",
            dt.date(2026, 11, 27),
            ruleset,
            deals=deals,
            onboarding_projects=projects,
            handoff_fields=cleaned,
        )
        == {}
    )


def test_required_fields_follow_the_segment_and_the_moment(ruleset):
    submitted = at("2026-11-03T10:00:00")
    kickoff_done = at("2026-11-05T11:00:00")
    deals = [a_deal("OPP-SMB", submitted, segment="smb"), a_deal("OPP-ENT", submitted, segment="enterprise")]
    held = {"handoff_submitted_at": submitted, "kickoff_completed_at": kickoff_done}
    projects = [
        a_project("SMB", "OPP-SMB", submitted, **held),
        a_project("ENT", "OPP-ENT", submitted, **held),
        a_project("GONE", "OPP-GONE", submitted, **held),
        a_project("EXACT", "OPP-SMB", submitted, **held),
        a_project("LATE", "OPP-SMB", submitted, **held),
    ]
    before = submitted - dt.timedelta(hours=1)
    fields = (
        a_packet("SMB", before, stakeholder_executive_sponsor=None)
        + a_packet("ENT", before, stakeholder_executive_sponsor=None)
        + [row for row in a_packet("GONE", before) if row["field"] != "implementation_constraints"]
        + a_packet("EXACT", before, package=submitted, success_criteria=kickoff_done)
        + a_packet("LATE", before, success_criteria=kickoff_done + dt.timedelta(seconds=1))
    )
    fields[FIELDS.index("stakeholder_champion")] |= {"corrected_at": kickoff_done + dt.timedelta(minutes=5)}
    rows = {"deals": deals, "onboarding_projects": projects, "handoff_fields": fields}
    day = dt.date(2026, 11, 6)
    assert firing("handoff.incomplete_at_submission", day, ruleset, **rows) == {
        "ENT": "info",
        "GONE": "info",
        "EXACT": "info",
        "LATE": "info",
    }
    assert firing("handoff.incomplete_before_kickoff", day, ruleset, **rows) == {
        "ENT": "high",
        "GONE": "high",
        "LATE": "high",
    }
    assert firing("handoff.no_success_criteria", day, ruleset, **rows) == {"LATE": "high"}
    assert firing("handoff.late_correction", day, ruleset, **rows) == {"SMB": "info"}


def test_acceptance_wait_and_owner_roles(ruleset):
    friday = at("2026-11-06T16:00:00")
    deals = [a_deal("OPP-1", friday, segment="mid_market")]
    waiting = {"handoff_submitted_at": friday, "handoff_accepted_at": None}
    projects = [
        a_project("WAIT", "OPP-1", friday, **waiting),
        a_project("DONE", "OPP-1", friday, status="completed", **waiting),
        a_project("PAUSED", "OPP-1", friday, status="paused", **waiting),
        a_project("REJECTED", "OPP-1", friday, handoff_accepted_at=None, handoff_rejected_at=friday),
    ]
    days = firing_days(
        "handoff.acceptance_wait",
        friday.date(),
        dt.date(2026, 11, 10),
        ruleset,
        deals=deals,
        onboarding_projects=projects,
    )
    assert {s: [d for d, _ in fired_on] for s, fired_on in days.items()} == {
        "WAIT": [dt.date(2026, 11, 9), dt.date(2026, 11, 10)],
        "PAUSED": [dt.date(2026, 11, 9), dt.date(2026, 11, 10)],
    }

    created = at("2026-11-02T10:00:00")
    roles = [
        a_project("NO-CSM", "OPP-1", created, csm_owner=None),
        a_project("INTEGRATION", "OPP-1", created, technical_owner=None),
        a_project("PLAIN", "OPP-1", created, technical_owner=None, finance_owner=None),
        a_project("PO", "OPP-PO", created, finance_owner=None),
        a_project("UNKNOWN", "OPP-GONE", created, technical_owner=None),
    ]
    items = [
        {
            "item_id": "ITM-1",
            "onboarding_id": "INTEGRATION",
            "item_type": "integration",
            "target_system": "hubspot",
            "status": "done",
            "created_at": created,
        }
    ]
    billing = [
        {
            "account_id": "ACC-OPP-PO",
            "po_required": True,
            "tax_id_required": False,
            "tax_id_status": "not_required",
            "updated_at": created,
        }
    ]
    rows = {
        "deals": [*deals, a_deal("OPP-PO", created)],
        "onboarding_projects": roles,
        "provisioning_items": items,
        "billing_accounts": billing,
    }
    days = firing_days("ownership.missing_role", START, dt.date(2026, 11, 4), ruleset, **rows)
    assert first_day(days) == {s: (dt.date(2026, 11, 4), "warn") for s in ("NO-CSM", "INTEGRATION", "PO", "UNKNOWN")}


def test_considered_project_is_the_earliest_non_cancelled_one(ruleset):
    created = at("2026-11-02T10:00:00")
    deals = [a_deal("OPP-1", created)]
    projects = [
        a_project("ONB-1", "OPP-1", created, project_id="PRJ-B", status="completed"),
        a_project("ONB-1", "OPP-1", created, project_id="PRJ-C", onboarding_owner=None, kickoff_no_shows=2),
        a_project("ONB-1", "OPP-1", created - dt.timedelta(days=1), project_id="PRJ-A", status="cancelled"),
        a_project("ONB-2", "OPP-1", created, project_id="PRJ-E", onboarding_owner=None, kickoff_reschedules=2),
        a_project("ONB-2", "OPP-1", created, project_id="PRJ-F", status="completed"),
    ]
    rows = {"deals": deals, "onboarding_projects": projects}
    day = dt.date(2026, 11, 10)
    assert firing("ownership.no_owner", day, ruleset, **rows) == {"ONB-2": "high"}
    assert firing("ownership.kickoff_churn", day, ruleset, **rows) == {"ONB-2": "warn"}
    tasks = [
        {
            "task_id": f"T-{onb}",
            "onboarding_id": onb,
            "task_type": "forms",
            "created_at": created,
            "due_at": created,
            "blocks_first_value": True,
        }
        for onb in ("ONB-1", "ONB-2", "ONB-3")
    ]
    assert firing("customer.task_blocks_first_value", day, ruleset, **rows, customer_tasks=tasks) == {
        "T-ONB-2": "high",
        "T-ONB-3": "high",
    }


def test_customer_tasks_at_their_edges(ruleset):
    tuesday = at("2026-11-03T09:00:00")
    deals = [a_deal("OPP-1", tuesday)]
    projects = [a_project("ONB-1", "OPP-1", tuesday), a_project("ONB-X", "OPP-1", tuesday, status="cancelled")]

    def task(task_id: str, **overrides) -> dict:
        return {
            "task_id": task_id,
            "onboarding_id": "ONB-1",
            "task_type": "forms",
            "created_at": tuesday,
            "blocks_first_value": False,
            "last_customer_response_at": tuesday,
        } | overrides

    tasks = [
        task("DUE-TODAY", due_at=at("2026-11-10T23:59:59")),
        task("DUE-MIDNIGHT", due_at=at("2026-11-11T00:00:00")),
        task("BLOCKING", due_at=tuesday, blocks_first_value=True, reason_code="waiting_on_customer_admin"),
        task("DONE", due_at=tuesday, completed_at=tuesday + dt.timedelta(days=1)),
        task("NO-DUE"),
        task("SILENT", last_customer_response_at=None, created_at=at("2026-11-03T12:00:00")),
        task("ORPHANED", onboarding_id="ONB-X", due_at=tuesday, last_customer_response_at=at("2026-11-09T08:00:00")),
    ]
    rows = {"deals": deals, "onboarding_projects": projects, "customer_tasks": tasks}
    day = dt.date(2026, 11, 10)
    assert firing("customer.task_overdue", day, ruleset, **rows) == {
        "DUE-TODAY": "warn",
        "BLOCKING": "warn",
        "ORPHANED": "warn",
    }
    assert firing("customer.task_blocks_first_value", day, ruleset, **rows) == {"BLOCKING": "high"}
    assert firing("customer.stalled_without_reason", day, ruleset, **rows) == {"DUE-TODAY": "warn", "ORPHANED": "warn"}
    assert set(firing("customer.no_response", day, ruleset, **rows)) == {
        "DUE-TODAY",
        "DUE-MIDNIGHT",
        "BLOCKING",
        "NO-DUE",
        "SILENT",
    }
    assert set(firing("customer.no_response", dt.date(2026, 11, 9), ruleset, **rows)) == set()


def test_milestone_grace_follows_the_segment_and_escalates_for_high_value(ruleset):
    monday = at("2026-11-02T10:00:00")
    shapes = {
        "SMB": {"segment": "smb"},
        "MM": {},
        "ENT": {"segment": "enterprise"},
        "SMB-STRAT": {"segment": "smb", "strategic": True},
    }
    deals = [a_deal(f"OPP-{name}", monday, **shape) for name, shape in shapes.items()]
    projects = [a_project(name, f"OPP-{name}", monday) for name in shapes]
    projects.append(a_project("DONE", "OPP-SMB", monday, status="completed"))
    milestones = [
        {"onboarding_id": name, "milestone": "implementation", "target_at": monday}
        for name in [*shapes, "DONE", "ABSENT"]
    ]
    milestones += [
        {"onboarding_id": "SMB", "milestone": "launch", "target_at": monday, "reason_code": "scope_mismatch"},
        {"onboarding_id": "SMB", "milestone": "configuration", "target_at": monday, "completed_at": monday},
        {"onboarding_id": "DONE", "milestone": "first_value", "completed_at": monday},
        {"onboarding_id": "SMB", "milestone": "first_value", "completed_at": monday, "evidence": "usage-report"},
    ]
    rows = {"deals": deals, "onboarding_projects": projects, "milestones": milestones}
    days = firing_days("customer.milestone_aged", START, dt.date(2026, 11, 10), ruleset, **rows)
    assert first_day(days) == {
        "SMB:implementation": (dt.date(2026, 11, 4), "warn"),
        "SMB:launch": (dt.date(2026, 11, 4), "warn"),
        "MM:implementation": (dt.date(2026, 11, 5), "warn"),
        "ENT:implementation": (dt.date(2026, 11, 9), "warn"),
        "ABSENT:implementation": (dt.date(2026, 11, 9), "warn"),
        "SMB-STRAT:implementation": (dt.date(2026, 11, 4), "high"),
    }
    stalled = firing("customer.stalled_without_reason", dt.date(2026, 11, 4), ruleset, **rows)
    assert stalled == {"SMB:implementation": "warn", "SMB-STRAT:implementation": "warn"}
    assert firing("customer.first_value_without_evidence", START, ruleset, **rows) == {"DONE": "warn"}
