"""The listener and its background sender, in-process, against the emulator and a real SQLite
metadata database: routing and muting end to end, the bounded queue, the shutdown drain, and a
hanging or closed Signal API that never reaches the caller's (the scheduler's) thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.listener import SignalAlertListener
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.sender import AlertSender
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import T0, add_dag, add_run, clean_slate, migrate, outcome_rows

ONCALL = "447700900999"
TEAM_A = "447700900111"


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate()


@pytest.fixture(autouse=True)
def _fresh_database(metadata_db: None) -> None:
    clean_slate()


@pytest.fixture
def listener_for(signal_api: SignalAPIEmulator) -> Iterator[Callable[..., SignalAlertListener]]:
    made: list[SignalAlertListener] = []

    def build(**settings: Any) -> SignalAlertListener:
        values: dict[str, Any] = {
            "enabled": True,
            "destinations": (ONCALL,),
            "send_retries": 0,
            "group_wait": 0,
            "group_interval": 0,
        }
        values.update(settings)
        listener = SignalAlertListener(settings=AlertSettings(**values))
        made.append(listener)
        return listener

    yield build
    for listener in made:
        listener.before_stopping(component=None)


def fail_run(listener: SignalAlertListener, dag_id: str, run_id: str = "run_1", minute: float = 0) -> None:
    run = add_run(dag_id, run_id, "failed", T0 + timedelta(minutes=minute))
    listener.on_dag_run_failed(dag_run=run, msg="task_failure")


def test_a_failed_run_is_alerted_to_the_default_recipients(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    add_dag("send_plain", tags=["team-b"])
    listener = listener_for()
    fail_run(listener, "send_plain")
    [message] = signal_api.wait_for_messages(1, timeout=60)
    assert message.destination == ONCALL
    assert message.text.startswith("❌ Airflow DAG run failed\nDAG: send_plain\nRun: run_1\n")
    listener.before_stopping(component=None)
    assert outcome_rows("send_plain") == [("signal_alert_failed", "run_1")]


def test_a_routed_dag_alerts_its_team_only_and_a_muted_one_nobody(
    signal_api: SignalAPIEmulator,
    listener_for: Callable[..., SignalAlertListener],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="airflow_provider_signal")
    add_dag("send_routed", tags=["team-a"])
    add_dag("send_muted_tag", tags=["team-a", "quiet"])
    add_dag("tmp_send_muted_glob", tags=["team-a"])
    listener = listener_for(routes={"team-a": (TEAM_A,)}, mute_tag="quiet", mute_dag_ids=("tmp_*",))
    for dag_id in ("send_muted_tag", "tmp_send_muted_glob", "send_routed"):
        fail_run(listener, dag_id)
    signal_api.wait_for_messages(1, timeout=60)
    listener.before_stopping(component=None)  # everything queued is handled
    assert [(m.destination, m.text.splitlines()[1]) for m in signal_api.messages] == [
        (TEAM_A, "DAG: send_routed")
    ]
    muted = [r.getMessage() for r in caplog.records if "the DAG is muted" in r.getMessage()]
    assert len(muted) == 2 and "send_muted_tag" in muted[0] and "tmp_send_muted_glob" in muted[1]


def test_the_same_run_reported_twice_is_queued_once(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    add_dag("send_twice")
    listener = listener_for()
    run = add_run("send_twice", "run_1", "failed", T0)
    listener.on_dag_run_failed(dag_run=run, msg="timed_out")
    listener.on_dag_run_failed(dag_run=run, msg="timed_out")
    listener.before_stopping(component=None)
    assert len(signal_api.messages) == 1


def test_a_run_marked_failed_by_hand_alerts_only_when_asked(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    add_dag("send_manual")
    manual_msg = "Dag Run's state was manually set to `failed`."
    quiet = listener_for()
    quiet.on_dag_run_failed(dag_run=add_run("send_manual", "m1", "failed", T0), msg=manual_msg)
    quiet.before_stopping(component=None)
    assert signal_api.messages == []
    loud = listener_for(alert_on_manual=True)
    loud.on_dag_run_failed(
        dag_run=add_run("send_manual", "m2", "failed", T0 + timedelta(minutes=1)), msg=manual_msg
    )
    loud.before_stopping(component=None)
    [message] = signal_api.messages
    assert "Reason: marked failed by hand" in message.text


def test_recovery_is_sent_only_when_enabled(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    add_dag("send_recovery")
    listener = listener_for(notify_on=frozenset({"failure", "recovery"}))
    fail_run(listener, "send_recovery")
    ok = add_run("send_recovery", "run_2", "success", T0 + timedelta(minutes=5))
    listener.on_dag_run_success(dag_run=ok, msg="success")
    listener.before_stopping(component=None)
    assert [m.text.splitlines()[0] for m in signal_api.messages] == [
        "❌ Airflow DAG run failed",
        "✅ Airflow DAG recovered",
    ]


def test_a_full_queue_drops_new_alerts_with_an_error(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    handled: list[str] = []

    def slow(event: RunEvent) -> None:
        release.wait(30)
        handled.append(event.run_id)

    sender = AlertSender(AlertSettings(queue_size=2), handle=slow)
    results = [sender.submit(RunEvent("failure", "dag", f"r{n}")) for n in range(5)]
    # r0 is taken by the thread (it blocks), r1 and r2 fill the queue; r3 and r4 are dropped
    deadline = time.monotonic() + 10
    while sender.pending and time.monotonic() < deadline and results.count(True) < 3:
        time.sleep(0.01)
    assert results.count(False) >= 2 and sender.dropped == results.count(False)
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert "DAG 'dag' run 'r4'" in dropped[-1] and "queue_size" in dropped[-1]
    release.set()
    assert sender.close(timeout=10) == []
    assert handled == [f"r{n}" for n, ok in enumerate(results) if ok]


def test_shutdown_drains_what_it_can_in_time_and_logs_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    def takes_a_while(event: RunEvent) -> None:
        time.sleep(0.3 if event.run_id != "stuck" else 30)

    quick = AlertSender(AlertSettings(), handle=takes_a_while)
    for n in range(3):
        quick.submit(RunEvent("failure", "dag", f"q{n}"))
    assert quick.close(timeout=20) == []
    assert quick.pending == 0

    stuck = AlertSender(AlertSettings(), handle=takes_a_while)
    for run_id in ("stuck", "later_1", "later_2"):
        stuck.submit(RunEvent("failure", "dag", run_id))
    started = time.monotonic()
    left = stuck.close(timeout=0.5)
    assert time.monotonic() - started < 5
    assert [e.run_id for e in left] == ["later_1", "later_2"]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "run 'later_2' not sent: the process stopped before its turn" in logged
    [running] = [r.getMessage() for r in caplog.records if "still running" in r.getMessage()]
    assert running.startswith(
        "Signal alert for DAG 'dag' run 'stuck' may not arrive: its decision was still running"
    )
    assert "sweep" in running  # what happens next
    assert not stuck.submit(RunEvent("failure", "dag", "too_late"))


def test_a_bad_config_value_is_logged_with_the_run_it_did_not_alert(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIRFLOW__SIGNAL_ALERTS__COOLDOWN", "soon")
    add_dag("send_bad_config")
    listener = SignalAlertListener()  # reads [signal_alerts] from Airflow's configuration
    fail_run(listener, "send_bad_config")
    [line] = [r.getMessage() for r in caplog.records if "send_bad_config" in r.getMessage()]
    assert line.startswith("Signal alert for DAG 'send_bad_config' run 'run_1' (failed) not sent:")
    assert "[signal_alerts] cooldown = 'soon': not a number" in line
    assert "restart" in line  # what to do


def test_an_exception_in_one_alert_does_not_stop_the_next(caplog: pytest.LogCaptureFixture) -> None:
    handled: list[str] = []

    def flaky(event: RunEvent) -> None:
        if event.run_id == "bad":
            raise RuntimeError("boom")
        handled.append(event.run_id)

    sender = AlertSender(AlertSettings(), handle=flaky)
    for run_id in ("bad", "good"):
        sender.submit(RunEvent("failure", "dag", run_id))
    sender.close(timeout=10)
    assert handled == ["good"]
    assert "Signal alert for DAG 'dag' run 'bad' not sent: RuntimeError: boom" in caplog.text


@pytest.mark.parametrize("fault", ["hang", "down"])
def test_a_hanging_or_closed_api_never_reaches_the_scheduler_thread(
    fault: str,
    signal_api: SignalAPIEmulator,
    listener_for: Callable[..., SignalAlertListener],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dag_id = f"send_{fault}"
    add_dag(dag_id)
    if fault == "hang":
        signal_api.fail_next(5, action="hang", hang_seconds=30)
    else:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SIGNAL_DEFAULT",
            signal_api.connection_json().replace(str(signal_api.port), str(_closed_port())),
        )
    connects: list[str] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: Any) -> Any:
        connects.append(threading.current_thread().name)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    listener = listener_for(send_timeout=1.0, cooldown=0)
    runs = [add_run(dag_id, f"run_{n}", "failed", T0 + timedelta(minutes=n)) for n in range(3)]
    caller = threading.current_thread().name
    for run in runs:
        listener.on_dag_run_failed(dag_run=run, msg="task_failure")
    assert caller not in connects  # the listener returned without touching the network
    listener.before_stopping(component=None)
    assert connects and set(connects) == {"signal-alerts-sender"}
    failures = [r.getMessage() for r in caplog.records if "not delivered via connection" in r.getMessage()]
    assert (
        len({m.split(" not delivered")[0] for m in failures}) == 3
        and f"DAG '{dag_id}' run 'run_0'" in failures[0]
    )
    assert ("did not answer within 1 s" if fault == "hang" else "Connection refused") in failures[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_dags_tags_come_from_the_run_when_it_carries_its_dag(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    # `airflow dags test` on 2.11 stores no tags in the database; the DagRun still carries its DAG
    add_dag("send_tags_on_run")  # no tags in the database
    run = add_run("send_tags_on_run", "run_1", "failed", T0)
    run.dag = SimpleNamespace(tags={"team-a"}, dagrun_timeout=None)
    listener = listener_for(routes={"team-a": (TEAM_A,)})
    listener.on_dag_run_failed(dag_run=run, msg="task_failure")
    listener.before_stopping(component=None)
    assert [m.destination for m in signal_api.messages] == [TEAM_A]


def test_a_run_alert_is_sent_redacted(
    signal_api: SignalAPIEmulator, listener_for: Callable[..., SignalAlertListener]
) -> None:
    from airflow_provider_signal import _compat

    _compat.mask_secret("run-alert-Secret-55")
    add_dag("send_redacted")
    listener = listener_for()
    run = add_run("send_redacted", "run_1", "failed", T0)
    listener.on_dag_run_failed(dag_run=run, msg=f"gave up: {signal_api.password} and run-alert-Secret-55")
    listener.before_stopping(component=None)
    [message] = signal_api.messages
    assert "Reason: gave up: *** and ***" in message.text
    assert signal_api.password not in message.text and "run-alert-Secret-55" not in message.text


def test_a_run_alert_masks_credentials_written_into_its_reason_and_keeps_its_link(
    signal_api: SignalAPIEmulator,
    listener_for: Callable[..., SignalAlertListener],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Credentials no connection or variable told Airflow's masker of, in the run's reason.
    for section in ("API", "WEBSERVER"):  # [api] base_url on 3.x, [webserver] on 2.11
        monkeypatch.setenv(f"AIRFLOW__{section}__BASE_URL", "http://host:8080")
    add_dag("send_credentials")
    listener = listener_for()
    run = add_run("send_credentials", "run_1", "failed", T0)
    listener.on_dag_run_failed(
        dag_run=run,
        msg="could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; "
        "token=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    )
    listener.before_stopping(component=None)
    [message] = signal_api.messages
    assert (
        "Reason: could not connect to postgresql://etl:***@db.internal:5432/warehouse; token=***"
        in message.text.splitlines()
    )
    assert "S3cr3t-pw" not in message.text and "ghp_" not in message.text
    link = message.text.splitlines()[-1]
    assert link.startswith("Link: http://host:8080/dags/send_credentials/") and "run_1" in link
    assert "***" not in link


def test_a_conn_id_naming_a_connection_of_another_type_sends_nothing_and_says_why(
    signal_api: SignalAPIEmulator,
    listener_for: Callable[..., SignalAlertListener],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import json

    conn = json.loads(signal_api.connection_json())
    conn["conn_type"] = "http"
    monkeypatch.setenv("AIRFLOW_CONN_WEBHOOK", json.dumps(conn))
    caplog.set_level(logging.ERROR, logger="airflow_provider_signal")
    add_dag("send_wrong_type")
    listener = listener_for(conn_id="webhook")
    fail_run(listener, "send_wrong_type")
    listener.before_stopping(component=None)
    assert signal_api.request_count == 0
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Connection 'webhook' is of type 'http', not 'signal'" in logged
