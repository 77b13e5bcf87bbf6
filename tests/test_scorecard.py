"""The scorecard of a generated hypercare month: its numbers against the generator's ground
truth, its archive, the email as a real SMTP server receives it, and the HTML file as
headless Chromium renders it."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import email
import html
import io
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from email import policy
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from PIL import Image

from hypercare import db
from hypercare.areas import AREAS
from hypercare.cli import main
from hypercare.demo import truth_agreement
from hypercare.scorecard import data as data_module
from hypercare.scorecard.build import (
    ScorecardMonth,
    archive_scorecard,
    compile_and_archive,
    compile_scorecard,
)
from hypercare.scorecard.charts import CHART_COLORS
from hypercare.scorecard.config import scorecard_config
from hypercare.scorecard.data import compile_data
from hypercare.scorecard.health import HEALTH_AREAS
from tests.loopback import MailSink
from tests.scorecard_month import DAYS, RULES, START

CONFIG = scorecard_config(RULES)
REVIEW_DAY = dt.date(2026, 11, 16)  # day 15, Monday: twice-weekly send with the review pack
QUIET_DAY = dt.date(2026, 11, 19)  # day 18, Thursday: archived, not sent
PREVIOUS = {REVIEW_DAY: dt.date(2026, 11, 12), QUIET_DAY: REVIEW_DAY}


def _database(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def scorecards(month) -> dict:
    """The two scorecards most tests read, compiled (with charts) once."""
    with db.connect(month["url"]) as conn:
        return {day: compile_scorecard(conn, day, RULES) for day in (REVIEW_DAY, QUIET_DAY)}


@pytest.fixture
def store(month):
    with db.connect(month["url"]) as conn:
        yield conn


@pytest.fixture(scope="module")
def truth(month) -> list[dict]:
    """The generator's ground truth; the store must agree with it (as test_month checks),
    else no scorecard number could."""
    truth_file = month["source"] / "ground_truth.csv"
    with db.connect(month["url"]) as conn:
        agreement = truth_agreement(conn, truth_file, list(AREAS))
    disagreeing = sorted({r["rule_id"] for r in (*agreement.missed.to_dicts(), *agreement.unexpected.to_dicts())})
    assert agreement.exact, f"the monitor disagrees with the ground truth on {disagreeing}"
    with truth_file.open() as handle:
        return list(csv.DictReader(handle))


def truth_counts(truth: list[dict], day: dt.date) -> Counter:
    """(rule_id, severity) -> findings the generator says a correct monitor reports on `day`."""
    return Counter((r["rule_id"], r["severity"]) for r in truth if r["as_of"] == day.isoformat())


def exceptions(counts: Counter, rules=None) -> int:
    """Findings of warn and above, of the given exact rule ids or id prefixes (all when None)."""
    return sum(
        n
        for (rule_id, severity), n in counts.items()
        if severity != "info" and (rules is None or any(rule_id == r or rule_id.startswith(r + ".") for r in rules))
    )


@pytest.fixture
def inbox():
    with MailSink() as sink:
        yield sink, sink.port


# -- numbers ------------------------------------------------------------------------------
@pytest.mark.parametrize("day", [REVIEW_DAY, QUIET_DAY], ids=str)
def test_numbers_match_the_ground_truth(scorecards, truth, day):
    data = scorecards[day].data
    today, before = truth_counts(truth, day), truth_counts(truth, PREVIOUS[day])
    assert data["previous_as_of"] == PREVIOUS[day].isoformat()

    by_rule = {(r["rule_id"], r["severity"]): r["findings"] for r in data["findings_by_rule"] if r["findings"]}
    assert by_rule == dict(today)
    previous_by_rule = {(r["rule_id"], r["severity"]): r["previous"] for r in data["findings_by_rule"] if r["previous"]}
    assert previous_by_rule == dict(before)

    for area, counts in data["findings_by_area"].items():
        assert counts["findings"] == sum(n for (rule_id, _), n in today.items() if rule_id.startswith(f"{area}."))
        assert counts["exceptions"] == exceptions(today, [area])
        assert counts["previous"] == exceptions(before, [area])

    widgets = {w["id"]: w for w in data["widgets"]}
    assert widgets["exceptions_by_reason"]["value"] == exceptions(today)
    assert widgets["exceptions_by_reason"]["previous"] == exceptions(before)
    assert sum(r["high"] for r in data["exceptions_by_reason"]) == sum(
        n for (_, severity), n in today.items() if severity in ("high", "critical")
    )
    assert widgets["projects_and_missed"]["value"] == exceptions(today, ["trigger.missed_eligible"])
    assert widgets["projects_and_missed"]["previous"] == exceptions(before, ["trigger.missed_eligible"])
    assert widgets["billing_blockers"]["value"] == exceptions(today, ["billing.blocks_invoice_or_launch"])
    assert widgets["provisioning_failures"]["value"] == exceptions(today, ["provisioning.failed"])
    assert widgets["overdue_tasks"]["value"] == exceptions(today, ["customer.task_overdue"])
    assert widgets["failed_writebacks"]["value"] == exceptions(today, ["writeback.failed"])

    for line in data["health"]:
        area = next(a for a in HEALTH_AREAS if a.key == line["key"])
        expected = sum(n for (r, s), n in today.items() if s != "info" and area.covers(r))
        high = sum(n for (r, s), n in today.items() if s in ("high", "critical") and area.covers(r))
        previous = sum(n for (r, s), n in before.items() if s != "info" and area.covers(r))
        assert (line["exceptions"], line["high"], line["previous"]) == (expected, high, previous), line["area"]
        assert line["status"] == ("red" if high else "amber" if expected else "green")


@pytest.mark.parametrize("day", [REVIEW_DAY, QUIET_DAY], ids=str)
def test_fixes_cover_every_exception_and_are_ranked_by_impact(scorecards, truth, day):
    data = scorecards[day].data
    today = truth_counts(truth, day)
    per_rule = Counter()
    for fix in data["fixes"]:
        per_rule[fix["rule_id"]] += fix["findings"]
        assert fix["kind"] in CONFIG.fix_kinds and fix["kind_label"] == CONFIG.fix_kinds[fix["kind"]]
        assert fix["reason_code"] and fix["owner_roles"]
        assert 0 <= fix["oldest_days"] <= (day - START).days
    assert dict(per_rule) == {rule: exceptions(today, [rule]) for rule, _ in today if exceptions(today, [rule])}
    scores = [f["score"] for f in data["fixes"]]
    assert scores == sorted(scores, reverse=True)
    assert [f["rank"] for f in data["fixes"]] == list(range(1, len(scores) + 1))
    top = next(w for w in data["widgets"] if w["id"] == "top_fixes")
    assert [row[0] for row in top["table"]["rows"]] == [1, 2, 3]


@pytest.mark.parametrize("day", [REVIEW_DAY, QUIET_DAY], ids=str)
def test_stable_state_evidence_matches_the_ground_truth(scorecards, truth, day):
    verdict = scorecards[day].data["verdict"]
    today, before = truth_counts(truth, day), truth_counts(truth, PREVIOUS[day])
    questions = {q["number"]: q for q in verdict["questions"]}
    assert len(questions) == 10

    def value(number: int, check: int = 0):
        return questions[number]["checks"][check]["value"]

    assert value(3) == exceptions(today, ["ownership.no_owner"])
    sensitive = [
        "billing.unreviewed_change",
        "provisioning.override_unapproved",
        "ai.sensitive_change_unapproved",
        "ai.sensitive_access_unlogged",
    ]
    assert value(4) == exceptions(today, sensitive)
    unreviewed = ["ai.customer_email_unreviewed", "ai.sensitive_change_unapproved", "ai.low_confidence_routed"]
    assert value(7, 1) == exceptions(today, unreviewed)
    assert value(8) == exceptions(today, ["writeback.failed", "writeback.drift"])
    assert value(9, 1) == exceptions(today, ["customer.first_value_without_evidence"])
    growth = (exceptions(today) - exceptions(before)) / exceptions(before)
    assert value(10) == pytest.approx(growth)
    for q in verdict["questions"]:
        assert q["strong"] == all(c["ok"] for c in q["checks"])
        unmeasured_only = not q["strong"] and all(c["ok"] or not c["measured"] for c in q["checks"])
        assert q["answer"] == ("strong" if q["strong"] else "not enough data yet" if unmeasured_only else "weak")
    weak = sum(q["answer"] == "weak" for q in verdict["questions"])
    unmeasured = sum(q["answer"] == "not enough data yet" for q in verdict["questions"])
    assert verdict["weak"] == weak
    assert verdict["expand_automation"] is (weak < 2 and not unmeasured)
    assert ("Do not expand automation" in verdict["message"]) is (not verdict["expand_automation"])


def test_durations_are_percentiles_never_an_average(scorecards):
    data = scorecards[REVIEW_DAY].data
    for name, rows in data["durations"].items():
        assert [r["label"] for r in rows] == ["All", "enterprise", "mid market", "smb", "High value"], name
        assert all(set(r) == {"label", "p50", "p90"} for r in rows)
    owner = data["durations"]["time_to_owner"][0]
    assert owner["p50"] is not None and owner["p50"] <= owner["p90"]
    assert "avg" not in str(data).lower() and "average" not in str(data["widgets"]).lower()


def test_control_loop_places_every_open_customer_once(scorecards, store, truth):
    data = scorecards[REVIEW_DAY].data
    loop = data["control_loop"]
    stages = {s["stage"]: s for s in loop["stages"]}
    assert list(stages) == [
        "capture",
        "validate",
        "assign",
        "provision",
        "customer_tasks",
        "escalate",
        "write_back",
        "measure_value",
    ]
    assert all(0 <= s["stuck"] <= s["customers"] for s in stages.values())
    (open_projects,) = store.execute(
        "select count(*) from hypercare.landing_onboarding_projects "
        "where snapshot_date = %s and status in ('active', 'paused')",
        (REVIEW_DAY,),
    ).fetchone()
    placed = sum(s["customers"] for s in stages.values()) + loop["value_reached"]
    assert placed == open_projects + stages["capture"]["customers"]
    missed = exceptions(truth_counts(truth, REVIEW_DAY), ["trigger.missed_eligible"])
    assert stages["capture"]["stuck"] >= missed > 0


def test_weekly_review_pack_only_on_review_days(scorecards):
    review = scorecards[REVIEW_DAY].data
    quiet = scorecards[QUIET_DAY].data
    assert (review["send_day"], review["review_day"]) == (True, True)
    assert (quiet["send_day"], quiet["review_day"]) == (False, False)
    assert quiet["review"] is None
    slots = review["review"]["slots"]
    assert [s["minutes"] for s in slots] == ["0-5", "5-10", "10-15", "15-20", "20-25", "25-30"]
    assert all(s["items"] for s in slots)
    assert review["verdict"]["message"] in slots[0]["items"]
    assert any(review["fixes"][0]["rule_name"] in item for item in slots[-1]["items"])
    assert any(review["next_review"] in item for item in slots[-1]["items"]), "each fix is due by the next review"


def test_a_second_connection_reads_beside_only_an_idle_one_and_changes_nothing(month, monkeypatch):
    """On a connection without an open transaction the control loop and the forecasts are
    read on a second connection; inside a caller's transaction (whose rows a second
    connection could not see) everything is read on the caller's. The scorecard is the same."""
    opened = []
    original = data_module.sibling
    monkeypatch.setattr(data_module, "sibling", lambda conn: opened.append(conn) or original(conn))
    with db.connect(month["url"], autocommit=True) as conn:
        beside = compile_data(conn, REVIEW_DAY, RULES, CONFIG)
        assert len(opened) == 1
        with conn.transaction():
            inline = compile_data(conn, REVIEW_DAY, RULES, CONFIG)
        assert len(opened) == 1
    assert beside == inline
    assert beside["control_loop"]["stages"] and beside["fixes"]


def test_dashboard_has_fewer_than_15_widgets_with_or_without_alerting(month):
    clone = f"{month['name']}_noalerts"
    with psycopg.connect(month["admin"], autocommit=True) as admin:
        admin.execute(f'create database "{clone}" template "{month["name"]}"')
    try:
        with db.connect(_database(month["admin"], clone)) as conn:
            with_view = compile_data(conn, REVIEW_DAY, RULES, CONFIG)
            conn.execute("drop view if exists hypercare.alert_quality")
            conn.commit()
            without_view = compile_data(conn, REVIEW_DAY, RULES, CONFIG)
    finally:
        with psycopg.connect(month["admin"], autocommit=True) as admin:
            admin.execute(f'drop database if exists "{clone}" with (force)')
    ids = [w["id"] for w in with_view["widgets"]]
    assert "alert_quality" in ids and len(ids) < 15
    assert without_view["alert_quality"] is None
    assert [w["id"] for w in without_view["widgets"]] == [i for i in ids if i != "alert_quality"]


def test_rule_set_version_is_named_and_unevaluated_days_are_refused(scorecards, store):
    data = scorecards[REVIEW_DAY].data
    assert data["rule_versions"] == [RULES.version]
    assert data["areas_missing"] == []
    with pytest.raises(LookupError, match="no evaluation runs"):
        compile_data(store, START + dt.timedelta(days=DAYS), RULES, CONFIG)


# -- archive, email, file -----------------------------------------------------------------
def test_archive_replaces_its_own_row(scorecards, store):
    first = scorecards[QUIET_DAY]
    archive_scorecard(store, first)
    archive_scorecard(store, first)
    rows = store.execute(
        "select as_of, send_day, review_day, rule_versions, data, html, text_body from hypercare.scorecards "
        "where as_of = %s",
        (QUIET_DAY,),
    ).fetchall()
    assert len(rows) == 1
    as_of, send_day, review_day, versions, data, html, text = rows[0]
    assert (as_of, send_day, review_day, versions) == (QUIET_DAY, False, False, [RULES.version])
    assert data["widgets"] == first.data["widgets"]
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "cid:" not in html
    assert RULES.version in html and RULES.version in text


def test_month_writes_every_day_with_charts_drawn_in_parallel_as_drawn_alone(month, store, tmp_path):
    days = [REVIEW_DAY - dt.timedelta(days=1), REVIEW_DAY, QUIET_DAY]
    with ScorecardMonth(month["url"], RULES, tmp_path) as scorecards:
        for day in days:
            scorecards.add(day)
        lines = scorecards.finish()
    assert lines[0].startswith("scorecards: 3 written")
    assert sorted(p.name for p in (tmp_path / "scorecards").iterdir()) == [f"{d}.html" for d in days]
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1  # of the three, only day 15 is a send day
    alone = compile_scorecard(store, REVIEW_DAY, RULES)
    archived = store.execute("select data from hypercare.scorecards where as_of = %s", (REVIEW_DAY,)).fetchone()[0]
    assert archived["widgets"] == json.loads(json.dumps(alone.data["widgets"], default=str))
    written = (tmp_path / "scorecards" / f"{REVIEW_DAY}.html").read_text()
    assert written.count("data:image/png;base64,") == len(alone.images) > 0


def _cids(html: str) -> set[str]:
    return set(re.findall(r'src="cid:([^"]+)"', html))


def test_cli_sends_the_email_a_real_smtp_server_receives(month, store, inbox, tmp_path, monkeypatch):
    handler, port = inbox
    monkeypatch.setenv("HYPERCARE_SMTP_URL", f"smtp://127.0.0.1:{port}")
    out = tmp_path / "scorecard.html"
    argv = ["--db", month["url"], "scorecard", "--date", REVIEW_DAY.isoformat(), "--send", "--out", str(out)]
    assert main(argv) == 0
    assert main(["--db", month["url"], "scorecard", "--date", QUIET_DAY.isoformat(), "--send"]) == 0
    assert len(handler.envelopes) == 1, "only the send day goes out"

    envelope = handler.envelopes[0]
    assert sorted(envelope.rcpt_tos) == sorted(CONFIG.all_recipients)
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"].startswith(f"Hypercare scorecard {REVIEW_DAY}")
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain" and "STABLE-STATE VERDICT" in plain.get_content()
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.get_payload()
    html = html_part.get_content()
    assert html_part.get_content_type() == "text/html" and "<script" not in html.lower()
    attached = {part["Content-ID"].strip("<>"): part for part in images}
    assert attached and all(part.get_content_type() == "image/png" for part in attached.values())
    assert _cids(html) == set(attached), "every image is referenced by cid and every cid is attached"
    for part in attached.values():
        assert part.get_content_disposition() == "inline"
        assert Image.open(io.BytesIO(part.get_content())).size[0] == 1280  # shown at 640 px, drawn at 2x
    assert "Review pack: 30 minutes" in html

    (sent_at, sent_to) = store.execute(
        "select sent_at, sent_to from hypercare.scorecards where as_of = %s", (REVIEW_DAY,)
    ).fetchone()
    assert sent_at is not None and sorted(sent_to) == sorted(CONFIG.all_recipients)
    compile_and_archive(store, REVIEW_DAY, RULES)
    assert store.execute("select sent_at from hypercare.scorecards where as_of = %s", (REVIEW_DAY,)).fetchone() == (
        sent_at,
    ), "recompiling keeps the delivery record"
    standalone = out.read_text()
    assert "cid:" not in standalone and standalone.count("data:image/png;base64,") == len(attached)


# -- the file in a browser ----------------------------------------------------------------
def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("HYPERCARE_REQUIRE_BROWSER") == "1":
        pytest.fail("chromium is required (HYPERCARE_REQUIRE_BROWSER=1) but not installed")
    return found


def _screenshot(browser: str, page: Path, shot: Path, profile: Path) -> Image.Image:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,3000",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Image.open(shot).convert("RGB")


def _chart_pixels(image: Image.Image) -> Counter:
    """Pixels per chart colour (within a small tolerance); the page's own CSS uses none of them."""
    palette = {name: tuple(int(code[i : i + 2], 16) for i in (1, 3, 5)) for name, code in CHART_COLORS.items()}
    counts = Counter()
    for n, pixel in image.getcolors(maxcolors=1 << 24):
        for name, rgb in palette.items():
            if all(abs(a - b) <= 6 for a, b in zip(pixel, rgb, strict=True)):
                counts[name] += n
    return counts


def test_html_file_renders_with_its_charts_in_headless_chromium(scorecards, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (set HYPERCARE_REQUIRE_BROWSER=1 to require it)")
    page = scorecards[REVIEW_DAY].write_html(tmp_path / "scorecard.html")
    image = _screenshot(browser, page, tmp_path / "scorecard.png", tmp_path / "profile")
    assert image.size == (1200, 3000)
    assert len(image.getcolors(maxcolors=1 << 24)) > 500, "a blank or broken page has few colours"
    charts = _chart_pixels(image)
    assert charts["blue"] > 3000 and charts["orange"] > 500 and charts["rose"] > 300, charts

    bare = tmp_path / "no-charts.html"
    bare.write_text(re.sub(r'src="data:image/png;base64,[^"]+"', 'src=""', page.read_text()))
    without = _chart_pixels(_screenshot(browser, bare, tmp_path / "no-charts.png", tmp_path / "profile2"))
    assert sum(without.values()) < 50, "the chart colours on the page come from the charts"


# -- the email on a phone and a desktop ---------------------------------------------------
EMAIL_HTML_BUDGET = 90 * 1024  # Gmail clips messages over about 102 KB; keep a margin
LAYOUT_PROBE = """<script>
(function () {
  var width = document.documentElement.clientWidth, over = [];
  document.querySelectorAll("body *").forEach(function (e) {
    var box = e.getBoundingClientRect();
    if (box.width && box.right > width + 0.5) over.push(e.tagName + " " + (e.textContent || "").trim().slice(0, 60));
  });
  document.body.setAttribute("data-layout", JSON.stringify(
    {width: width, scroll: document.documentElement.scrollWidth, over: over.slice(-5)}));
})();
</script>"""


def _layout_at(browser: str, page_html: str, width: int, tmp_path: Path) -> dict:
    """Lay the email out in a frame `width` px wide (headless windows cannot be narrower than
    about 500 px) and report its scroll width and the elements that stick out on the right."""
    framed = html.escape(page_html.replace("</body>", LAYOUT_PROBE + "</body>"))
    wrapper = tmp_path / f"frame-{width}.html"
    wrapper.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe id="mail" style="border:0;width:{width}px;'
        f'height:40000px" srcdoc="{framed}"></iframe><script>document.getElementById("mail").addEventListener('
        '"load", function () { document.body.setAttribute("data-layout", '
        'this.contentDocument.body.getAttribute("data-layout")); });</script></body></html>'
    )
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / f'profile-{width}'}",
            "--window-size=1400,2000",
            "--dump-dom",
            wrapper.as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    found = re.findall(r'data-layout="([^"]*)"', dom)
    assert found, "the layout probe did not run"
    return json.loads(html.unescape(found[-1]))


@pytest.mark.parametrize("day", [REVIEW_DAY, QUIET_DAY])
def test_email_fits_the_size_budget_and_reflows_at_375_and_1280_px(scorecards, day, tmp_path):
    scorecard = scorecards[day]
    message = scorecard.message()
    email_html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_content()
    assert len(email_html.encode("utf-8")) < EMAIL_HTML_BUDGET
    assert "white-space:nowrap" not in email_html
    for status in ("RED", "AMBER", "GREEN"):
        assert f">{status}</span>" in email_html, "each colour has its text label"
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (set HYPERCARE_REQUIRE_BROWSER=1 to require it)")
    for width in (375, 1280):
        layout = _layout_at(browser, scorecard.standalone_html, width, tmp_path)
        assert layout["width"] == width
        assert layout["scroll"] <= width and not layout["over"], (width, layout)


# -- due soon, legend and journey links -------------------------------------------------
def test_due_soon_lists_the_forecast_per_role_with_arr_once_per_deal(scorecards, store):
    due = scorecards[QUIET_DAY].data["due_soon"]
    assert due["horizon"] == "2026-11-20"
    forecast = store.execute(
        "select f.finding_id, role, f.opportunity_id from hypercare.finding_forecasts f, unnest(f.owner_roles) role "
        "where f.as_of = %s and f.change = 'opens'",
        (QUIET_DAY,),
    ).fetchall()
    assert forecast and due["findings"] == len({finding for finding, _, _ in forecast})
    per_role = Counter(role for _, role, _ in forecast)
    assert {r["owner_role"]: r["findings"] for r in due["roles"]} == dict(per_role)
    deals = dict(
        store.execute(
            "select opportunity_id, arr from hypercare.landing_deals where snapshot_date = %s", (QUIET_DAY,)
        ).fetchall()
    )
    for role in due["roles"]:
        opportunities = {opp for _, r, opp in forecast if r == role["owner_role"] and opp in deals}
        if len(opportunities) == sum(1 for _, r, opp in forecast if r == role["owner_role"]):
            assert role["arr"] == pytest.approx(sum(float(deals[o]) for o in opportunities))
    email_html = scorecards[QUIET_DAY].standalone_html
    assert "Due within the next business day" in email_html
    assert due["roles"][0]["owner"] in email_html


def test_legend_states_the_thresholds_of_the_settings(month):
    content = json.loads(json.dumps(RULES.content, default=str))
    content["scorecard"]["health_status"] = {"red_min_high": 3, "amber_min_exceptions": 5}
    ruleset = dataclasses.replace(RULES, content=content)
    with db.connect(month["url"]) as conn:
        data = compile_data(conn, QUIET_DAY, ruleset, scorecard_config(ruleset))
    assert data["health_legend"]["red"] == "3 or more high or critical exceptions open"
    assert data["health_legend"]["amber"] == "fewer than 3 high, and 5 or more exceptions (warn and above)"
    for line in data["health"]:
        if line["status"] != "no verdict":
            expected = "red" if line["high"] >= 3 else "amber" if line["exceptions"] >= 5 else "green"
            assert line["status"] == expected, line
    with db.connect(month["url"]) as conn:
        scorecard = compile_scorecard(conn, QUIET_DAY, ruleset)
    assert "RED: 3 or more high or critical exceptions open" in scorecard.text()
    assert "fewer than 3 high, and 5 or more exceptions (warn and above)" in scorecard.standalone_html


def test_accounts_link_to_their_journey_only_with_a_ui_base_url(scorecards, month):
    fixes = scorecards[REVIEW_DAY].data["fixes"]
    linked = [a for f in fixes for a in f["accounts"] if a["onboarding_id"]]
    assert linked
    for account in linked:
        assert account["journey_link"] == f"http://localhost:8080/hypercare/journeys/{account['onboarding_id']}"
    assert f'href="{linked[0]["journey_link"]}"' in scorecards[REVIEW_DAY].standalone_html
    content = json.loads(json.dumps(RULES.content, default=str))
    content["alerting"]["airflow_base_url"] = ""
    ruleset = dataclasses.replace(RULES, content=content)
    with db.connect(month["url"]) as conn:
        data = compile_data(conn, REVIEW_DAY, ruleset, scorecard_config(ruleset))
    assert all(a["journey_link"] is None for f in data["fixes"] for a in f["accounts"])
    assert all(i["journey_link"] is None for r in data["due_soon"]["roles"] for i in r["items"])
