"""The Airflow plugin: the Hypercare FastAPI app under /hypercare and its navigation entry."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from hypercare_ui.ui_app import URL_PREFIX, app


class HypercarePlugin(AirflowPlugin):
    name = "hypercare"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [{"app": app, "url_prefix": URL_PREFIX, "name": "Hypercare"}]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Hypercare",
            "href": f"{URL_PREFIX}/findings",
            "destination": "nav",
            "url_route": "hypercare",
        }
    ]
