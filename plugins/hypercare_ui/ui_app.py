"""The Hypercare pages, served by the Airflow API server.

Every request is authenticated by Airflow's auth manager (the UI's session cookie or a
bearer token, exactly as the API server's own routes); pages need read access to the
hypercare DAGs and actions need edit access. Every action is written to the audit log with
the Airflow user's name. Values from source data are escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hypercare_airflow.common import MONITORING_AREAS

URL_PREFIX = "/hypercare"
HERE = Path(__file__).resolve().parent
HYPERCARE_DAGS = (
    "hypercare_ingest",
    *(f"hypercare_{area}" for area in MONITORING_AREAS),
    "hypercare_crosscutting",
    "hypercare_scorecard",
    "hypercare_alerts",
)

templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))


def plain(value: Any) -> str:
    """An evidence or trace value as a person reads it: lists joined, ratios to three
    significant digits, instants to the minute (UTC), nothing for null."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value) or "none"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and len(value) >= 16 and value[10:11] == "T":
        try:
            return plain(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


templates.filters["plain"] = plain

app = FastAPI(title="Hypercare", docs_url=None, redoc_url=None, openapi_url=None)
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


def _allowed(user: BaseUser, method: str) -> bool:
    requests = [{"method": method, "details": DagDetails(id=dag_id)} for dag_id in HYPERCARE_DAGS]
    return get_auth_manager().batch_is_authorized_dag(requests, user=user)


def reader(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
    """An authenticated Airflow user who may read the hypercare DAGs."""
    if not _allowed(user, "GET"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may not read the hypercare DAGs")
    return user


def editor(request: Request, user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
    """An authenticated Airflow user who may edit the hypercare DAGs, posting from this site."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    if not _allowed(user, "PUT"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "acting on alerts needs edit access to the hypercare DAGs")
    return user


Reader = Annotated[BaseUser, Depends(reader)]
Editor = Annotated[BaseUser, Depends(editor)]


@cache
def _store_url() -> str:
    from hypercare_airflow.common import store_url

    return store_url()


def _connect():
    from hypercare import ui_queries

    return ui_queries.connect(_store_url())


@cache
def _ruleset():
    from hypercare.ruleset import load_ruleset

    return load_ruleset()


def _render(request: Request, name: str, user: BaseUser, **context: Any) -> HTMLResponse:
    base = request.scope.get("root_path", "").rstrip("/")
    html = templates.get_template(name).render(
        base=base, user=user.get_name(), can_edit=_allowed(user, "PUT"), page=name.removesuffix(".html"), **context
    )
    return HTMLResponse(html)


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _date(value: str | None, field: str) -> dt.date | None:
    value = _blank(value)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: not a date (YYYY-MM-DD): {value!r}"
        ) from None


PAGING = ("after", "before", "page")


def _cursor(value: str | None, field: str):
    from hypercare.ui_queries import Cursor

    value = _blank(value)
    if value is None:
        return None
    try:
        return Cursor.parse(value)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: not a page cursor: {value!r}") from None


@app.get("/", include_in_schema=False)
def home(request: Request, user: Reader) -> RedirectResponse:
    return RedirectResponse(f"{request.scope.get('root_path', '')}/findings", status.HTTP_303_SEE_OTHER)


@app.get("/findings", response_class=HTMLResponse)
def findings(
    request: Request,
    user: Reader,
    area: str | None = None,
    rule_id: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    severity: str | None = None,
    segment: str | None = None,
    high_value: str | None = None,
    owner_role: str | None = None,
    reason_code: str | None = None,
    onboarding_id: str | None = None,
    snapshot_date: str | None = None,
    after: str | None = None,
    before: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
):
    """Findings under the filters, 50 a page; `after`/`before` carry the cursor of the page's
    neighbour (keyset paging) and `page` only numbers it."""
    from hypercare import ui_queries

    chosen = {
        "area": _blank(area),
        "rule_id": _blank(rule_id),
        "status": _blank(status_),
        "severity": _blank(severity),
        "segment": _blank(segment),
        "high_value": {"yes": True, "no": False}.get(_blank(high_value) or ""),
        "owner_role": _blank(owner_role),
        "reason_code": _blank(reason_code),
        "onboarding_id": _blank(onboarding_id),
        "snapshot_date": _date(snapshot_date, "snapshot_date"),
    }
    try:
        filters = ui_queries.FindingFilter(**chosen)
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    cursors = {"after": _cursor(after, "after"), "before": _cursor(before, "before")}
    if not any(cursors.values()):
        page = 1
    with _connect() as conn:
        view = ui_queries.findings_view(conn, filters, _ruleset(), **cursors)
    found = view["page"]
    query = {key: value for key, value in request.query_params.items() if key not in PAGING and value}
    return _render(
        request,
        "findings.html",
        user,
        rows=found.rows,
        counts=view["counts"],
        options=view["options"],
        chosen={**query},
        statuses=ui_queries.STATUSES,
        severities=ui_queries.SEVERITIES,
        page_number=page,
        previous_page=urlencode({**query, "before": found.previous.token(), "page": max(page - 1, 1)})
        if found.previous
        else None,
        next_page=urlencode({**query, "after": found.following.token(), "page": page + 1}) if found.following else None,
        sparkline=sparkline,
        link=lambda **changed: urlencode({**query, **changed}),
    )


@app.get("/findings/{finding_id}", response_class=HTMLResponse)
def finding(request: Request, user: Reader, finding_id: str):
    """The page a Slack alert links to: the finding, its evidence, and one click to acknowledge."""
    from hypercare import ui_queries

    with _connect() as conn:
        found = ui_queries.finding(conn, _uuid(finding_id))
        acks = ui_queries.acknowledgements(conn, [found["finding_id"]]) if found else []
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finding {finding_id}")
    return _render(request, "finding.html", user, finding=found, acks=acks)


@app.get("/journeys/{onboarding_id}", response_class=HTMLResponse)
def journey(request: Request, user: Reader, onboarding_id: str):
    from hypercare import ui_queries

    with _connect() as conn:
        data = ui_queries.journey(conn, onboarding_id)
    if not data["trace"] and not data["findings"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no onboarding {onboarding_id}")
    segment = next((row.get("segment") for row in data["findings"] if row.get("segment")), None)
    ruleset = _ruleset()
    as_of_end = ruleset.calendar.as_of_end(data["newest_run"]) if data["newest_run"] else None
    stages = ui_queries.journey_stages(data["trace"], ruleset, segment, as_of_end)
    longest = max([(s.offset_business_days or 0) + (s.business_days or 0) for s in stages] + [1.0])
    return _render(request, "journey.html", user, onboarding_id=onboarding_id, stages=stages, longest=longest, **data)


@app.get("/scorecards", response_class=HTMLResponse)
def scorecards(request: Request, user: Reader):
    from hypercare import ui_queries

    with _connect() as conn:
        rows = ui_queries.scorecards(conn)
    return _render(request, "scorecards.html", user, rows=rows)


@app.get("/scorecards/{as_of}", response_class=HTMLResponse)
def scorecard(user: Reader, as_of: str):
    """The archived HTML exactly as emailed, in a sandbox: no scripts, no requests leave the page."""
    from hypercare import ui_queries

    with _connect() as conn:
        html = ui_queries.scorecard_html(conn, _date(as_of, "as_of"))
    if html is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no scorecard for {as_of}")
    policy = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; sandbox"
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


@app.get("/runs", response_class=HTMLResponse)
def runs(request: Request, user: Reader):
    from hypercare import ui_queries

    with _connect() as conn:
        overview = ui_queries.runs_overview(conn)
    return _render(request, "runs.html", user, **overview)


@app.get("/quarantine/{snapshot_date}", response_class=HTMLResponse)
def quarantine(request: Request, user: Reader, snapshot_date: str, entity: str | None = None):
    from hypercare import ui_queries

    day = _date(snapshot_date, "snapshot_date")
    with _connect() as conn:
        rows = ui_queries.quarantine(conn, day, _blank(entity))
    return _render(request, "quarantine.html", user, rows=rows, snapshot_date=day, entity=_blank(entity))


@app.get("/silences", response_class=HTMLResponse)
def silences(request: Request, user: Reader):
    from hypercare import ui_queries

    with _connect() as conn:
        rows = ui_queries.active_silences(conn)
    return _render(request, "silences.html", user, rows=rows, now=dt.datetime.now(dt.UTC))


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no finding {value}") from None


def _back(request: Request, fallback: str) -> RedirectResponse:
    return RedirectResponse(f"{request.scope.get('root_path', '')}{fallback}", status.HTTP_303_SEE_OTHER)


@app.post("/findings/{finding_id}/acknowledge")
def acknowledge(request: Request, user: Editor, finding_id: str, note: Annotated[str, Form()] = ""):
    """Acknowledge the finding's current episode as the Airflow user (audited)."""
    from hypercare.alerts.actions import acknowledge as acknowledge_episode

    with _connect() as conn:
        try:
            acknowledge_episode(conn, _uuid(finding_id), by=user.get_name(), note=_blank(note))
        except LookupError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return _back(request, f"/findings/{finding_id}")


@app.post("/silences")
def create_silence(
    request: Request,
    user: Editor,
    reason: Annotated[str, Form()],
    hours: Annotated[float, Form(gt=0, le=24 * 90)],
    rule_id: Annotated[str, Form()] = "",
    subject_key: Annotated[str, Form()] = "",
    owner_role: Annotated[str, Form()] = "",
):
    """Silence matching notifications for `hours`, authored by the Airflow user (audited)."""
    from hypercare.alerts.actions import silence

    now = dt.datetime.now(dt.UTC)
    with _connect() as conn:
        try:
            silence(
                conn,
                author=user.get_name(),
                reason=reason,
                ends_at=now + dt.timedelta(hours=hours),
                rule_id=_blank(rule_id),
                subject_key=_blank(subject_key),
                owner_role=_blank(owner_role),
                starts_at=now,
            )
        except ValueError as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return _back(request, "/silences")


@app.post("/silences/{silence_id}/expire")
def expire_silence(request: Request, user: Editor, silence_id: str):
    from hypercare.alerts.actions import expire_silence as end_silence

    with _connect() as conn:
        try:
            end_silence(conn, _uuid(silence_id), by=user.get_name())
        except LookupError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    return _back(request, "/silences")


def sparkline(values: list[int], width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of daily counts (numbers only, so safe to mark up)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(values))
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="last 30 days, max {top}"><polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )


@app.exception_handler(HTTPException)
def http_error(request: Request, error: HTTPException) -> Response:
    headers = getattr(error, "headers", None)
    if "text/html" in request.headers.get("accept", ""):
        body = templates.get_template("error.html").render(status_code=error.status_code, detail=error.detail)
        return HTMLResponse(body, status_code=error.status_code, headers=headers)
    return Response(
        content=json.dumps({"detail": error.detail}),
        status_code=error.status_code,
        media_type="application/json",
        headers=headers,
    )
