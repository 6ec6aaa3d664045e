"""A DAG file the import-error tests break, then kill the scheduler while its message is being sent
(tests/test_import_errors_deployment.py)."""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

with DAG("imports_killed", start_date=datetime(2026, 1, 1), schedule=None):

    @task
    def ok() -> None:
        print("fine")

    ok()
