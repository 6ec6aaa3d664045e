"""A DAG with no callbacks at all: its failure is reported by ``[signal_alerts]`` alone (``make demo``)."""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

with DAG(
    "demo_nightly_report", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["team-data"]
):

    @task
    def extract() -> None:
        raise ConnectionError("warehouse at db.internal:5432 refused the connection")

    @task
    def publish() -> None:
        print("never runs: extract failed")

    extract() >> publish()
