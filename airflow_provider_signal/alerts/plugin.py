"""The provider plugin Airflow loads in every process (the ``airflow.plugins`` entry point).

It registers the DAG-run listener only when ``[signal_alerts] enabled`` is true: with it
off, this plugin registers nothing (Airflow refuses tasks with ``end_from_trigger=True``
whenever any listener exists). Importing it reads one config value and imports nothing
slow: the listener module (and the sender, ``requests`` later still) load only when enabled.
In the process that serves the UI, with ``health`` in ``notify_on``, it also starts the health
watcher there (no Airflow job starts in that process to tell the listener), and adds the Signal
alerts page: on Airflow 3.1+ a FastAPI app with an external view (Browse → Signal alerts), on
2.11 a Flask AppBuilder view; 3.0 has no external views, so ``airflow-signal status`` only.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def _listeners() -> list[Any]:
    try:
        from airflow_provider_signal.alerts.config import alerts_enabled

        if not alerts_enabled():
            return []
        from airflow_provider_signal.alerts.listener import SignalAlertListener

        listener = SignalAlertListener()
        ui = _serving_the_ui()
        if ui is not None:
            listener.watch_health(ui)
        return [listener]
    except Exception as error:
        log.error("Signal alerts are off: %s", error)
        return []


def _serving_the_ui() -> str | None:
    """``API server`` or ``webserver`` when this process serves Airflow's UI, else ``None``.

    Airflow fires no listener hook when the API server (3.x) or the webserver (2.11) starts, so
    the process is told by its command line: ``airflow api-server`` (its uvicorn or gunicorn
    workers keep it), or 2.11's gunicorn workers, named ``airflow-webserver``."""
    import sys

    argv = sys.argv
    if argv[1:2] == ["api-server"]:
        return "API server"
    if argv[1:2] == ["webserver"] or "airflow-webserver" in argv:
        return "webserver"
    return None


def _page() -> dict[str, list[Any]]:
    """The plugin's page attributes: only in the process that serves the UI, only with alerts on
    (no other process imports FastAPI or Flask AppBuilder for it)."""
    try:
        ui = _serving_the_ui()
        if ui is None:
            return {}
        from airflow_provider_signal.alerts.config import alerts_enabled

        if not alerts_enabled():
            return {}
        if ui == "webserver":
            from airflow_provider_signal.alerts.page_view import SignalAlertsView

            view = {"name": "Signal alerts", "category": "Browse", "view": SignalAlertsView()}
            return {"appbuilder_views": [view]}
        if not hasattr(AirflowPlugin, "external_views"):  # Airflow 3.0
            return {}
        from airflow_provider_signal.alerts.page_app import URL_PREFIX, create_app

        app = {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Signal alerts"}
        view = {
            "name": "Signal alerts",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "signal-alerts",
        }
        return {"fastapi_apps": [app], "external_views": [view]}
    except Exception as error:
        log.error("The Signal alerts page is off: %s", error)
        return {}


_PAGE = _page()


class SignalAlertsPlugin(AirflowPlugin):
    """Deployment-wide Signal alerts for failed DAG runs (``[signal_alerts]`` in ``airflow.cfg``),
    and the Signal alerts page in the UI."""

    name = "signal_alerts"
    listeners = _listeners()
    fastapi_apps = _PAGE.get("fastapi_apps", [])
    external_views = _PAGE.get("external_views", [])
    appbuilder_views = _PAGE.get("appbuilder_views", [])
