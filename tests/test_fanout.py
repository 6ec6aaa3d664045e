"""Fan-out: one send to many people, a few at a time, within one time budget.

Real HTTP against the emulator throughout. pytest-mock stands in only where nothing real
can: a controllable clock (``_fanout.monotonic``) to reach the deadline without waiting
for it, and a spy on ``SignalClient.post`` that records which thread used which client.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import types
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_signal import _fanout
from airflow_provider_signal.callbacks import signal_failure_callback
from airflow_provider_signal.client import SignalClient, SignalClientSettings
from airflow_provider_signal.errors import SignalAPIError, SignalDeliveryError
from airflow_provider_signal.notifications.signal import send_signal_notification
from signal_log_capture import all_logs_at_debug, messages_from

NOTIFIER_LOGGER = "airflow_provider_signal.notifications.signal.SignalNotifier"


def numbers(count: int, first: int = 0) -> list[str]:
    return [f"4477009{n:05d}" for n in range(first, first + count)]


def send_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("signal-send-")]


@pytest.fixture
def post_calls(mocker: Any) -> list[tuple[SignalClient, str, str]]:
    """A spy on every ``SignalClient.post``: (client, thread name, destination), in call order."""
    calls: list[tuple[SignalClient, str, str]] = []
    real_post = SignalClient.post

    def record(client: SignalClient, payload: dict[str, Any], *, destination: str | None) -> Any:
        calls.append((client, threading.current_thread().name, str(destination)))
        return real_post(client, payload, destination=destination)

    mocker.patch.object(SignalClient, "post", autospec=True, side_effect=record)
    return calls


# -- the pool -------------------------------------------------------------------------------------


def test_each_recipient_is_posted_once_by_one_of_a_few_clients_and_results_keep_their_order(
    signal_api: Any, make_hook: Any, post_calls: list[tuple[SignalClient, str, str]]
) -> None:
    hook = make_hook()
    wanted = numbers(12)
    results = hook.send_message("to twelve", wanted)

    assert [r["destination"] for r in results] == wanted
    assert sorted(m.destination for m in signal_api.messages) == wanted
    assert sorted(destination for _, _, destination in post_calls) == wanted  # each once
    threads_of: dict[int, set[str]] = {}
    for client, thread, _ in post_calls:
        threads_of.setdefault(id(client), set()).add(thread)
    assert len(threads_of) <= hook.fanout_workers == 4
    assert all(len(threads) == 1 for threads in threads_of.values())  # a client never shared
    assert signal_api.connection_count <= 4
    assert send_threads() == []


def test_recipients_are_sent_to_at_the_same_time(signal_api: Any, make_hook: Any) -> None:
    # Every answer comes 2 s late; the emulator notes each message on arrival. Sent one
    # after the other, the arrivals would be 2 s apart; sent at once, they are not.
    signal_api.fail_next(4, delay=2.0)
    make_hook().send_message("slow API", numbers(4))

    arrivals = sorted(m.received_at for m in signal_api.messages)
    assert len(arrivals) == 4
    assert arrivals[-1] - arrivals[0] < 1.5


def test_every_recipient_of_a_hanging_api_fails_once_and_the_rest_are_delivered(
    signal_api: Any, make_hook: Any
) -> None:
    signal_api.fail_next(3, action="hang", hang_seconds=5)
    hook = make_hook(timeout=1, retries=2)
    wanted = numbers(6)
    with pytest.raises(SignalDeliveryError) as caught:
        hook.send_message("some hang", wanted)

    error = caught.value
    assert signal_api.request_count == 6  # a read time-out is never re-sent
    assert len(error.failures) == 3 and all(f.maybe_delivered for f in error.failures)
    assert len(error.results) == 3
    outcome = {f.destination: "failed" for f in error.failures} | {
        r["destination"]: "sent" for r in error.results
    }
    assert sorted(outcome) == wanted  # nothing lost
    failed = [f.destination for f in error.failures]
    assert failed == sorted(failed) and [r["destination"] for r in error.results] == sorted(
        r["destination"] for r in error.results
    )
    assert "3 of 6 destination(s)" in str(error)
    assert send_threads() == []


def test_close_releases_every_connection_and_the_hook_works_again(signal_api: Any, make_hook: Any) -> None:
    hook = make_hook()
    hook.send_message("first", numbers(8))
    assert 1 <= signal_api.connection_count <= 4
    hook.close()
    assert _no_open_connections(signal_api)

    hook.send_message("second", numbers(2))
    assert len(signal_api.messages) == 10


def _wait_until(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _no_open_connections(emulator: Any) -> bool:
    """The emulator holds no client connection open (it notes each one it accepts and closes)."""

    def none_open() -> bool:
        with emulator._lock:
            return not emulator._open_sockets

    return _wait_until(none_open)


def test_an_interrupted_send_starts_nothing_new_and_leaves_no_thread(
    signal_api: Any, make_hook: Any, mocker: Any
) -> None:
    class Interrupted(BaseException):
        """Like Airflow's task time-out: raised in the calling thread, not an Exception."""

    real_post = SignalClient.post
    caller = threading.current_thread()

    def post(client: SignalClient, payload: dict[str, Any], *, destination: str | None) -> Any:
        if threading.current_thread() is caller:
            # Interrupt the caller while the three other workers' requests are in flight.
            _wait_until(lambda: signal_api.request_count >= 3)
            raise Interrupted
        return real_post(client, payload, destination=destination)

    mocker.patch.object(SignalClient, "post", autospec=True, side_effect=post)
    signal_api.fail_next(3, delay=1.0)
    with pytest.raises(Interrupted):
        make_hook().send_message("interrupted", numbers(20))

    assert send_threads() == []  # joined before the interruption went on
    # The other workers each finished the send they had started, and took no other.
    assert signal_api.request_count == 3
    assert len(signal_api.messages) == 3


# -- the deadline (a controllable clock) ----------------------------------------------------------


@pytest.fixture
def clock(mocker: Any) -> Any:
    """The fan-out's clock, frozen at 1000 s; tests move it by changing ``return_value``."""
    return mocker.patch.object(_fanout, "monotonic", return_value=1000.0)


def test_late_turns_get_fewer_retries_and_after_the_deadline_none_is_attempted(
    signal_api: Any, make_hook: Any, mocker: Any, clock: Any
) -> None:
    real_post = SignalClient.post
    moves = iter([85.0, 10.0])  # default settings: time_budget 90 s, deadline 91 s

    def post_then_move_the_clock(client: SignalClient, payload: dict[str, Any], **kwargs: Any) -> Any:
        try:
            return real_post(client, payload, **kwargs)
        finally:
            clock.return_value += next(moves, 0.0)

    mocker.patch.object(SignalClient, "post", autospec=True, side_effect=post_then_move_the_clock)
    hook = make_hook()
    hook.fanout_workers = 1  # one at a time, so each turn sees the clock the previous one left
    assert hook.settings.time_budget == 90
    first, second, third = numbers(3)
    signal_api.fail_next(1)  # the first answers at once
    signal_api.fail_next(5, status=503, headers={"Retry-After": "0"})
    with pytest.raises(SignalDeliveryError) as caught:
        hook.send_message("against the clock", [first, second, third])

    error = caught.value
    assert [r["destination"] for r in error.results] == [first]
    late, never = error.failures
    # 6 s left: no time for a retry (3 would have been made), nor for a 10 s read time-out
    assert (late.destination, late.status_code, late.maybe_delivered) == (second, 503, False)
    assert signal_api.request_count == 2
    assert signal_api.connection_count == 1  # the late turn kept the worker's connection
    assert (never.destination, never.status_code, never.maybe_delivered) == (third, None, False)
    assert "was not sent" in str(never) and "time budget of 90 s" in str(never)
    assert "No request was made for it" in str(never) and "'signal_default'" in str(never)
    assert third in str(error) and "2 of 3 destination(s)" in str(error)

    # The next send starts a new budget: the worker's own time-out and retries are back.
    assert hook.client.settings is hook.settings
    signal_api.clear_faults()
    signal_api.fail_next(2, status=503, headers={"Retry-After": "0"})
    [result] = hook.send_message("again", [third])
    assert result["destination"] == third
    assert signal_api.request_count == 2 + 3


def test_settings_within_keeps_what_fits_then_drops_retries_then_shortens_the_time_out() -> None:
    settings = SignalClientSettings(system_id="s", password="p", timeout=10, retries=3)
    assert settings.time_budget == 90
    assert _fanout.settings_within(settings, 90) is settings
    assert _fanout.settings_within(settings, 45) == dataclasses.replace(settings, retries=1)
    shorter = _fanout.settings_within(settings, 9)
    assert shorter is not None and shorter.retries == 0
    assert shorter.time_budget <= 9 and shorter.timeout == pytest.approx(4.5, abs=0.01)
    assert _fanout.settings_within(settings, 1.9) is None  # not even a 1 s attempt fits
    assert _fanout.settings_within(settings, -5) is None


# -- alerts bounded tighter than the connection ----------------------------------------------------


def alert_context() -> dict[str, Any]:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG
    dag = DAG(dag_id="fanout_alerts", schedule=None, start_date=datetime(2026, 1, 1))
    return {"dag": dag, "run_id": "manual__1"}


def test_a_callbacks_retries_override_the_connections(signal_api: Any, set_connection: Any) -> None:
    set_connection(extra={"retries": 3, "backoff_factor": 0})
    signal_api.fail_next(10, status=503, headers={"Retry-After": "0"})
    signal_failure_callback(numbers(2), retries=0)(alert_context())
    assert signal_api.request_count == 2  # one each; the connection's retries would make 8

    signal_api.reset()
    signal_api.fail_next(10, status=503, headers={"Retry-After": "0"})
    signal_failure_callback(numbers(1))(alert_context())
    assert signal_api.request_count == 4


def test_a_notifiers_timeout_overrides_the_connections(
    signal_api: Any, set_connection: Any, caplog: pytest.LogCaptureFixture
) -> None:
    set_connection(extra={"timeout": 30})
    signal_api.fail_next(1, action="hang", hang_seconds=5)
    with all_logs_at_debug(caplog):
        send_signal_notification(text="late", destinations=numbers(1), timeout=0.5)(alert_context())

    [logged] = messages_from(caplog, NOTIFIER_LOGGER, logging.ERROR)
    assert "did not answer within 0.5 s" in logged
    assert signal_api.request_count == 1


def test_failures_are_signal_api_errors_in_destination_order(signal_api: Any, make_hook: Any) -> None:
    signal_api.fail_next(20, status=400, body={"error": "Destination not on Signal"})
    wanted = numbers(9)
    with pytest.raises(SignalDeliveryError) as caught:
        make_hook().send_message("all refused", wanted)
    failures = caught.value.failures
    assert all(isinstance(f, SignalAPIError) and f.status_code == 400 for f in failures)
    assert [f.destination for f in failures] == wanted


# -- a worker that dies reports only what is known (issue 19 item 7) ------------------------------


@pytest.mark.parametrize("after_the_request", [True, False], ids=["after-send", "before-send"])
def test_a_worker_thread_that_dies_reports_only_what_is_known(
    signal_api: Any, make_hook: Any, mocker: Any, after_the_request: bool
) -> None:
    """A ``SystemExit`` in a worker thread (not an ``Exception``) once its request went out
    may have delivered the message; one raised before any request certainly did not."""
    real_post = SignalClient.post
    caller = threading.current_thread()
    worker_took_its_turn = threading.Event()
    doomed: list[str | None] = []

    def post(client: SignalClient, payload: dict[str, Any], *, destination: str | None) -> Any:
        if threading.current_thread() is caller:
            assert worker_took_its_turn.wait(10)  # so the worker thread gets the other destination
            return real_post(client, payload, destination=destination)
        doomed.append(destination)
        real_post(client, payload, destination=destination)  # delivered, then the thread dies
        worker_took_its_turn.set()
        raise SystemExit(1)

    real_limited_to = SignalClient.limited_to

    def limited_to(client: SignalClient, settings: Any) -> Any:
        if threading.current_thread() is not caller:  # the thread dies before any request
            doomed.append(None)
            worker_took_its_turn.set()
            raise SystemExit(1)
        return real_limited_to(client, settings)

    mocker.patch.object(SignalClient, "post", autospec=True, side_effect=post)
    if not after_the_request:
        mocker.patch.object(SignalClient, "limited_to", autospec=True, side_effect=limited_to)
    mocker.patch.object(threading, "excepthook")  # the dying thread's traceback is expected
    hook = make_hook()
    outcomes = _fanout.send_to_all("hi", ["447700900123", "447700900999"], hook._fanout_clients(2))

    assert len(doomed) == 1
    [failure] = [outcome for outcome in outcomes if isinstance(outcome, SignalAPIError)]
    dead = failure.destination
    assert dead in ("447700900123", "447700900999")
    assert failure.maybe_delivered is after_the_request
    assert ("may or may not have been delivered" in str(failure)) is after_the_request
    assert ("No request was made" in str(failure)) is False
    assert "stopped (SystemExit in thread signal-send-1)" in str(failure)  # the one worker thread
    assert [m.destination for m in signal_api.messages].count(dead) == int(after_the_request)
    assert len(signal_api.messages) == 1 + int(after_the_request)


class _TurnLockThatKillsAWorker:
    """The fan-out's turn lock, whose first release in a worker thread ends that thread with
    ``SystemExit``: the worker has taken a turn and not yet noted it (the one moment a dying
    thread leaves a destination that no one attempted). The calling thread waits after its
    first turn until then, so the worker gets a turn to lose."""

    def __init__(self, caller: threading.Thread) -> None:
        self._lock = threading.Lock()
        self._caller = caller
        self._worker_died = threading.Event()
        self.killed: list[str] = []

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()
        if threading.current_thread() is self._caller:
            assert self._worker_died.wait(10)
        elif not self.killed:
            self.killed.append(threading.current_thread().name)
            self._worker_died.set()
            raise SystemExit(1)


def test_a_turn_lost_with_its_thread_says_the_thread_stopped_not_that_time_ran_out(
    signal_api: Any, make_hook: Any, mocker: Any
) -> None:
    turn_lock = _TurnLockThatKillsAWorker(threading.current_thread())

    class Threading(types.ModuleType):
        """The threading module as the fan-out sees it, with the turn lock above."""

        def __getattr__(self, name: str) -> Any:
            return (lambda: turn_lock) if name == "Lock" else getattr(threading, name)

    mocker.patch.object(_fanout, "threading", Threading("threading"))
    mocker.patch.object(threading, "excepthook")  # the dying thread's traceback is expected
    wanted = numbers(3)
    outcomes = _fanout.send_to_all("hi", wanted, make_hook()._fanout_clients(2))

    assert turn_lock.killed == ["signal-send-1"]
    [failure] = [outcome for outcome in outcomes if isinstance(outcome, SignalAPIError)]
    assert failure.maybe_delivered is False and failure.status_code is None
    assert "was not sent" in str(failure)
    assert "time budget" not in str(failure)  # time was not what ran out
    assert "stopped (SystemExit in thread signal-send-1) before any request was made" in str(failure)
    delivered = sorted(m.destination for m in signal_api.messages)
    assert delivered == sorted(set(wanted) - {failure.destination})  # the caller sent the rest
    assert signal_api.request_count == 2
    assert send_threads() == []
