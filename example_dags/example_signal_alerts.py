"""Signal alerts on task success and failure.

``extract`` succeeds and reports it; ``load`` fails on purpose, so the on-call phone
gets the failure alert (DAG, task, run, try, error, log link); the DAG-level
callback then reports the failed run. Nothing is sent while this file is parsed,
and it imports without any connection defined.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_signal.callbacks import signal_failure_callback, signal_success_callback

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

ON_CALL = ["+44 7700 900123"]  # the signal_default connection's default recipients are used when None

with DAG(
    dag_id="example_signal_alerts",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "signal"],
    default_args={"on_failure_callback": signal_failure_callback(destinations=ON_CALL)},
    on_failure_callback=signal_failure_callback(
        destinations=ON_CALL, text="DAG {{ dag.dag_id }} run {{ run_id }} failed: {{ reason }}"
    ),
) as dag:

    @task(on_success_callback=signal_success_callback(destinations=ON_CALL))
    def extract() -> int:
        return 42

    @task(retries=0)
    def load() -> None:
        raise ValueError("could not load 42 rows: the warehouse refused the connection")

    extract() >> load()
