"""DAGs that tests/test_dags.py runs with `airflow dags test` against the emulator."""

from __future__ import annotations

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

with DAG(
    "t_operator",
    start_date=START,
    schedule=None,
    params={"who": "on-call", "numbers": "447700900001, +44 7700 900002, 0044 7700 900001"},
):
    send = SignalSendOperator(
        task_id="send",
        text="Hello {{ params.who }} from {{ dag.dag_id }}/{{ task.task_id }}",
        destinations="{{ params.numbers }}",
    )
    echo = SignalSendOperator(
        task_id="echo",
        text="xcom {{ ti.xcom_pull(task_ids='send') | map(attribute='destination') | join(',') }}",
        destinations=["447700900009"],
    )
    send >> echo
    SignalSendOperator.partial(task_id="mapped", text="mapped to {{ task.destinations }}").expand(
        destinations=[["447700900010"], ["447700900011"]]
    )

with DAG(
    "t_alerts",
    start_date=START,
    schedule=None,
    default_args={
        "on_failure_callback": signal_failure_callback(["447700900100"]),
        "retry_delay": timedelta(seconds=0),
    },
    on_failure_callback=signal_failure_callback(["447700900200"]),
):

    @task(on_success_callback=signal_success_callback(["447700900300"]))
    def fine() -> int:
        return 1

    @task(retries=1, on_retry_callback=signal_retry_callback(["447700900400"]))
    def flaky() -> None:
        raise RuntimeError("disk full on /data\nsecond line that must not be in the alert")

    fine() >> flaky()

shared = send_signal_notification(
    text="done {{ ti.task_id }} of {{ dag.dag_id }}", destinations="447700900500"
)

with DAG("t_shared", start_date=START, schedule=None, default_args={"on_success_callback": shared}):

    @task
    def first() -> None:
        pass

    @task
    def second() -> None:
        pass

    first() >> second()

with DAG("t_native", start_date=START, schedule=None, render_template_as_native_obj=True, params={"n": 6}):
    SignalSendOperator(
        task_id="answer",
        text="{{ params.n * 7 }}",
        destinations=["447700900600"],
        on_success_callback=send_signal_notification(
            text="{{ params.n * 7 + 1 }}", destinations="447700900601"
        ),
    )

with DAG(
    "t_down",
    start_date=START,
    schedule=None,
    on_success_callback=signal_success_callback(signal_conn_id="signal_down"),
    on_failure_callback=signal_failure_callback(["447700900700"], signal_conn_id="signal_down"),
):

    @task(on_success_callback=signal_success_callback(["447700900701"], signal_conn_id="signal_down"))
    def still_fine() -> str:
        return "ok"

    @task(on_failure_callback=signal_failure_callback(["447700900702"], signal_conn_id="signal_down"))
    def still_failed() -> None:
        raise ValueError("expected failure")

    still_fine() >> still_failed()

with DAG("t_dag_success", start_date=START, schedule=None, on_success_callback=signal_success_callback()):

    @task
    def only() -> None:
        pass

    only()

with DAG("t_cli", start_date=START, schedule=None):
    SignalSendOperator(task_id="send", text="added with the CLI", signal_conn_id="signal_cli")

# Bad input fails the task at once, whatever its retries; a delivery failure is retried.
with DAG(
    "t_fail_fast",
    start_date=START,
    schedule=None,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=0),
        "on_retry_callback": send_signal_notification(
            text="retry of {{ ti.task_id }}", destinations="447700900810"
        ),
        "on_failure_callback": send_signal_notification(
            text="failed {{ ti.task_id }} on try {{ ti.try_number }}", destinations="447700900811"
        ),
    },
):
    SignalSendOperator(task_id="bad_number", text="never sent", destinations=["12345"])
    SignalSendOperator(task_id="too_long", text="x" * 2001, destinations=["447700900812"])
    SignalSendOperator(
        task_id="api_down", text="retried", destinations=["447700900813"], signal_conn_id="signal_down"
    )


# Secrets in what is sent: a task's error and a template quoting the Signal password, its Basic
# token and a password Airflow's masker knows (the warehouse connection's, read in the task).
def _leaky_error() -> str:
    import base64

    from airflow_provider_signal import _compat

    signal = _compat.BaseHook.get_connection("signal_default")
    warehouse = _compat.BaseHook.get_connection("warehouse")
    token = base64.b64encode(f"{signal.login}:{signal.password}".encode()).decode()
    return (
        f"login refused: password={signal.password} token={token} url=postgres://etl:{warehouse.password}@db"
    )


LEAKY_TEXT = "dsn {{ conn.warehouse.password }} pw {{ conn.signal_default.password }} {{ ti.task_id }}"

with DAG("t_secrets", start_date=START, schedule=None):

    @task(on_failure_callback=signal_failure_callback(["447700900900"]))
    def leaks_basic() -> None:
        raise RuntimeError(_leaky_error())

    @task(on_failure_callback=signal_failure_callback(["447700900901"], signal_conn_id="signal_payload"))
    def leaks_payload() -> None:
        raise RuntimeError(_leaky_error())

    leaks_basic()
    leaks_payload()
    SignalSendOperator(task_id="templated", text=LEAKY_TEXT, destinations=["447700900902"])
    SignalSendOperator(
        task_id="templated_payload",
        text=LEAKY_TEXT,
        destinations=["447700900903"],
        signal_conn_id="signal_payload",
    )
    SignalSendOperator(
        task_id="wrong_type", text="never sent", destinations=["447700900904"], signal_conn_id="warehouse"
    )


# Credentials a DAG file writes itself: no connection or variable, so Airflow's masker knows nothing.
FREE_TEXT_URL = "postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse"
FREE_TEXT_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"

with DAG("t_credentials", start_date=START, schedule=None):

    @task(on_failure_callback=signal_failure_callback(["447700900910"]))
    def connects() -> None:
        raise RuntimeError(f"could not connect to {FREE_TEXT_URL}; token={FREE_TEXT_TOKEN}")

    connects()
    SignalSendOperator(
        task_id="templated_credentials",
        text=f"{{{{ ti.task_id }}}} loads from {FREE_TEXT_URL} with 'api_key': '{FREE_TEXT_TOKEN}'",
        destinations=["447700900911"],
    )
