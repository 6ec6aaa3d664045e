"""The operator, notifier and callbacks in real `airflow dags test` runs against the emulator.

One throwaway AIRFLOW_HOME (SQLite) and one emulator serve the module; each DAG in
tests/dag_files/signal_test_dags.py runs once, and the tests read what the emulator
received and the task states Airflow recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_provider_signal.testing import ReceivedMessage, SignalAPIEmulator
from airflow_support import run_airflow

DAG_FILES = Path(__file__).parent / "dag_files"
LOGICAL_DATE = "2026-01-01T00:00:00+00:00"
DOWN_CONN = {
    "conn_type": "signal",
    "login": "down-system",
    "password": "down-password-1",
    "host": "http://127.0.0.1:9",
}
WAREHOUSE_PASSWORD = "wh-Secret-7781"
WAREHOUSE_URI = f"postgres://etl:{WAREHOUSE_PASSWORD}@127.0.0.1:9/etl"


@dataclass
class DagRunResult:
    returncode: int
    output: str
    messages: list[ReceivedMessage]
    states: dict[str, list[str]]
    seconds: float

    def texts_to(self, destination: str) -> list[str]:
        return [m.text for m in self.messages if m.destination == destination]


class AirflowEnv:
    def __init__(self, home: Path, emulator: SignalAPIEmulator) -> None:
        self.emulator = emulator
        self.database = home / "airflow.db"  # Airflow's default: SQLite in AIRFLOW_HOME
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILES),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json(destinations="447700900999"),
            "AIRFLOW_CONN_SIGNAL_DOWN": json.dumps({**DOWN_CONN, "extra": {"retries": 1, "timeout": 2}}),
            "AIRFLOW_CONN_SIGNAL_PAYLOAD": emulator.connection_json(auth="payload"),
            "AIRFLOW_CONN_WAREHOUSE": WAREHOUSE_URI,
        }
        self._runs: dict[str, DagRunResult] = {}

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_airflow(*args, env=self.env, timeout=timeout)

    def run(self, dag_id: str) -> DagRunResult:
        if dag_id not in self._runs:
            before = len(self.emulator.messages)
            started = time.monotonic()
            done = self.airflow("dags", "test", dag_id, LOGICAL_DATE)
            seconds = time.monotonic() - started
            by_task: dict[str, list[str]] = {}
            for task_id, state in self.task_states(dag_id):
                by_task.setdefault(task_id, []).append(state)
            self._runs[dag_id] = DagRunResult(
                done.returncode,
                done.stdout + done.stderr,
                self.emulator.messages[before:],
                by_task,
                seconds,
            )
        return self._runs[dag_id]

    def task_states(self, dag_id: str) -> list[tuple[str, str]]:
        """``(task_id, state)`` of each task instance of the DAG's one run, from the metadata database
        (what `airflow tasks states-for-dag-run` prints, without starting Airflow again: ~8 s a run)."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            rows = db.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = ? ORDER BY task_id, map_index",
                (dag_id,),
            ).fetchall()
        return [(str(task_id), str(state)) for task_id, state in rows]


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowEnv]:
    with SignalAPIEmulator(system_id="dagtest", password="dagtest-password-1") as emulator:
        env = AirflowEnv(tmp_path_factory.mktemp("airflow-home"), emulator)
        migrated = env.airflow("db", "migrate")
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        yield env


def test_operator_sends_templated_text_to_each_recipient_and_pushes_results(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_operator")
    assert run.states["send"] == ["success"], run.output[-3000:]
    assert run.texts_to("447700900001") == ["Hello on-call from t_operator/send"]
    assert run.texts_to("447700900002") == ["Hello on-call from t_operator/send"]
    # the downstream task read the per-recipient results from XCom
    assert run.texts_to("447700900009") == ["xcom 447700900001,447700900002"]


def test_operator_works_with_partial_expand(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_operator")
    assert run.states["mapped"] == ["success", "success"]
    assert len(run.texts_to("447700900010")) == 1
    assert len(run.texts_to("447700900011")) == 1


def test_failure_callback_delivers_the_default_alert_and_the_task_still_fails(
    airflow_env: AirflowEnv,
) -> None:
    run = airflow_env.run("t_alerts")
    assert run.states["flaky"] == ["failed"]
    [alert] = run.texts_to("447700900100")
    assert alert.startswith("❌ Airflow task failed")
    for line in ("DAG: t_alerts", "Task: flaky", "Run: manual__", "Try: 2 of 2"):
        assert line in alert
    assert "Error: RuntimeError: disk full on /data" in alert
    assert "second line" not in alert
    assert "Logical date: 2026-01-01T00:00:00+00:00" in alert
    assert "undefined" not in alert.lower() and "None" not in alert


def test_retry_callback_reports_the_first_try(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_alerts")
    [alert] = run.texts_to("447700900400")
    assert alert.startswith("🔁 Airflow task failed, will retry")
    assert "Try: 1 of 2" in alert and "Error: RuntimeError: disk full on /data" in alert


def test_success_callback_reports_the_task(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_alerts")
    assert run.states["fine"] == ["success"]
    [alert] = run.texts_to("447700900300")
    assert alert.startswith("✅ Airflow task succeeded")
    assert "Task: fine" in alert and "Error" not in alert


def test_dag_level_failure_callback_reports_the_run(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_alerts")
    [alert] = run.texts_to("447700900200")
    assert alert.startswith("❌ Airflow DAG run failed")
    assert "DAG: t_alerts" in alert and "Run: manual__" in alert
    assert "undefined" not in alert.lower()


def test_dag_level_success_callback_uses_the_connection_default_recipients(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_dag_success")
    [alert] = run.texts_to("447700900999")
    assert alert.startswith("✅ Airflow DAG run succeeded")
    assert "DAG: t_dag_success" in alert


def test_one_notifier_shared_through_default_args_renders_each_task_afresh(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_shared")
    assert run.texts_to("447700900500") == ["done first of t_shared", "done second of t_shared"]


def test_native_rendering_still_sends_strings(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_native")
    assert run.states["answer"] == ["success"], run.output[-3000:]
    assert run.texts_to("447700900600") == ["42"]
    assert run.texts_to("447700900601") == ["43"]


def test_alerts_with_the_api_down_log_the_cause_and_change_no_outcome(airflow_env: AirflowEnv) -> None:
    from airflow_provider_signal.client import SignalClientSettings

    run = airflow_env.run("t_down")
    assert run.states == {"still_fine": ["success"], "still_failed": ["failed"]}
    assert run.messages == []
    assert run.output.count("was not sent") >= 3  # task success, task failure, DAG failure
    assert "could not connect" in run.output
    budget = SignalClientSettings(system_id="x", password="y", timeout=2, retries=1).time_budget
    # three alerts, each bounded by the budget; plus Airflow's own start-up and run time
    assert run.seconds < 3 * budget + 60


def test_a_connection_added_with_the_cli_tests_and_sends(airflow_env: AirflowEnv) -> None:
    emulator = airflow_env.emulator
    added = airflow_env.airflow(
        "connections",
        "add",
        "signal_cli",
        "--conn-type",
        "signal",
        "--conn-login",
        emulator.system_id,
        "--conn-password",
        emulator.password,
        "--conn-host",
        emulator.url,
        "--conn-extra",
        json.dumps({"auth": "payload", "destinations": "+44 7700 900800"}),
    )
    assert added.returncode == 0, added.stderr[-2000:]
    airflow_env.env["AIRFLOW__CORE__TEST_CONNECTION"] = "Enabled"
    before = emulator.request_count
    tested = airflow_env.airflow("connections", "test", "signal_cli")
    assert "Connection success" in tested.stdout, tested.stdout[-2000:] + tested.stderr[-2000:]
    assert emulator.request_count == before + 1
    # A task reads the connection from the metadata database (on Airflow 3 through the API).
    run = airflow_env.run("t_cli")
    assert run.states["send"] == ["success"], run.output[-3000:]
    [message] = [m for m in emulator.messages if m.text == "added with the CLI"]
    assert (message.destination, message.auth) == ("447700900800", "payload")
    output = _without_airflows_own_mask_requests(run.output + tested.stdout + tested.stderr)
    assert emulator.password not in output


def test_bad_input_fails_the_operator_at_once_without_using_its_retries(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_fail_fast")
    for task_id in ("bad_number", "too_long"):
        assert run.states[task_id] == ["failed"], run.output[-3000:]
        assert run.texts_to("447700900811").count(f"failed {task_id} on try 1") == 1
        assert f"retry of {task_id}" not in run.texts_to("447700900810")
    assert "AirflowFailException" in run.output
    assert "'12345'" in run.output  # the input error, named
    assert not any(m.destination in ("12345", "447700900812") for m in run.messages)  # nothing sent


def test_a_delivery_failure_still_uses_the_operators_retries(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_fail_fast")
    assert run.states["api_down"] == ["failed"]
    assert run.texts_to("447700900810").count("retry of api_down") == 2
    assert run.texts_to("447700900811").count("failed api_down on try 3") == 1


def test_no_secret_reaches_a_phone_from_an_alert_or_a_template_in_either_auth_mode(
    airflow_env: AirflowEnv,
) -> None:
    import base64

    emulator = airflow_env.emulator
    run = airflow_env.run("t_secrets")
    token = base64.b64encode(f"{emulator.system_id}:{emulator.password}".encode()).decode()
    alerts = run.texts_to("447700900900") + run.texts_to("447700900901")
    templated = run.texts_to("447700900902") + run.texts_to("447700900903")
    assert len(alerts) == 2 and len(templated) == 2, run.output[-3000:]
    assert {m.auth for m in run.messages} == {"basic", "payload"}
    for alert in alerts:
        assert "Error: RuntimeError: login refused: password=*** token=*** url=postgres://etl:***@db" in alert
    for text in templated:
        assert text.startswith("dsn *** pw *** templated")
    for text in alerts + templated:
        for secret in (emulator.password, token, WAREHOUSE_PASSWORD):
            assert secret not in text


def test_credentials_a_dag_file_wrote_itself_are_masked_in_an_alert_and_a_template(
    airflow_env: AirflowEnv,
) -> None:
    # The DAG file builds the URL and the token itself: Airflow's masker was never told of them.
    run = airflow_env.run("t_credentials")
    [alert] = run.texts_to("447700900910")
    [templated] = run.texts_to("447700900911")
    error = next(line for line in alert.splitlines() if line.startswith("Error: "))
    assert error == (
        "Error: RuntimeError: could not connect to postgresql://etl:***@db.internal:5432/warehouse; token=***"
    )
    assert (
        templated == "templated_credentials loads from postgresql://etl:***@db.internal:5432/warehouse "
        "with 'api_key': '***'"
    )
    for text in (alert, templated):
        assert "S3cr3t-pw" not in text and "ghp_" not in text
    [log] = [line for line in alert.splitlines() if line.startswith("Log: ")]
    assert "t_credentials" in log and "connects" in log and "***" not in log  # the link to the log intact


def test_a_connection_of_another_type_is_refused_before_any_request(airflow_env: AirflowEnv) -> None:
    run = airflow_env.run("t_secrets")
    assert run.states["wrong_type"] == ["failed"]
    assert "Connection 'warehouse' is of type 'postgres', not 'signal'" in run.output
    assert run.texts_to("447700900904") == []
    assert not any(WAREHOUSE_PASSWORD.encode() in request.body for request in airflow_env.emulator.requests)
    basic = base64_of(f"etl:{WAREHOUSE_PASSWORD}")
    assert not any(basic in str(request.headers) for request in airflow_env.emulator.requests)


def base64_of(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def _without_airflows_own_mask_requests(output: str) -> str:
    # `dags test` on Airflow 3.0 prints Airflow's own requests to mask the connection's password at
    # DEBUG, whatever the log level (README, Airflow versions); test_lines.py checks that the
    # provider adds none of these lines.
    return "\n".join(line for line in output.splitlines() if "msg=MaskSecret(value=" not in line)
