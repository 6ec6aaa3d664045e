"""The sweep, a source of the pipeline: failed runs that ended within ``max_delivery_age`` and have
no recorded outcome (a process killed mid-way, an alert dropped from a full queue).

A scheduler's sender runs it when it starts and every ``sweep_interval`` seconds; the runs it
finds are decided like the listener's (an attempt whose owner is gone is sent again at once,
marked), and the outbox is flushed after it, so notices queued by a process that died go out too.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.message import RunEvent

SWEEP_GRACE = 15.0
"""The sweep leaves runs that ended this recently to the listener that saw them end."""


def unalerted_runs(settings: AlertSettings, now: datetime) -> list[RunEvent]:
    """The failed runs to decide on now (none when ``failure`` is not in ``notify_on``)."""
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import records

    if FAILURE not in settings.notify_on:
        return []
    with create_session() as session:
        runs = records.unalerted_failures(session, now, settings.max_delivery_age, SWEEP_GRACE)
        return [event_from_dag_run(FAILURE, run, "") for run in runs]
