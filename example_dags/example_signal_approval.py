"""Approval by Signal: a person approves on their phone before the report is published.

``approve_publish`` is Airflow's ``ApprovalOperator`` (human-in-the-loop, Airflow 3.1+)
with a ``SignalNotifier`` as its notifier: when the task starts waiting, the approver gets
a Signal message with the DAG, task, run, the question and its details, the options and
the link to the task's "Required Actions" page in the Airflow UI (built from
``[api] base_url``). Approve there (or through the REST API) and ``publish`` runs;
reject, or give no answer within 8 hours, and it is skipped.

On Airflow 2.11 and 3.0, which have no human-in-the-loop operators, this file defines no DAG.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.notifications.signal import send_signal_notification

try:  # Airflow 3.1+
    from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
    from airflow.sdk import DAG, task

    HAS_HUMAN_IN_THE_LOOP = True
except Exception:  # 2.11: no standard provider; 3.0: AirflowOptionalProviderFeatureException
    HAS_HUMAN_IN_THE_LOOP = False

APPROVERS = ["+44 7700 900123"]  # None: the signal_default connection's default recipients

if HAS_HUMAN_IN_THE_LOOP:
    # How long to wait for an answer: `response_timeout` from the standard provider 1.13 on (Airflow
    # 3.2+); the one pinned with Airflow 3.1 (1.12) waits for `execution_timeout` instead.
    _TAKES_RESPONSE_TIMEOUT = "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
    _TIMEOUT_ARGUMENT = "response_timeout" if _TAKES_RESPONSE_TIMEOUT else "execution_timeout"
    WAIT_FOR_ANSWER: dict[str, Any] = {_TIMEOUT_ARGUMENT: timedelta(hours=8)}

if HAS_HUMAN_IN_THE_LOOP:
    with DAG(
        dag_id="example_signal_approval",
        start_date=datetime(2026, 1, 1),
        schedule=None,
        catchup=False,
        tags=["example", "signal"],
    ):

        @task
        def build_report() -> int:
            return 42  # rows in today's report

        approve_publish = ApprovalOperator(
            task_id="approve_publish",
            subject="Publish the daily report of {{ dag_run.run_id }}?",
            body=(
                "The report has {{ ti.xcom_pull(task_ids='build_report') }} rows.\n"
                "Approve to publish it to the customers' dashboard; reject to skip publishing."
            ),
            defaults="Reject",  # what happens when nobody answers within response_timeout
            **WAIT_FOR_ANSWER,
            notifiers=[send_signal_notification(destinations=APPROVERS)],
        )

        @task
        def publish() -> str:
            return "published"

        build_report() >> approve_publish >> publish()
