"""No data, no verdict: broken exports never resolve findings, page anyone, or abort a load.

A small generated month is loaded day by day; one export is corrupted the way real
exports break, and the store must say "no verdict" for what read it, never "all clear".
"""

from __future__ import annotations

import datetime as dt
import shutil

import polars as pl
import psycopg
import pytest

from hypercare import cli
from hypercare.areas import AREAS
from hypercare.evaluate import evaluate_day
from hypercare.exports import MANIFEST_NAME, Manifest
from hypercare.loader import IncompleteSnapshot, load_snapshot
from hypercare.ruleset import load_ruleset
from hypercare.scorecard.config import scorecard_config
from hypercare.scorecard.data import compile_data
from hypercare.synth import generate

START = dt.date(2026, 11, 2)
DAYS = 4
BAD_DAY = START + dt.timedelta(days=2)
RULES = load_ruleset()
SOURCE_AREAS = [a for a in AREAS if a != "contract"]


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    generate(out, start=START, days=DAYS, customers=50, seed=3, ruleset=RULES)
    return out


@pytest.fixture
def source(month, tmp_path):
    """A private copy of the month, free to corrupt."""
    copy = tmp_path / "source"
    shutil.copytree(month, copy)
    return copy


def run(conn, source, days) -> None:
    for day in days:
        load_snapshot(conn, source, day, ruleset=RULES)
        evaluate_day(conn, day, RULES)


def resolved_on(conn, day: dt.date) -> int:
    return conn.execute(
        "select count(*) from hypercare.finding_events where event = 'resolved' and event_on = %s", (day,)
    ).fetchone()[0]


def resolved_notices(conn, day: dt.date) -> int:
    return conn.execute(
        "select count(*) from hypercare.alert_outbox where kind = 'resolved' and as_of = %s", (day,)
    ).fetchone()[0]


def lifecycle(conn) -> dict[str, list[tuple]]:
    """Finding state and events of the source areas, comparable across stores."""
    areas = SOURCE_AREAS
    return {
        "state": conn.execute(
            "select rule_id, subject_key, status, first_seen_on, last_seen_on, resolved_on, episodes "
            "from hypercare.finding_state where area = any(%s) order by 1, 2",
            (areas,),
        ).fetchall(),
        "events": conn.execute(
            "select s.rule_id, s.subject_key, e.event, e.event_on from hypercare.finding_events e "
            "join hypercare.finding_state s using (finding_id) where s.area = any(%s) order by 1, 2, 4, 3",
            (areas,),
        ).fetchall(),
    }


def without_manifest_check(folder) -> None:
    (folder / MANIFEST_NAME).unlink()


def corrupt(kind: str, folder) -> str:
    """Break deals.csv of `folder` the way `kind` says; returns what the message must name."""
    deals = folder / "deals.csv"
    text = deals.read_bytes()
    if kind == "latin-1 bytes":
        lines = text.split(b"\n")
        lines[0] = lines[0].replace(b"opportunity_id", b"opportunit\xe9_id")
        deals.write_bytes(b"\n".join(lines))
        return "line 1, byte"
    if kind == "semicolon delimiter":
        deals.write_bytes(text.replace(b",", b";"))
        return "semicolon-separated"
    if kind == "binary garbage":
        deals.write_bytes(bytes(range(256)) * 4)
        return "control characters"
    if kind == "empty file":
        deals.write_bytes(b"")
        return "empty file"
    if kind == "missing required column":
        frame = pl.read_csv(deals, infer_schema=False)
        frame.drop("segment").write_csv(deals)
        return "missing required column(s): segment"
    if kind == "duplicated header":
        header, rest = text.split(b"\n", 1)
        deals.write_bytes(header + b",arr\n" + rest)
        return "column 'arr' appears twice in the header"
    if kind == "a directory":
        deals.unlink()
        deals.mkdir()
        return "is a directory"
    if kind == "a symlink loop":
        deals.unlink()
        deals.symlink_to(folder / "deals.csv")
        return "unreadable"
    if kind == "wrong case":
        deals.rename(folder / "Deals.csv")
        return "Deals.csv: entity file names are lower case"
    if kind == "truncated against the manifest":
        deals.write_bytes(b"\n".join(text.split(b"\n")[:5]) + b"\n")
        return "says"
    if kind == "listed in the manifest but missing":
        deals.unlink()
        return "listed in _manifest.json"
    raise AssertionError(kind)


CORRUPTIONS = [
    "latin-1 bytes",
    "semicolon delimiter",
    "binary garbage",
    "empty file",
    "missing required column",
    "duplicated header",
    "a directory",
    "a symlink loop",
    "wrong case",
    "truncated against the manifest",
    "listed in the manifest but missing",
]


def test_a_good_day_resolves_findings_so_the_checks_below_can_fail(conn, source):
    run(conn, source, [START + dt.timedelta(days=i) for i in range(3)])
    assert resolved_on(conn, BAD_DAY) > 0
    assert resolved_notices(conn, BAD_DAY) > 0


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_every_broken_export_rejects_its_file_with_a_message(conn, source, kind):
    named = corrupt(kind, source / BAD_DAY.isoformat())
    report = load_snapshot(conn, source, BAD_DAY, ruleset=RULES)
    assert report["deals"].status == "rejected"
    assert named in report["deals"].message and "deals" in report["deals"].message.lower()
    assert report["onboarding_projects"].status == "loaded"
    with pytest.raises(IncompleteSnapshot, match="deals rejected"):
        report.raise_if_incomplete()


@pytest.mark.parametrize("kind", ["binary garbage", "wrong case", "listed in the manifest but missing"])
def test_a_rejected_file_gives_no_verdict_and_resolves_nothing(conn, source, kind):
    run(conn, source, [START, START + dt.timedelta(days=1)])
    named = corrupt(kind, source / BAD_DAY.isoformat())
    assert load_snapshot(conn, source, BAD_DAY, ruleset=RULES)["deals"].status == "rejected"

    summaries = {s.area: s for s in evaluate_day(conn, BAD_DAY, RULES)}
    assert {a for a, s in summaries.items() if s.no_verdict} == set(SOURCE_AREAS)
    assert summaries["contract"].no_verdict is None
    assert resolved_on(conn, BAD_DAY) == 0
    assert resolved_notices(conn, BAD_DAY) == 0
    rejected = conn.execute(
        "select subject_key, severity, evidence->>'message' from hypercare.finding_occurrences "
        "where as_of = %s and rule_id = 'contract.file_rejected'",
        (BAD_DAY,),
    ).fetchall()
    assert [(key, severity) for key, severity, _ in rejected] == [("deals", "high")]
    assert named in rejected[0][2]
    blocks = conn.execute(
        "select area, entities from hypercare.evaluation_blocks where as_of = %s order by area", (BAD_DAY,)
    ).fetchall()
    assert {area for area, _ in blocks} == set(SOURCE_AREAS)
    assert all(entities == ["deals"] for area, entities in blocks if area not in ("audit", "backlog"))
    card = compile_data(conn, BAD_DAY, RULES, scorecard_config(RULES))
    health = {h["key"]: h for h in card["health"]}
    assert health["trigger"]["status"] == "no verdict"
    assert health["trigger"]["signal"] == "no verdict: trigger not evaluated on complete inputs"
    # Its count is unknown, not zero: no number, no "better", no point on the trend line.
    assert (health["trigger"]["exceptions"], health["trigger"]["high"]) == (None, None)
    assert health["trigger"]["previous"] is not None and health["trigger"]["trend"][-1] is None
    assert health["trigger"]["trend"][-2] is not None
    assert "Trigger health" not in card["summary"]["changed"]


def test_a_blocked_day_leaves_the_lifecycle_as_if_it_never_ran(conn, source, reference_db_url, tmp_path):
    days = [START + dt.timedelta(days=i) for i in range(DAYS)]
    reference = tmp_path / "reference"
    shutil.copytree(source, reference)
    corrupt("binary garbage", source / BAD_DAY.isoformat())
    run(conn, source, days)
    with psycopg.connect(reference_db_url) as other:
        run(other, reference, [d for d in days if d != BAD_DAY])
        assert lifecycle(conn) == lifecycle(other)


def test_fixing_the_export_and_reloading_restores_the_verdict(conn, source, month):
    run(conn, source, [START, START + dt.timedelta(days=1)])
    corrupt("binary garbage", source / BAD_DAY.isoformat())
    run(conn, source, [BAD_DAY])
    shutil.copy(month / BAD_DAY.isoformat() / "deals.csv", source / BAD_DAY.isoformat() / "deals.csv")
    run(conn, source, [BAD_DAY])
    assert conn.execute("select count(*) from hypercare.evaluation_blocks").fetchone()[0] == 0
    assert resolved_on(conn, BAD_DAY) > 0
    assert not conn.execute(
        "select 1 from hypercare.finding_occurrences where rule_id = 'contract.file_rejected'"
    ).fetchall()


def test_a_day_evaluated_on_good_data_then_reloaded_broken_is_withdrawn(conn, source):
    run(conn, source, [START + dt.timedelta(days=i) for i in range(3)])
    assert resolved_on(conn, BAD_DAY) > 0
    corrupt("empty file", source / BAD_DAY.isoformat())
    run(conn, source, [BAD_DAY])
    assert resolved_on(conn, BAD_DAY) == 0
    assert resolved_notices(conn, BAD_DAY) == 0
    assert not conn.execute(
        "select 1 from hypercare.evaluation_runs where as_of = %s and area = 'trigger'", (BAD_DAY,)
    ).fetchall()


def drop_rows(folder, entity: str, keep_share: float, manifest: bool = True) -> int:
    path = folder / f"{entity}.csv"
    frame = pl.read_csv(path, infer_schema=False)
    kept = frame.head(int(frame.height * keep_share))
    kept.write_csv(path)
    if manifest:
        listed = Manifest.read(folder)
        Manifest(listed.snapshot_date, listed.rows | {path.name: kept.height}).write(folder)
    return kept.height


def test_a_volume_drop_is_held_until_accepted(conn, source):
    run(conn, source, [START, START + dt.timedelta(days=1)])
    drop_rows(source / BAD_DAY.isoformat(), "onboarding_projects", 0.3)

    report = load_snapshot(conn, source, BAD_DAY, ruleset=RULES)
    held = report["onboarding_projects"]
    assert held.status == "held"
    assert "held for review" in held.message and "--accept-drop onboarding_projects" in held.message
    summaries = {s.area: s for s in evaluate_day(conn, BAD_DAY, RULES)}
    assert summaries["trigger"].no_verdict == "onboarding_projects held"
    assert summaries["audit"].no_verdict.startswith("no verdict from ") and "trigger" in summaries["audit"].no_verdict
    assert resolved_on(conn, BAD_DAY) == 0
    assert conn.execute(
        "select subject_key from hypercare.finding_occurrences where as_of = %s and rule_id = 'contract.volume_drop'",
        (BAD_DAY,),
    ).fetchall() == [("onboarding_projects",)]

    # The next day is compared with the last day loaded in full, so the drop stays held.
    drop_rows(source / (BAD_DAY + dt.timedelta(days=1)).isoformat(), "onboarding_projects", 0.3)
    later = load_snapshot(conn, source, BAD_DAY + dt.timedelta(days=1), ruleset=RULES)
    assert later["onboarding_projects"].status == "held"

    accepted = load_snapshot(conn, source, BAD_DAY, ruleset=RULES, accept_drops=["onboarding_projects"], actor="ops")
    assert accepted["onboarding_projects"].status == "loaded"
    assert accepted["onboarding_projects"].message.startswith("volume drop accepted")
    assert conn.execute(
        "select actor, subject from hypercare.audit_log where action = 'volume_drop.accepted'"
    ).fetchall() == [("ops", f"onboarding_projects@{BAD_DAY}")]
    assert all(s.no_verdict is None for s in evaluate_day(conn, BAD_DAY, RULES))


def test_an_absent_file_without_manifest_after_a_day_with_rows_is_held(conn, source):
    run(conn, source, [START, START + dt.timedelta(days=1)])
    folder = source / BAD_DAY.isoformat()
    without_manifest_check(folder)
    (folder / "customer_tasks.csv").unlink()
    report = load_snapshot(conn, source, BAD_DAY, ruleset=RULES)
    assert report["customer_tasks"].status == "held"
    assert report["customer_tasks"].rows_read == 0


def test_an_entity_with_no_rows_yet_is_still_no_rows(conn, tmp_path):
    """The contract: an absent file means "no rows"; with nothing before it, nothing is held."""
    from tests.test_loader import write_all_entities

    write_all_entities(tmp_path, START)
    (tmp_path / START.isoformat() / "writebacks.csv").unlink()
    report = load_snapshot(conn, tmp_path, START, ruleset=RULES)
    assert report["writebacks"].status == "absent"
    assert report.unusable == ()


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b"{not json", "cannot be read as UTF-8 JSON"),
        (b'{"snapshot_date": "2026-11-03", "files": []}', "does not match the folder"),
        (b'{"snapshot_date": "2026-11-02", "files": [{"name": "deals.csv", "rows": -1}]}', "whole number >= 0"),
        (b'{"snapshot_date": "2026-11-02"}', "expected {'snapshot_date'"),
    ],
)
def test_an_untrustworthy_manifest_rejects_every_entity(conn, source, manifest, reason):
    (source / START.isoformat() / MANIFEST_NAME).write_bytes(manifest)
    report = load_snapshot(conn, source, START, ruleset=RULES)
    assert {e.status for e in report} == {"rejected"}
    assert all(reason in e.message and "cannot be trusted" in e.message for e in report)


def test_unknown_files_are_warned_about(conn, source):
    folder = source / START.isoformat()
    (folder / "deal.csv").write_text("opportunity_id\nX\n")
    report = load_snapshot(conn, source, START, ruleset=RULES)
    assert f"{START}/deal.csv: not an entity file of the contract; ignored" in report.warnings
    assert "warning: " in report.summary()


def test_cli_load_exits_non_zero_on_an_incomplete_snapshot(conn, db_url, source, capsys):
    corrupt("semicolon delimiter", source / START.isoformat())
    code = cli.main(["--db", db_url, "load", "--source", str(source), "--date", START.isoformat()])
    out = capsys.readouterr()
    assert code == 3
    assert "deals" in out.out and "rejected" in out.out
    assert "incomplete snapshot(s) 2026-11-02" in out.err
    statuses = dict(conn.execute("select entity, status from hypercare.load_runs").fetchall())
    assert statuses["deals"] == "rejected" and statuses["onboarding_projects"] == "loaded"


def test_evaluate_range_keeps_every_finished_day_when_a_later_one_fails(db_url, source, capsys):
    for day in (START, START + dt.timedelta(days=1)):
        assert cli.main(["--db", db_url, "load", "--source", str(source), "--date", day.isoformat()]) == 0
    last = START + dt.timedelta(days=2)  # not loaded: the range stops there
    code = cli.main(["--db", db_url, "evaluate", "--from", START.isoformat(), "--to", last.isoformat()])
    assert code == 2
    assert "snapshot 2026-11-04 is not loaded" in capsys.readouterr().err
    with psycopg.connect(db_url) as fresh:
        runs = fresh.execute("select as_of, count(*) from hypercare.evaluation_runs group by 1 order by 1").fetchall()
    assert runs == [(START, len(AREAS)), (START + dt.timedelta(days=1), len(AREAS))]
