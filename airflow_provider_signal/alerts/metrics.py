"""Counters and a timer through Airflow's own metrics (StatsD or OpenTelemetry, as ``[metrics]``
configures), under ``signal_alerts.``. Never raises: a metric must not cost an alert."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "signal_alerts"
COUNTERS = ("delivered", "grouped", "held_back", "muted", "silenced", "retried", "given_up", "dropped")
DELIVERY_DELAY = "delivery_delay"


@lru_cache(maxsize=1)
def airflow_stats() -> Any:
    """What the running Airflow emits metrics with, in the scheduler too.

    Airflow 3.2+ keeps the scheduler's metrics in ``airflow._shared.observability.metrics.stats``
    (the Task SDK's stats object is not set up there, apache/airflow#69270); 2.11 and 3.0/3.1
    have ``airflow.stats.Stats``.
    """
    try:
        from airflow._shared.observability.metrics import stats  # type: ignore[import-not-found,unused-ignore]

        return stats
    except ImportError:
        from airflow.stats import Stats

        return Stats


def incr(counter: str, count: int = 1) -> None:
    try:
        airflow_stats().incr(f"{PREFIX}.{counter}", count)
    except Exception as error:
        log.debug("Signal alerts: metric %s not sent: %s", counter, error)


def delivery_delay(seconds: float) -> None:
    try:
        airflow_stats().timing(f"{PREFIX}.{DELIVERY_DELAY}", timedelta(seconds=max(0.0, seconds)))
    except Exception as error:
        log.debug("Signal alerts: metric %s not sent: %s", DELIVERY_DELAY, error)
