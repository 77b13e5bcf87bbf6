"""Debian chromium against a running Airflow API server with the Hypercare plugin: log in
through Airflow's own login page, open Findings, filter, open a journey, acknowledge, create
and expire a silence, and check the audit log, the finding's status and the silence in the
store. Screenshots of every page are saved under the test's tmp dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from hypercare import db
from tests.dags.ui_store import evaluated_store, open_finding
from tests.loopback import free_port, stop_process_group

PASSWORD = "hypercare-browser"
STARTUP_SECONDS = 120
WAIT_MS = 15_000


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("HYPERCARE_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required (HYPERCARE_REQUIRE_BROWSER=1) but not installed")
        pytest.skip("chromium is not installed (set HYPERCARE_REQUIRE_BROWSER=1 to require it)")
    return found


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture(scope="module")
def server(pg_admin_url, airflow_db, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """`airflow api-server` with this project's plugins, one worker, users from a passwords file."""
    work = tmp_path_factory.mktemp("ui-browser")
    with evaluated_store(pg_admin_url, work / "source") as store:
        passwords = work / "passwords.json"
        passwords.write_text(json.dumps({"alice": PASSWORD}))
        port = free_port()
        env = {
            **os.environ,
            "HYPERCARE_DB_URL": store,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "alice:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        }
        env.pop("AIRFLOW_CONN_HYPERCARE_DB", None)
        log = work / "api-server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while _status(f"{base}/api/v2/monitor/health") != 200:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the API server did not start:\n{log.read_text()[-4000:]}")
                time.sleep(1)
            yield base, store
        finally:
            stop_process_group(process)


def test_unauthenticated_requests_are_refused(server):
    base, _ = server
    assert _status(f"{base}/hypercare/findings") == 401
    assert _status(f"{base}/hypercare/runs") == 401


def test_log_in_filter_open_a_journey_and_acknowledge(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base, store = server
    finding_id, onboarding_id = open_finding(store)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{base}/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", PASSWORD)
            page.screenshot(path=shots / "0-login.png")
            page.locator("button[type=submit]").click()
            page.wait_for_url(lambda url: "/auth/login" not in url)
            page.wait_for_selector("text=Hypercare")
            page.get_by_text("Hypercare", exact=True).first.click()
            page.frame_locator("iframe").locator("h1", has_text="Findings").wait_for()
            page.screenshot(path=shots / "1-airflow-nav.png", full_page=True)

            page.goto(f"{base}/hypercare/findings")
            page.select_option("select[name=status]", "open")
            page.click("button:has-text('Filter')")
            page.wait_for_url("**status=open**")
            assert set(page.locator("td.status").all_inner_texts()) == {"open"}
            page.screenshot(path=shots / "2-findings-open.png", full_page=True)

            page.goto(f"{base}/hypercare/findings?onboarding_id={onboarding_id}")
            page.locator("a.journey").first.click()
            page.wait_for_selector("table.waterfall")
            page.screenshot(path=shots / "3-journey.png", full_page=True)

            page.locator(f"a.finding[href$='{finding_id}']").first.click()
            page.fill("input[name=note]", "looking into it")
            page.click("#acknowledge")
            page.wait_for_selector("h1 .status:has-text('acknowledged')")
            page.screenshot(path=shots / "4-acknowledged.png", full_page=True)

            page.goto(f"{base}/hypercare/silences")
            page.fill("input[name=rule_id]", "ownership.no_owner")
            page.fill("input[name=reason]", "migration window")
            page.click("button:has-text('Create silence')")
            page.locator("td", has_text="migration window").wait_for()
            page.click("button:has-text('Expire now')")
            page.wait_for_selector("button:has-text('Expire now')", state="detached")
            page.screenshot(path=shots / "5-silences.png", full_page=True)

            page.goto(f"{base}/hypercare/runs")
            assert page.inner_text("#chain") == "chain verified"
            assert "expire_silence" in page.locator("table.audit").inner_text()
            page.locator("table.days summary").first.click()
            page.screenshot(path=shots / "6-runs-audit.png", full_page=True)
            page.goto(f"{base}/hypercare/scorecards")
            page.locator("a.scorecard").first.click()
            page.screenshot(path=shots / "7-scorecard.png", full_page=True)
        finally:
            browser.close()
    with db.connect(store) as conn:
        status = conn.execute("select status from hypercare.findings where finding_id = %s", (finding_id,)).fetchone()
        audit = conn.execute(
            "select actor, action, subject, details->>'note' from hypercare.audit_log "
            "where action = 'acknowledge' order by seq desc limit 1"
        ).fetchone()
        silence = conn.execute(
            "select author, ends_at <= now() from hypercare.alert_silences where reason = 'migration window'"
        ).fetchone()
    assert status == ("acknowledged",)
    assert audit == ("alice", "acknowledge", f"finding:{finding_id}", "looking into it")
    assert silence == ("alice", True)
    assert sorted(path.name for path in shots.iterdir())[-1] == "7-scorecard.png"
