"""A DAG whose task waits in ``queued`` while no worker runs, for the health tests
(tests/test_health_deployment.py: the Celery worker stopped, the task stuck, the worker back)."""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]


@task
def load() -> str:
    return "loaded"


with DAG("health_queued", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["health"]):
    load()
