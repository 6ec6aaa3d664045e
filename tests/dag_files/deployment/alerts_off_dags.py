"""DAGs for the shared deployment, where ``[signal_alerts]`` is off (tests/test_alerts_deployment.py).

With alerts off the provider registers no listener, so Airflow accepts a task that ends from
the triggerer (``end_from_trigger=True``), and a failing DAG without callbacks sends nothing.
"""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.sensors.date_time import DateTimeSensorAsync  # type: ignore[no-redef,unused-ignore]

START = datetime(2026, 1, 1)

with DAG("alerts_off_end_from_trigger", start_date=START, schedule=None, catchup=False):
    DateTimeSensorAsync(
        task_id="wait_in_triggerer",
        target_time="{{ macros.datetime.utcnow() }}",
        end_from_trigger=True,
    )

with DAG("alerts_off_failing", start_date=START, schedule=None, catchup=False):

    @task
    def fail() -> None:
        raise ValueError("no alert expected: [signal_alerts] is off")

    fail()
