"""The provider plugin Airflow loads in every process (the ``airflow.plugins`` entry point).

It registers the DAG-run listener only when ``[signal_alerts] enabled`` is true: with it
off, this plugin registers nothing (Airflow refuses tasks with ``end_from_trigger=True``
whenever any listener exists). Importing it reads one config value and imports nothing
slow: the listener module (and the sender, ``requests`` later still) load only when enabled.
In the process that serves the UI, with ``health`` in ``notify_on``, it also starts the health
watcher there (no Airflow job starts in that process to tell the listener).
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


class SignalAlertsPlugin(AirflowPlugin):
    """Deployment-wide Signal alerts for failed DAG runs (``[signal_alerts]`` in ``airflow.cfg``)."""

    name = "signal_alerts"
    listeners = _listeners()
