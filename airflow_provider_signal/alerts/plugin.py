"""The provider plugin Airflow loads in every process (the ``airflow.plugins`` entry point).

It registers the DAG-run listener only when ``[signal_alerts] enabled`` is true: with it
off, this plugin registers nothing (Airflow refuses tasks with ``end_from_trigger=True``
whenever any listener exists). Importing it reads one config value and imports nothing
slow: the listener module (and the sender, ``requests`` later still) load only when enabled.
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

        return [SignalAlertListener()]
    except Exception as error:
        log.error("Signal alerts are off: %s", error)
        return []


class SignalAlertsPlugin(AirflowPlugin):
    """Deployment-wide Signal alerts for failed DAG runs (``[signal_alerts]`` in ``airflow.cfg``)."""

    name = "signal_alerts"
    listeners = _listeners()
