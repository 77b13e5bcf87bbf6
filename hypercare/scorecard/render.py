"""The scorecard as HTML (email and standalone file) and plain text, from Jinja2 templates.

The HTML is built for mail clients: table layout, inline styles, no scripts. Charts are
referenced by `cid:` in the email and embedded as data URIs in the standalone file; the
markup is otherwise identical.
"""

from __future__ import annotations

import base64
import datetime as dt
from functools import cache

import jinja2

from hypercare import INCLUDE_DIR
from hypercare.scorecard.formats import STATUS_COLORS, STATUS_LABELS, decisive_digits, fmt, trend
from hypercare.scorecard.mail import content_id

TEMPLATES_DIR = INCLUDE_DIR / "templates"


def long_date(iso: str | None) -> str:
    return dt.date.fromisoformat(iso).strftime("%a %d %b %Y") if iso else "–"


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["long_date"] = long_date
    env.globals["trend"] = trend
    env.globals["status_colors"] = STATUS_COLORS
    env.globals["status_labels"] = STATUS_LABELS
    env.globals["decisive_digits"] = decisive_digits
    env.globals["answer_colors"] = {
        "strong": STATUS_COLORS["green"],
        "weak": STATUS_COLORS["red"],
        "not enough data yet": STATUS_COLORS["no verdict"],
    }
    return env


def image_sources(data: dict, images: dict[str, bytes], inline: bool) -> dict[str, str]:
    """Where the HTML finds each chart: a data URI for the standalone file, a cid: in email."""
    if inline:
        return {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in images.items()}
    return {name: "cid:" + content_id(name, data["as_of"]) for name in images}


def subject(data: dict) -> str:
    day = f"day {data['hypercare_day']}" if data["hypercare_day"] is not None else "no go-live set"
    exceptions = sum(r["total"] for r in data["exceptions_by_reason"])
    verdict = data["verdict"]
    stance = "stable enough to expand" if verdict["expand_automation"] else "do not expand automation"
    return f"Hypercare scorecard {data['as_of']} ({day}): {stance} ({verdict['weak']} weak), {exceptions} exceptions"


def render_html(data: dict, images: dict[str, bytes], inline: bool) -> str:
    template = environment().get_template("scorecard.html.j2")
    return template.render(d=data, src=image_sources(data, images, inline), subject=subject(data))


def render_text(data: dict) -> str:
    return environment().get_template("scorecard.txt.j2").render(d=data, subject=subject(data))
