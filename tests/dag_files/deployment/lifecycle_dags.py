"""DAGs that tests/test_deployment.py runs in a real deployment (scheduler, executor, triggerer ...).

Each DAG sends to its own numbers, so the tests can tell the alerts apart although the
runs go on at the same time. ``dep_down`` / ``dep_hang`` repeat the alert lifecycle
with the Signal API refusing connections / never answering.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from datetime import datetime, timedelta

from airflow_provider_signal.callbacks import (
    signal_failure_callback,
    signal_retry_callback,
    signal_success_callback,
)
from airflow_provider_signal.notifications.signal import send_signal_notification
from airflow_provider_signal.operators.signal import SignalSendOperator

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

START = datetime(2026, 1, 1)
FAST_RETRY = timedelta(seconds=1)

with DAG("dep_operator", start_date=START, schedule=None, catchup=False):
    SignalSendOperator(
        task_id="send",
        text="deployed {{ dag.dag_id }}/{{ task.task_id }} in {{ run_id }}",
        destinations=["447700901001", "+44 7700 901002"],
    )

# Only the distributed deployment stores `signal_stored` (in the metadata database, with
# `airflow connections add`; no component has it in its environment): the operator and the task
# callback read it on the Celery worker, the DAG-level callback in the DAG processor / scheduler.
with DAG(
    "dep_stored_connection",
    start_date=START,
    schedule=None,
    catchup=False,
    on_success_callback=signal_success_callback(["447700901703"], signal_conn_id="signal_stored"),
):
    SignalSendOperator(
        task_id="send",
        text="stored connection in {{ run_id }}",
        signal_conn_id="signal_stored",
        on_success_callback=signal_success_callback(["447700901702"], signal_conn_id="signal_stored"),
    )

with DAG(
    "dep_failure",
    start_date=START,
    schedule=None,
    catchup=False,
    on_failure_callback=signal_failure_callback(["447700901103"]),
):

    @task(
        retries=1,
        retry_delay=FAST_RETRY,
        on_retry_callback=signal_retry_callback(["447700901102"]),
        on_failure_callback=signal_failure_callback(["447700901101"]),
    )
    def load() -> None:
        raise ValueError("could not load 42 rows: the warehouse refused the connection\nsecond line")

    load()

with DAG(
    "dep_success",
    start_date=START,
    schedule=None,
    catchup=False,
    on_success_callback=signal_success_callback(["447700901201"]),
):

    @task(on_success_callback=signal_success_callback(["447700901202"]))
    def extract() -> int:
        return 42

    extract()

with DAG("dep_timeout", start_date=START, schedule=None, catchup=False):

    @task(
        execution_timeout=timedelta(seconds=3),
        on_failure_callback=signal_failure_callback(["447700901301"]),
    )
    def slow() -> None:
        time.sleep(120)

    slow()

with DAG(
    "dep_killed",
    start_date=START,
    schedule=None,
    catchup=False,
    on_failure_callback=signal_failure_callback(["447700901402"]),
):

    @task(on_failure_callback=signal_failure_callback(["447700901401"]))
    def killed() -> None:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        time.sleep(60)

    killed()


def _seen_by_emulator(destination: str, timeout: float) -> bool:
    """Whether the emulator behind ``signal_default`` got a message for ``destination`` (polled)."""
    host = json.loads(os.environ["AIRFLOW_CONN_SIGNAL_DEFAULT"])["host"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{host}/_emulator/messages", timeout=5) as answer:  # noqa: S310
            if any(m["destination"] == destination for m in json.loads(answer.read())):
                return True
        time.sleep(0.5)
    return False


try:  # Deadline Alerts: Airflow 3.1+
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
except ImportError:
    DeadlineAlert = None

if DeadlineAlert is not None:
    with DAG(
        "dep_deadline",
        start_date=START,
        schedule=None,
        catchup=False,
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(seconds=5),
            callback=AsyncCallback(
                send_signal_notification,
                kwargs={"text": "⏰ {{ dag_run.dag_id }} is running late", "destinations": ["447700901501"]},
            ),
        ),
    ):

        @task
        def late() -> bool:
            """Run past the deadline, until the triggerer's alert has arrived (at most 3 minutes)."""
            return _seen_by_emulator("447700901501", timeout=180)

        late()

for conn_id in ("signal_down", "signal_hang"):
    with DAG(
        f"dep_{conn_id.split('_')[1]}",
        start_date=START,
        schedule=None,
        catchup=False,
        on_failure_callback=signal_failure_callback(["447700901603"], signal_conn_id=conn_id),
    ):

        @task(on_success_callback=signal_success_callback(["447700901601"], signal_conn_id=conn_id))
        def still_fine() -> str:
            return "ok"

        @task(
            retries=1,
            retry_delay=FAST_RETRY,
            on_retry_callback=signal_retry_callback(["447700901604"], signal_conn_id=conn_id),
            on_failure_callback=signal_failure_callback(["447700901602"], signal_conn_id=conn_id),
        )
        def still_failed() -> None:
            raise ValueError("expected failure")

        @task(
            execution_timeout=timedelta(seconds=3),
            on_failure_callback=signal_failure_callback(["447700901605"], signal_conn_id=conn_id),
        )
        def still_timed_out() -> None:
            time.sleep(120)

        still_fine() >> [still_failed(), still_timed_out()]
