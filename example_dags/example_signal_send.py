"""Send a templated Signal message to several people with ``SignalSendOperator``.

The per-recipient results are the task's return value in XCom. Several spellings
of the same number are folded into one message.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_signal.operators.signal import SignalSendOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="example_signal_send",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    params={"rows": 1250},
    tags=["example", "signal"],
) as dag:
    SignalSendOperator(
        task_id="report",
        text=(
            "📊 {{ dag.dag_id }}: loaded {{ params.rows }} rows for run {{ run_id }}.\nDashboards are fresh."
        ),
        destinations=["+44 7700 900123", "+44 7700 900456", "0044 7700 900123"],
    )
