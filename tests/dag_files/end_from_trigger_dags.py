"""A DAG with a task that ends in the triggerer (``end_from_trigger=True``), for
tests/test_alerts_deployment.py: Airflow refuses such a DAG when any listener is registered, so it
loads only while ``[signal_alerts]`` is off and the provider registers nothing.
"""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.sensors.date_time import DateTimeSensorAsync  # type: ignore[no-redef,unused-ignore]

with DAG("end_from_trigger", start_date=datetime(2026, 1, 1), schedule=None, catchup=False):
    DateTimeSensorAsync(
        task_id="wait_in_triggerer",
        target_time="{{ macros.datetime.utcnow() }}",
        end_from_trigger=True,
    )
