"""What the alerts record and how a sender acts on it, against a real SQLite metadata database
(``airflow db migrate``) and the emulator over HTTP: the sender's ``process`` and ``sweep`` are
called on the test's thread with a clock the test moves (the background thread is not started).

Delivered, held back, muted and given up are recorded after they happen; a send that cannot
have reached the API is recorded as such and sent later, saying it was delayed; one that may
have arrived is sent again once, marked, never a third time; the sweep finds what a crash or a
full queue left behind; malformed rows and ``airflow db clean`` neither crash nor duplicate.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pytest_mock import MockerFixture

from airflow_provider_signal.alerts import records
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.sender import AlertSender
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import add_dag, add_run, alert_rows, clean_slate, migrate, outcome_rows
from alerts_support import covered

ONCALL = "447700900999"
HOUR = 3600.0
FAILED, RECOVERED = records.DELIVERED["failure"], records.DELIVERED["recovery"]


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate()


@pytest.fixture(autouse=True)
def _fresh_database(metadata_db: None) -> None:
    clean_slate()


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender_for(signal_api: SignalAPIEmulator, clock: Clock) -> Callable[..., AlertSender]:
    def build(**settings: Any) -> AlertSender:
        values: dict[str, Any] = {
            "enabled": True,
            "destinations": (ONCALL,),
            "send_retries": 0,
            "send_timeout": 2,
            "group_wait": 0,  # grouping has its own tests: here each run goes out as it is decided
            "group_interval": 0,
        }
        values.update(settings)
        return AlertSender(AlertSettings(**values), clock=clock)

    return build


def run_ended(
    clock: Clock, dag_id: str, run_id: str, state: str = "failed", minutes_ago: float = 0
) -> RunEvent:
    run = add_run(dag_id, run_id, state, clock.now - timedelta(minutes=minutes_ago))
    return event_from_dag_run("failure" if state == "failed" else "recovery", run, "task_failure")


def texts(api: SignalAPIEmulator, dag_id: str) -> list[str]:
    return [m.text for m in api.messages if f"\nDAG: {dag_id}\n" in m.text]


def test_a_delivered_alert_is_recorded_after_its_attempt_and_the_run_never_alerts_twice(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_first")
    sender = sender_for()
    event = run_ended(clock, "rec_first", "run_1")
    sender.process(event)
    sender.process(event)  # reported twice (apache/airflow#55299), or swept after the listener
    assert len(texts(signal_api, "rec_first")) == 1
    assert alert_rows("rec_first") == [
        (records.QUEUED, "run_1"),
        (records.ATTEMPT, "run_1"),
        (FAILED, "run_1"),
    ]


def test_the_cooldown_holds_back_and_the_next_alert_counts_what_it_held(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_storm")
    sender = sender_for(cooldown=HOUR)
    for n in range(10):
        sender.process(run_ended(clock, "rec_storm", f"run_{n}"))
        clock.advance(1)
    assert len(texts(signal_api, "rec_storm")) == 1
    assert [event for event, _ in outcome_rows("rec_storm")] == [FAILED] + [records.HELD] * 9
    clock.advance(55)
    sender.process(run_ended(clock, "rec_storm", "run_10"))
    first, second = texts(signal_api, "rec_storm")
    assert "earlier failed" not in first
    assert "Also: 9 earlier failed runs of this DAG since the last alert" in second


def test_fail_recover_fail_gives_three_messages_and_muted_runs_are_recorded(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_flap")
    add_dag("rec_muted", tags=["signal_alerts:mute"])
    sender = sender_for(cooldown=HOUR, notify_on=frozenset({"failure", "recovery"}))
    sender.process(run_ended(clock, "rec_flap", "run_1"))
    clock.advance(1)
    sender.process(run_ended(clock, "rec_flap", "run_2", state="success"))
    clock.advance(1)
    sender.process(run_ended(clock, "rec_flap", "run_3"))
    assert [text.splitlines()[0] for text in texts(signal_api, "rec_flap")] == [
        "❌ Airflow DAG run failed",
        "✅ Airflow DAG recovered",
        "❌ Airflow DAG run failed",
    ]
    sender.process(run_ended(clock, "rec_muted", "run_1"))
    assert outcome_rows("rec_muted") == [(records.MUTED, "run_1")]
    assert texts(signal_api, "rec_muted") == []


def test_an_unreachable_api_is_retried_the_message_says_delayed_and_starts_no_cooldown(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_outage")
    sender = sender_for(cooldown=HOUR)
    event = run_ended(clock, "rec_outage", "run_1")
    signal_api.fail_next(2, status=503)
    sender.process(event)
    assert [e for e, _ in alert_rows("rec_outage")] == [
        records.QUEUED,
        records.ATTEMPT,
        records.NOT_DELIVERED,
        records.QUEUED,  # back in the outbox, with its back-off
    ]
    clock.advance(3)
    # The same DAG fails again while run_1's alert waits for its retry: run_2 joins it (503 again).
    sender.process(run_ended(clock, "rec_outage", "run_2"))
    assert outcome_rows("rec_outage") == []
    clock.advance(3)
    sender.process(event)  # the API is back: one message for both runs, promptly
    [text] = [m.text for m in signal_api.messages if "rec_outage" in m.text]
    start = (clock.now - timedelta(minutes=6)).strftime("%H:%M")
    assert text.splitlines()[0] == "❌ Airflow: 2 DAG runs failed of 1 DAG"
    assert f"Delayed: the Signal API could not be reached from {start} to {clock.now:%H:%M} UTC" in text
    assert "• rec_outage (2 runs, 2 delayed)" in text and "Sent again" not in text
    assert outcome_rows("rec_outage") == [(FAILED, "run_1"), (FAILED, "run_2")]
    # An alert given up (too old) starts no cooldown: the next failure alerts.
    add_dag("rec_lost")
    lost = run_ended(clock, "rec_lost", "run_1")
    signal_api.fail_next(1, status=503)
    sender.process(lost)
    clock.advance(61)
    sender.process(lost)
    assert outcome_rows("rec_lost")[-1] == (records.GIVEN_UP, "run_1")
    sender.process(run_ended(clock, "rec_lost", "run_2"))
    [alert] = texts(signal_api, "rec_lost")
    assert "Run: run_2" in alert


def test_a_copy_that_may_have_arrived_is_sent_again_once_marked_never_a_third_time(
    signal_api: SignalAPIEmulator,
    sender_for: Callable[..., AlertSender],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_dag("rec_maybe")
    sender = sender_for()
    event = run_ended(clock, "rec_maybe", "run_1")
    signal_api.fail_next(2, action="drop", deliver=True)  # processed, answer lost: twice
    sender.process(event)
    clock.advance(0.1)  # the marked repeat goes out after a second
    sender.process(event)
    clock.advance(0.1)
    sender.process(event)
    first, second = texts(signal_api, "rec_maybe")
    assert "Sent again" not in first
    assert "Sent again: the first attempt may not have arrived" in second
    assert outcome_rows("rec_maybe") == [(records.GIVEN_UP, "run_1")]
    assert (
        "Signal alert for DAG 'rec_maybe' run 'run_1' given up: two copies may already have arrived"
        in caplog.text
    )


def test_the_sweep_sends_what_a_crash_left_and_leaves_decided_runs_alone(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    from airflow.utils.session import create_session

    add_dag("rec_crash_before")
    add_dag("rec_crash_mid")
    add_dag("rec_done")
    sender = sender_for()
    never_queued = run_ended(clock, "rec_crash_before", "run_1", minutes_ago=2)  # killed before the alert
    mid = run_ended(clock, "rec_crash_mid", "run_1", minutes_ago=5)
    with create_session() as session:  # killed with the request out: an attempt past its deadline
        records.record(
            session,
            records.ATTEMPT,
            mid,
            clock.now - timedelta(minutes=4),
            deadline=(clock.now - timedelta(minutes=3)).isoformat(),
        )
    done = run_ended(clock, "rec_done", "run_1", minutes_ago=3)
    sender.process(done)
    assert sender.sweep() >= 2
    assert sender.sweep() == 0  # everything has an outcome now
    # Found by the same sweep, the two go out together: one message naming both, the one whose
    # first copy may have arrived marked.
    [swept] = [m.text for m in signal_api.messages if "rec_crash" in m.text]
    assert swept.splitlines()[0] == "❌ Airflow: 2 DAG runs failed in 2 DAGs"
    assert "• rec_crash_before: " in swept and "• rec_crash_mid (delayed): " in swept
    assert "Sent again: an earlier attempt may not have arrived" in swept
    assert len(texts(signal_api, "rec_done")) == 1
    assert never_queued.run_id == "run_1"
    assert [event for event, _ in outcome_rows("rec_crash_mid")] == [FAILED]


def test_malformed_rows_and_a_db_clean_neither_crash_nor_duplicate(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    add_dag("rec_junk")
    add_dag("rec_cleaned")
    with create_session() as session:
        for extra in (
            "not json",
            "[1, 2]",
            json.dumps({"clear_number": "x", "delivered_at": 5}),
            "[" * 5000,
            None,
        ):
            session.add(Log(event=FAILED, owner="someone", extra=extra, dag_id="rec_junk", run_id="old"))
    sender = sender_for(cooldown=0)
    sender.process(run_ended(clock, "rec_junk", "run_1"))
    assert len(texts(signal_api, "rec_junk")) == 1
    # An old run whose rows were deleted by `airflow db clean` is never alerted again.
    old = run_ended(clock, "rec_cleaned", "run_old", minutes_ago=120)
    sender.process(old)  # too old: given up
    with create_session() as session:
        session.execute(delete(Log).where(Log.dag_id == "rec_cleaned"))
    sender.sweep()
    assert texts(signal_api, "rec_cleaned") == []


def test_a_burst_beyond_the_queue_only_delays_alerts_the_sweep_sends_every_dropped_one(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    # 300 DAGs fail at once while the sender is busy with the first: the queue takes 100 and the
    # other 199 are dropped (logged, counted); the sweep then finds them without an outcome.
    burst, queue_size = 300, 100
    sender = sender_for(queue_size=queue_size, cooldown=HOUR)
    handling, gate = threading.Event(), threading.Event()

    def slow_handle(event: RunEvent) -> None:  # the API is slow: the first send takes a while
        handling.set()
        gate.wait(30)
        sender.process(event)

    busy = AlertSender(sender.settings, handle=slow_handle, clock=clock)
    events = []
    for n in range(burst):
        add_dag(f"rec_burst_{n}")
        events.append(run_ended(clock, f"rec_burst_{n}", "run_1"))
    assert busy.submit(events[0])
    assert handling.wait(10)
    accepted = [busy.submit(event) for event in events[1:]]
    gate.set()
    assert busy.close(timeout=60) == []  # what the queue took, all sent
    assert accepted.count(False) == busy.dropped == burst - 1 - queue_size
    clock.advance(1)  # past the sweep's grace for runs that just ended
    assert sender.sweep() >= busy.dropped
    # Every run named or counted exactly once, in a handful of messages: the queue's 100 one by one
    # (group_wait 0 here), the 199 the sweep found in one.
    burst_texts = [m.text for m in signal_api.messages if "rec_burst_" in m.text]
    seen = covered(burst_texts)
    assert all(count == 1 for name, count in seen.items() if name != "<counted>"), seen
    assert sum(seen.values()) == burst
    assert len(burst_texts) <= queue_size + 1 + 3
    for n in range(burst):
        assert [event for event, _ in outcome_rows(f"rec_burst_{n}")] == [FAILED], f"rec_burst_{n}"
    assert sender.sweep() == 0


def test_a_delivery_dated_in_the_future_does_not_mute_the_dag(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    from airflow.utils.session import create_session

    add_dag("rec_skew")
    ahead = clock.now + timedelta(hours=20)  # written by a scheduler whose clock ran ahead
    with create_session() as session:
        first = run_ended(clock, "rec_skew", "run_1", minutes_ago=1)
        records.record(session, FAILED, first, ahead, delivered_at=ahead.isoformat())
    sender_for(cooldown=HOUR).process(run_ended(clock, "rec_skew", "run_2"))
    [text] = texts(signal_api, "rec_skew")
    assert "Run: run_2" in text


def test_a_cleared_run_that_fails_again_alerts_again(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    from dataclasses import replace

    add_dag("rec_cleared")
    sender = sender_for(cooldown=0)
    event = run_ended(clock, "rec_cleared", "run_1")
    sender.process(event)
    sender.process(replace(event, clear_number=1))
    sender.process(replace(event, clear_number=1))
    assert len(texts(signal_api, "rec_cleared")) == 2


def cleared_and_succeeded(clock: Clock, event: RunEvent) -> RunEvent:
    """``event``'s run cleared and now successful, as the scheduler records it."""
    from dataclasses import replace

    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(
            select(DagRun).where(DagRun.dag_id == event.dag_id, DagRun.run_id == event.run_id)
        )
        run.state, run.clear_number, run.end_date = "success", event.clear_number + 1, clock.now
    return replace(event, kind="recovery", clear_number=event.clear_number + 1, end_date=clock.now, msg="")


def test_a_failed_run_cleared_and_then_successful_sends_the_recovery(
    signal_api: SignalAPIEmulator,
    sender_for: Callable[..., AlertSender],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_dag("rec_cleared_ok")
    sender = sender_for(notify_on=frozenset({"failure", "recovery"}))
    run_ended(
        clock, "rec_cleared_ok", "run_0", state="success", minutes_ago=10
    )  # the run before did not fail
    failed = run_ended(clock, "rec_cleared_ok", "run_1", minutes_ago=5)
    sender.process(failed)
    sender.process(cleared_and_succeeded(clock, failed))
    assert [text.splitlines()[0] for text in texts(signal_api, "rec_cleared_ok")] == [
        "❌ Airflow DAG run failed",
        "✅ Airflow DAG recovered",
    ]
    assert outcome_rows("rec_cleared_ok") == [(FAILED, "run_1"), (RECOVERED, "run_1")]
    assert "the previous run did not fail" not in caplog.text


def test_a_cleared_run_whose_failure_was_never_alerted_sends_no_recovery(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_cleared_muted")
    recovery = frozenset({"failure", "recovery"})
    failed = run_ended(clock, "rec_cleared_muted", "run_1", minutes_ago=5)
    sender_for(notify_on=recovery, mute_dag_ids=("rec_cleared_muted",)).process(failed)
    sender_for(notify_on=recovery).process(cleared_and_succeeded(clock, failed))  # unmuted since
    assert texts(signal_api, "rec_cleared_muted") == []
    assert outcome_rows("rec_cleared_muted") == [(records.MUTED, "run_1")]


def test_tags_and_failed_tasks_are_read_from_the_database() -> None:
    from airflow.utils.session import create_session

    add_dag("rec_tags", tags=["team-a", "signal_alerts:mute"])
    with create_session() as session:
        assert sorted(records.dag_tags(session, "rec_tags")) == ["signal_alerts:mute", "team-a"]
        assert records.dag_tags(session, "no_such_dag") == []
        assert records.failed_tasks(session, "rec_tags", "no_run") == ([], 0)


def test_later_sweeps_read_only_what_changed_and_still_find_every_unalerted_failure(
    signal_api: SignalAPIEmulator,
    sender_for: Callable[..., AlertSender],
    clock: Clock,
    mocker: MockerFixture,
) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import sweep

    sender = sender_for(cooldown=0)
    add_dag("rec_cursor")
    running = add_run("rec_cursor", "long_run", "running", clock.now)  # started before the first sweep
    assert sender.sweep() == 0 and sender.cursor.full_reads == 1
    # Since then: a new run failed without its event (dropped), and the long run failed too.
    add_run("rec_cursor", "new_run", "failed", clock.now + timedelta(seconds=5))
    with create_session() as session:
        session.merge(running).state = "failed"
    clock.advance(1.5)  # past the sweep's grace
    whole_window = mocker.spy(records, "failed_in_window")
    assert sender.sweep() == 2
    assert whole_window.call_count == 0 and sender.cursor.full_reads == 1  # by primary key only
    assert sorted(e for e, _ in outcome_rows("rec_cursor")) == [FAILED, FAILED]
    assert sender.sweep() == 0
    assert sweep.SWEEP_GRACE < 60  # the clock moved past it


def test_a_notice_waiting_for_its_group_is_left_to_the_outbox_by_the_sweep_and_sent_once_due(
    signal_api: SignalAPIEmulator, sender_for: Callable[..., AlertSender], clock: Clock
) -> None:
    add_dag("rec_waiting")
    sender = sender_for(group_wait=60)
    sender.process(run_ended(clock, "rec_waiting", "run_1"))
    assert [e for e, _ in alert_rows("rec_waiting")] == [records.QUEUED] and signal_api.messages == []
    clock.advance(0.5)  # past the sweep's grace, inside group_wait
    assert sender.sweep() == 0  # not decided again: its notice is the outbox's
    assert signal_api.messages == []
    clock.advance(0.6)  # group_wait over: the sweep's flush sends it
    assert sender.sweep() == 0
    [text] = texts(signal_api, "rec_waiting")
    assert "Run: run_1" in text
