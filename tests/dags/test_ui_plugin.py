"""The Hypercare plugin inside Airflow's own API server app: real auth manager, real JWTs,
real PostgreSQL audit store with a small evaluated month."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import uuid

import pytest

from hypercare import db
from tests.dags.ui_store import DAYS, START, evaluated_store, open_finding

USERS = "alice:admin,victor:viewer"


@pytest.fixture(scope="module")
def store(pg_admin_url, tmp_path_factory):
    with evaluated_store(pg_admin_url, tmp_path_factory.mktemp("ui-source")) as url:
        yield url


@pytest.fixture(scope="module")
def client(store, airflow_db):
    """Airflow's API server app (plugins mounted as `airflow api-server` mounts them)."""
    from fastapi.testclient import TestClient

    patch = pytest.MonkeyPatch()
    patch.setenv("HYPERCARE_DB_URL", store)
    patch.delenv("AIRFLOW_CONN_HYPERCARE_DB", raising=False)
    patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", USERS)
    patch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    from airflow.api_fastapi.app import create_app
    from hypercare_ui import ui_app

    ui_app._store_url.cache_clear()
    with TestClient(create_app(), base_url="http://localhost:8080") as test_client:
        yield test_client
    ui_app._store_url.cache_clear()
    patch.undo()


def _token(username: str, role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture(scope="module")
def admin(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token('alice', 'admin')}"}


@pytest.fixture(scope="module")
def viewer(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token('victor', 'viewer')}"}


def test_the_plugin_loads_in_the_airflow_cli_without_import_errors(airflow_db):
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "plugins", "--output", "json"], capture_output=True, text=True, check=True
    )
    assert '"hypercare"' in listed.stdout, listed.stdout + listed.stderr
    assert "Hypercare" in listed.stdout
    assert "rror" not in listed.stderr.replace("DeprecationWarning", "")


def test_the_nav_entry_is_served_by_the_api_server(client, admin):
    plugins = client.get("/api/v2/plugins", headers=admin).json()["plugins"]
    hypercare = next(plugin for plugin in plugins if plugin["name"] == "hypercare")
    assert hypercare["external_views"][0]["name"] == "Hypercare"
    assert hypercare["external_views"][0]["href"] == "/hypercare/findings"
    assert client.get("/api/v2/importErrors", headers=admin).json()["total_entries"] == 0


@pytest.mark.parametrize(
    "path", ["/hypercare/findings", "/hypercare/runs", "/hypercare/scorecards", "/hypercare/silences"]
)
def test_pages_refuse_requests_without_an_airflow_login(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)
    assert client.get(path, cookies={"_token": "forged"}).status_code in (401, 403)


def test_findings_filter_and_page_through_the_store(client, admin, store):
    page = client.get("/hypercare/findings", headers=admin)
    assert page.status_code == 200, page.text
    with db.connect(store) as conn:
        total = conn.execute("select count(*) from hypercare.findings").fetchone()[0]
        rule, in_rule = conn.execute(
            "select rule_id, count(*) from hypercare.findings group by 1 order by 2 desc limit 1"
        ).fetchone()
        high = conn.execute("select count(*) from hypercare.findings where severity = 'high'").fetchone()[0]
    pages, path = [], "/hypercare/findings"
    while path:
        html = client.get(path, headers=admin).text
        pages.append(re.findall(r'href="/hypercare/findings/([0-9a-f-]{36})"', html))
        path = _pager_link(html, "next")
    seen = [finding_id for page_ids in pages for finding_id in page_ids]
    assert len(seen) == len(set(seen)) == total > 50
    assert all(len(page_ids) == 50 for page_ids in pages[:-1])
    back = client.get(_pager_link(client.get(_pager_link(html, "prev"), headers=admin).text, "next"), headers=admin)
    assert re.findall(r'href="/hypercare/findings/([0-9a-f-]{36})"', back.text) == pages[-1]
    newer = client.get(_pager_link(html, "prev"), headers=admin).text
    assert re.findall(r'href="/hypercare/findings/([0-9a-f-]{36})"', newer) == pages[-2]
    assert f"(page {len(pages) - 1})" in newer
    assert client.get("/hypercare/findings", params={"after": "2026-11-02_nope"}, headers=admin).status_code == 422
    filtered = client.get("/hypercare/findings", params={"rule_id": rule, "page": 1}, headers=admin).text
    assert f'<td class="num">{in_rule}</td>' in filtered
    assert '<svg class="spark"' in filtered
    by_severity = client.get("/hypercare/findings", params={"severity": "high", "status": ""}, headers=admin).text
    assert len(re.findall(r'<tr class="sev-(\w+)"', by_severity)) == min(high, 50)
    assert set(re.findall(r'<tr class="sev-(\w+)"', by_severity)) <= {"high"}
    assert client.get("/hypercare/findings", params={"status": "bogus"}, headers=admin).status_code == 422
    assert client.get("/hypercare/findings", params={"snapshot_date": "11/02"}, headers=admin).status_code == 422


def _pager_link(html: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_journey_shows_the_waterfall_trace_findings_and_alerts(client, admin, store):
    finding_id, onboarding_id = open_finding(store)
    page = client.get(f"/hypercare/journeys/{onboarding_id}", headers=admin)
    assert page.status_code == 200
    assert "Closed-won to project" in page.text and "trigger_received" in page.text
    assert finding_id in page.text
    assert client.get("/hypercare/journeys/no-such-onboarding", headers=admin).status_code == 404


def test_scorecards_runs_and_audit_chain_pages(client, admin):
    archive = client.get("/hypercare/scorecards", headers=admin)
    day = (START + dt.timedelta(days=DAYS - 1)).isoformat()
    assert f'href="/hypercare/scorecards/{day}"' in archive.text
    emailed = client.get(f"/hypercare/scorecards/{day}", headers=admin)
    assert emailed.status_code == 200 and "sandbox" in emailed.headers["content-security-policy"]
    runs = client.get("/hypercare/runs", headers=admin).text
    assert "chain verified" in runs
    assert runs.count("<td>evaluated</td>") >= DAYS


def test_a_viewer_reads_but_cannot_act(client, viewer, store):
    finding_id, _ = open_finding(store)
    assert client.get(f"/hypercare/findings/{finding_id}", headers=viewer).status_code == 200
    refused = client.post(f"/hypercare/findings/{finding_id}/acknowledge", headers=viewer, data={"note": "x"})
    assert refused.status_code == 403
    assert client.post("/hypercare/findings/" + finding_id + "/acknowledge", data={}).status_code == 401
    with db.connect(store) as conn:
        assert conn.execute("select count(*) from hypercare.alert_acks").fetchone()[0] == 0


def test_acknowledge_is_audited_with_the_airflow_user(client, admin, store):
    finding_id, _ = open_finding(store)
    done = client.post(
        f"/hypercare/findings/{finding_id}/acknowledge", headers=admin, data={"note": "on it"}, follow_redirects=False
    )
    assert done.status_code == 303
    with db.connect(store) as conn:
        status = conn.execute("select status from hypercare.findings where finding_id = %s", (finding_id,)).fetchone()
        actor, action, details = conn.execute(
            "select actor, action, details from hypercare.audit_log order by seq desc limit 1"
        ).fetchone()
    assert status == ("acknowledged",)
    assert (actor, action, details["note"]) == ("alice", "acknowledge", "on it")
    page = client.get(f"/hypercare/findings/{finding_id}", headers=admin).text
    assert "acknowledged" in page and 'id="acknowledge"' not in page
    assert "chain verified" in client.get("/hypercare/runs", headers=admin).text


def test_a_cross_site_post_is_refused(client, admin, store):
    finding_id, _ = open_finding(store)
    attempt = client.post(
        f"/hypercare/findings/{finding_id}/acknowledge", headers={**admin, "Origin": "https://evil.example"}, data={}
    )
    assert attempt.status_code == 403


def test_silence_created_and_expired_with_audit(client, admin, store):
    made = client.post(
        "/hypercare/silences",
        headers=admin,
        data={"rule_id": "ownership.no_owner", "hours": "4", "reason": "<b>migration</b> window"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    listing = client.get("/hypercare/silences", headers=admin).text
    assert "&lt;b&gt;migration&lt;/b&gt; window" in listing and "<b>migration</b>" not in listing
    with db.connect(store) as conn:
        silence_id, ends_at = conn.execute(
            "select silence_id::text, ends_at from hypercare.alert_silences where author = 'alice'"
        ).fetchone()
    assert ends_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    assert client.post("/hypercare/silences", headers=admin, data={"hours": "4", "reason": "r"}).status_code == 422
    expired = client.post(f"/hypercare/silences/{silence_id}/expire", headers=admin, follow_redirects=False)
    assert expired.status_code == 303
    assert client.post(f"/hypercare/silences/{uuid.uuid4()}/expire", headers=admin).status_code == 404
    with db.connect(store) as conn:
        ends_at = conn.execute("select ends_at from hypercare.alert_silences where silence_id = %s", (silence_id,))
        assert ends_at.fetchone()[0] <= dt.datetime.now(dt.UTC)
        actions = [row[0] for row in conn.execute("select action from hypercare.audit_log where actor = 'alice'")]
    assert "silence" in actions and "expire_silence" in actions


def test_slack_alerts_link_to_the_finding_page(client, admin, store):
    from urllib.parse import urlsplit

    from hypercare.alerts.messages import Notice, render_messages

    with db.connect(store) as conn:
        notification_id, finding_id, payload = conn.execute(
            "select notification_id::text, finding_id::text, payload from hypercare.alert_outbox limit 1"
        ).fetchone()
    link = payload["finding_link"]
    assert link.endswith(f"/hypercare/findings/{finding_id}")
    (message,) = render_messages(
        "slack", [Notice(notification_id, "firing", payload)], dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
    )
    assert link in str(message.blocks)
    page = client.get(urlsplit(link).path, headers=admin)
    assert page.status_code == 200 and f"<h1>{payload['rule_id']} " in page.text


def test_journey_stages_hold_each_stage_against_its_sla_in_business_days():
    from hypercare.ruleset import load_ruleset
    from hypercare.ui_queries import journey_stages

    ruleset = load_ruleset()
    at = ruleset.calendar.day_start
    trace = [
        {"event_type": "trigger_received", "event_at": at(dt.date(2026, 11, 2))},
        {"event_type": "project_created", "event_at": at(dt.date(2026, 11, 2))},
        {"event_type": "owner_assigned", "event_at": at(dt.date(2026, 11, 5))},
    ]
    stages = {stage.label: stage for stage in journey_stages(trace, ruleset, "smb", at(dt.date(2026, 11, 9)))}
    owner = stages["Project to owner"]
    assert (owner.business_days, owner.sla_business_days, owner.breached) == (3.0, 1.0, True)
    scheduled = stages["Project to kickoff scheduled"]
    assert scheduled.ended_at is None and scheduled.business_days == 5.0  # still running at the as-of end
    assert scheduled.sla_business_days == 2.0  # the smb SLA of ownership.kickoff_not_scheduled
    assert stages["Kickoff to first value"].business_days is None


def test_a_stage_whose_end_was_traced_before_its_start_took_no_time():
    from hypercare.ruleset import load_ruleset
    from hypercare.ui_queries import journey_stages

    ruleset = load_ruleset()
    at = ruleset.calendar.day_start
    trace = [
        {"event_type": "trigger_received", "event_at": at(dt.date(2026, 11, 2))},
        {"event_type": "provisioning_task_completed", "event_at": at(dt.date(2026, 11, 3))},
    ]
    (not_begun,) = [s for s in journey_stages(trace, ruleset, "smb") if s.label == "Kickoff to provisioning done"]
    assert (not_begun.started_at, not_begun.ended_at, not_begun.business_days) == (None, None, None)
    trace += [
        {"event_type": "kickoff_completed", "event_at": at(dt.date(2026, 11, 5))},
        {"event_type": "provisioning_task_completed", "event_at": at(dt.date(2026, 11, 4))},
    ]
    stages = {stage.label: stage for stage in journey_stages(trace, ruleset, "smb", at(dt.date(2026, 11, 9)))}
    provisioning = stages["Kickoff to provisioning done"]
    assert provisioning.done_before_start and provisioning.business_days == 0.0
    assert provisioning.ended_at == at(dt.date(2026, 11, 4)) and not provisioning.breached
    trace.append({"event_type": "provisioning_task_completed", "event_at": at(dt.date(2026, 11, 6))})
    stages = {stage.label: stage for stage in journey_stages(trace, ruleset, "smb", at(dt.date(2026, 11, 9)))}
    provisioning = stages["Kickoff to provisioning done"]
    assert not provisioning.done_before_start and provisioning.business_days == 1.0
