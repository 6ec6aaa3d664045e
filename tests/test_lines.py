"""What differs between Airflow lines, checked in real `airflow dags test` runs on each of them.

- On Airflow 3.0-3.2 `dags test` calls a task's failure callback without ``context["exception"]``
  (and on 3.0 without ``ti.log_url``); the default alert still names the error and links the log.
- On Airflow 3 `dags test` runs the task's supervisor in-process, and its channel logs every
  request at DEBUG, secrets to mask included: the provider's own secrets stay out of that output.
- Airflow 3.1 keeps Deadline Alerts outside ``airflow.sdk``; the notifier works there too.

One DAG file and one `dags test` run (DEBUG logging) serve the module; `make test-lines` runs it on
3.0, 3.1 and 3.2, `make check` on the newest 3.x and on 2.11.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_signal.testing import ReceivedMessage, SignalAPIEmulator
from airflow_support import AIRFLOW, isolated_env, run_airflow, tail

SYSTEM_ID = "lines-test"
PASSWORD = "lines-password-7Qx"
BASE_URL = "http://airflow.lines.example:8080/"
FAILED_TO = "447700901001"
GUESSED_TO = "447700901002"
SENT_TO = "447700901003"

DAG_FILE = textwrap.dedent(
    f'''
    """The DAG tests/test_lines.py runs."""
    from datetime import datetime

    from airflow_provider_signal import _compat
    from airflow_provider_signal.callbacks import signal_failure_callback
    from airflow_provider_signal.notifications.signal import SignalNotifier
    from airflow_provider_signal.operators.signal import SignalSendOperator

    try:  # Airflow 3
        from airflow.sdk import DAG, task
    except ImportError:  # Airflow 2.11
        from airflow import DAG
        from airflow.decorators import task

    with DAG("t_lines", start_date=datetime(2026, 1, 1), schedule=None):

        @task
        def read_connection():
            """What Airflow itself logs when a task reads the connection: the baseline."""
            _compat.BaseHook.get_connection("signal_default")
            print("LINES-MARK-READ-DONE")

        @task
        def mark_sent():
            print("LINES-MARK-SEND-DONE")

        @task(
            on_failure_callback=[
                signal_failure_callback(["{FAILED_TO}"]),
                SignalNotifier(destinations=["{GUESSED_TO}"]),  # kind guessed from the context
            ]
        )
        def load():
            raise ValueError("warehouse refused 42 rows\\nsecond line")

        send = SignalSendOperator(task_id="send", text="lines probe", destinations=["{SENT_TO}"])
        read_connection() >> send >> mark_sent() >> load()
    '''
)


@dataclass
class LinesRun:
    output: str
    messages: list[ReceivedMessage]

    def text_to(self, destination: str) -> str:
        [text] = [m.text for m in self.messages if m.destination == destination]
        return text


@pytest.fixture(scope="module")
def lines_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LinesRun]:
    home = tmp_path_factory.mktemp("airflow-home-lines")
    dags = home / "dags"
    dags.mkdir()
    (dags / "lines_dag.py").write_text(DAG_FILE)
    with SignalAPIEmulator(system_id=SYSTEM_ID, password=PASSWORD) as emulator:
        env = {
            **isolated_env(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
            "AIRFLOW__API__BASE_URL": BASE_URL,  # Airflow 3
            "AIRFLOW__WEBSERVER__BASE_URL": BASE_URL.rstrip("/"),  # Airflow 2.11
            "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json(),
        }
        migrated = run_airflow("db", "migrate", env=env)
        assert migrated.returncode == 0, tail(migrated.stderr)
        # Not run_airflow: the tests compare where lines fall, so stdout and stderr go in one pipe.
        done = subprocess.run(
            [*AIRFLOW, "dags", "test", "t_lines", "2026-01-01T00:00:00+00:00"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
            check=False,
        )
        (home / "dags-test-output.txt").write_text(done.stdout)  # kept for a failing test's reader
        yield LinesRun(done.stdout, list(emulator.messages))


def test_dags_test_failure_alert_names_the_error_and_links_the_log(lines_run: LinesRun) -> None:
    alert = lines_run.text_to(FAILED_TO)
    assert alert.startswith("❌ Airflow task failed"), alert
    assert "Task: load" in alert
    assert "Error: ValueError: warehouse refused 42 rows" in alert, alert
    assert "second line" not in alert
    log_lines = [line for line in alert.splitlines() if line.startswith("Log: ")]
    assert len(log_lines) == 1, alert
    assert log_lines[0].startswith("Log: http://airflow.lines.example:8080"), alert
    assert "t_lines" in log_lines[0] and "load" in log_lines[0]


def test_notifier_without_a_kind_recognises_the_failure(lines_run: LinesRun) -> None:
    alert = lines_run.text_to(GUESSED_TO)
    assert alert.startswith("❌ Airflow task failed"), alert
    assert "Error: ValueError: warehouse refused 42 rows" in alert


def _between(output: str, start: str | None, end: str) -> str:
    begin = output.rindex(start) if start else 0
    return output[begin : output.rindex(end)]


def test_the_providers_secrets_stay_out_of_debug_output(lines_run: LinesRun) -> None:
    output = lines_run.output
    assert lines_run.text_to(SENT_TO) == "lines probe", output[-3000:]
    token = base64.b64encode(f"{SYSTEM_ID}:{PASSWORD}".encode()).decode()
    # Escaped forms too: a JSON or repr rendering of the value.
    for form in (token, json.dumps(token)[1:-1]):
        assert form not in output, "the Basic token (only the provider knows it) reached the output"
    # Reading the connection makes Airflow 3 log the password (its own call, see README): the
    # provider's send reads the connection once too, and must add no line of its own to that.
    airflow_lines = _between(output, None, "LINES-MARK-READ-DONE").count(PASSWORD)
    send_lines = _between(output, "LINES-MARK-READ-DONE", "LINES-MARK-SEND-DONE").count(PASSWORD)
    assert send_lines <= airflow_lines, (airflow_lines, send_lines)


def test_the_alert_after_the_failure_adds_no_secret_either(lines_run: LinesRun) -> None:
    after = lines_run.output[lines_run.output.rindex("LINES-MARK-SEND-DONE") :]
    assert "warehouse refused 42 rows" in after  # the failure and its alerts are here
    token = base64.b64encode(f"{SYSTEM_ID}:{PASSWORD}".encode()).decode()
    assert token not in after
    # Two alerts, each reading the connection: at most Airflow's own lines for two reads.
    airflow_lines = _between(lines_run.output, None, "LINES-MARK-READ-DONE").count(PASSWORD)
    assert after.count(PASSWORD) <= 2 * airflow_lines


# -- Deadline Alerts on Airflow 3.1: the same feature, other homes ----------------------------
# 3.2+ export DeadlineAlert & co. from airflow.sdk and run callbacks in CallbackTrigger (see
# test_notifier.py); 3.1 keeps them in airflow.sdk.definitions.deadline and DeadlineCallbackTrigger.


def _deadline_3_1() -> Any:
    sdk = pytest.importorskip("airflow.sdk", reason="Deadline Alerts need 3.1+")
    if hasattr(sdk, "DeadlineAlert"):
        pytest.skip("this line exports Deadline Alerts from airflow.sdk: test_notifier.py covers it")
    return pytest.importorskip("airflow.sdk.definitions.deadline", reason="Deadline Alerts need 3.1+")


def test_airflow_3_1_accepts_the_notifier_as_a_deadline_alert_callback() -> None:
    from datetime import datetime, timedelta

    deadline = _deadline_3_1()
    from airflow.sdk import DAG

    from airflow_provider_signal.notifications.signal import send_signal_notification

    callback = deadline.AsyncCallback(send_signal_notification, kwargs={"text": "late"})
    alert = deadline.DeadlineAlert(
        reference=deadline.DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=30),
        callback=callback,
    )
    dag = DAG("t_deadline_3_1", schedule=None, start_date=datetime(2026, 1, 1), deadline=alert)
    assert dag.deadline is alert or alert in dag.deadline
    assert callback.path == "airflow_provider_signal.notifications.signal.SignalNotifier"


def test_airflow_3_1_deadline_trigger_sends_the_alert(signal_api: Any) -> None:
    import asyncio

    _deadline_3_1()
    from airflow.triggers.deadline import DeadlineCallbackTrigger

    trigger = DeadlineCallbackTrigger(
        callback_path="airflow_provider_signal.notifications.signal.send_signal_notification",
        callback_kwargs={"text": "Deadline missed on 3.1", "destinations": "447700900123"},
    )

    async def collect() -> list[Any]:
        return [event async for event in trigger.run()]

    events = asyncio.run(collect())
    assert str(events[-1].payload["state"]).lower().endswith("success"), events[-1].payload
    assert [m.text for m in signal_api.messages] == ["Deadline missed on 3.1"]
