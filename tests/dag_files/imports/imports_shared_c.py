"""One of three DAG files that share imports_helper.py (tests/test_import_errors_deployment.py)."""

from __future__ import annotations

from datetime import datetime

from imports_helper import OWNER

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

with DAG("imports_shared_c", start_date=datetime(2026, 1, 1), schedule=None, default_args={"owner": OWNER}):

    @task
    def ok() -> None:
        print("fine")

    ok()
