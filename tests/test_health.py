"""The health watcher and the outbox that sends its notices, in-process, against the emulator and
a real SQLite metadata database: heartbeats written into Airflow's ``job`` table the way each
component writes them become one message per incident start, reminder and end, whichever and
however many watchers look. The rules themselves (:mod:`.health`) are tested as pure functions
first. The real components killed and started again: tests/test_health_deployment.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_signal.alerts import health, health_notices, health_store, owners, silence_store
from airflow_provider_signal.alerts.config import AlertSettings, parse_settings
from airflow_provider_signal.alerts.health import Beat, Observation, QueuedTasks
from airflow_provider_signal.alerts.health_text import HealthReport, health_text
from airflow_provider_signal.alerts.health_watcher import HealthWatcher
from airflow_provider_signal.alerts.listener import SignalAlertListener
from airflow_provider_signal.alerts.pipeline import Pipeline
from airflow_provider_signal.alerts.silences import new_silence
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import T0, clean_slate, migrate

ONCALL = "447700900999"
PLATFORM = "447700900321"
THRESHOLD = 60.0


def beat(component: str, job_id: int, last: float, start: float = -3600, running: bool = True) -> Beat:
    """A job that started ``start`` and last heartbeated ``last`` seconds from T0."""
    return Beat(
        component, job_id, "host-1", T0 + timedelta(seconds=start), T0 + timedelta(seconds=last), running
    )


# -- the rules, pure ----------------------------------------------------------------------------


def test_a_scheduler_is_down_only_after_the_threshold_without_a_heartbeat() -> None:
    fresh = Observation(T0, beats=(beat("scheduler", 1, -59),))
    stale = Observation(T0, beats=(beat("scheduler", 1, -61),))
    assert health.problems(fresh, THRESHOLD) == {}
    [problem] = health.problems(stale, THRESHOLD).values()
    assert (problem.key, problem.since) == ("scheduler_down", T0 - timedelta(seconds=61))
    restarting = Observation(T0, beats=(beat("scheduler", 1, -1, running=False),))
    assert health.problems(restarting, THRESHOLD) == {}  # stopped a second ago: maybe a restart
    stopped = Observation(T0, beats=(beat("scheduler", 1, -61, running=False),))
    assert list(health.problems(stopped, THRESHOLD)) == ["scheduler_down"]  # a clean stop counts too


def test_a_triggerer_or_dag_processor_counts_only_where_one_ran_or_deferred_tasks_wait() -> None:
    assert health.problems(Observation(T0, beats=(beat("scheduler", 1, 0),)), THRESHOLD) == {}
    waiting = Observation(T0, beats=(beat("scheduler", 1, 0),), deferred=2)
    assert list(health.problems(waiting, THRESHOLD, watching_since=T0 - timedelta(hours=1))) == [
        "triggerer_down"
    ]
    ran = Observation(T0, beats=(beat("scheduler", 1, 0), beat("dag_processor", 2, -300)))
    assert list(health.problems(ran, THRESHOLD)) == ["dag_processor_down"]
    gone_a_day = Observation(T0, beats=(beat("scheduler", 1, 0),))
    still_open = health.problems(gone_a_day, THRESHOLD, frozenset({"triggerer_down"}))
    assert list(still_open) == ["triggerer_down"]  # out of the day's window, but not back


def test_fewer_schedulers_than_ran_at_once_is_degraded_and_a_restart_is_not_counted_twice() -> None:
    killed_and_restarted = (
        beat("scheduler", 1, 0),
        beat("scheduler", 2, -7200, start=-80000),  # killed two hours ago
        beat("scheduler", 3, 0, start=-7100),  # its restart
    )
    assert health.most_at_once(list(killed_and_restarted), T0) == 2
    assert health.problems(Observation(T0, beats=killed_and_restarted), THRESHOLD) == {}
    one_of_two = (beat("scheduler", 1, 0), beat("scheduler", 2, -120))
    [problem] = health.problems(Observation(T0, beats=one_of_two), THRESHOLD).values()
    assert (problem.key, problem.healthy, problem.expected) == ("scheduler_degraded", 1, 2)
    both = (beat("scheduler", 1, -120), beat("scheduler", 2, -120))
    worse = health.problems(Observation(T0, beats=both), THRESHOLD, frozenset({"scheduler_degraded"}))
    assert sorted(worse) == ["scheduler_degraded", "scheduler_down"]  # the degraded one is not over


def test_incidents_open_remind_and_close() -> None:
    problem = health.Problem("scheduler_down", "scheduler", T0)
    [opened] = health.changes({}, {"scheduler_down": problem}, T0, 3600)
    assert opened.action == "open"
    incident = health.Incident("scheduler_down", 7, T0, T0, problem)
    assert (
        health.changes(
            {"scheduler_down": incident}, {"scheduler_down": problem}, T0 + timedelta(minutes=59), 3600
        )
        == []
    )
    [reminder] = health.changes(
        {"scheduler_down": incident}, {"scheduler_down": problem}, T0 + timedelta(hours=1), 3600
    )
    assert reminder.action == "remind"
    assert (
        health.changes({"scheduler_down": incident}, {"scheduler_down": problem}, T0 + timedelta(days=9), 0)
        == []
    )
    [closed] = health.changes({"scheduler_down": incident}, {}, T0, 3600)
    assert (closed.action, closed.problem) == ("close", problem)


def test_the_texts_name_the_component_the_time_and_the_duration() -> None:
    at = T0.replace(hour=21, minute=7)
    down = HealthReport(
        "open", "scheduler_down", "scheduler", at - timedelta(minutes=3), at, watcher="triggerer on h"
    )
    text = health_text([down], link="http://airflow/api/v2/monitor/health")
    assert text.startswith("🚨 Airflow scheduler down: no heartbeat since 21:04 UTC (3 min 0 s).")
    assert "Seen by: triggerer on h" in text and text.endswith("Health: http://airflow/api/v2/monitor/health")
    back = HealthReport("close", "scheduler_down", "scheduler", at - timedelta(minutes=7), at, opened_at=at)
    assert (
        health_text([back])
        == "✅ Airflow scheduler back: heartbeating again after 7 min 0 s (21:00 UTC to 21:07 UTC)."
    )
    stuck = HealthReport(
        "open",
        "tasks_stuck",
        "workers",
        at - timedelta(minutes=6),
        at,
        executor="CeleryExecutor",
        queues=(("default", 3), ("gpu", 1)),
        tasks=4,
    )
    assert (
        "4 tasks, the oldest for 6 min 0 s, on queue(s) default (3), gpu (1) (CeleryExecutor)"
        in health_text([stuck])
    )
    both = health_text(
        [down, HealthReport("open", "triggerer_down", "triggerer", at - timedelta(minutes=4), at)]
    )
    assert "scheduler down" in both and "\n🚨 Airflow triggerer down: no heartbeat since 21:03 UTC" in both


def test_a_stored_report_reads_back_the_same_and_a_bad_one_is_refused() -> None:
    report = HealthReport(
        "remind",
        "tasks_stuck",
        "workers",
        T0,
        T0,
        opened_at=T0,
        executor="CeleryExecutor",
        queues=(("q", 2),),
        tasks=2,
    )
    assert health_notices.from_extra(json.loads(json.dumps(health_notices.to_extra(report)))) == report
    assert health_notices.from_extra({"key": "x"}) is None and health_notices.from_extra("x") is None


def test_the_health_keys_are_checked_with_their_names() -> None:
    settings = parse_settings({"notify_on": "failure,health", "health_destinations": "+447700900321"}.get)
    assert "health" in settings.notify_on and settings.health_recipients() == [PLATFORM]
    assert (
        settings.health_threshold == 180 and settings.repeat_interval == 14400 and settings.stuck_after == 300
    )
    with pytest.raises(
        SignalInputError, match=r"\[signal_alerts\] health_threshold = '5': must be at least 10"
    ):
        parse_settings({"health_threshold": "5"}.get)


# -- the watcher and the outbox, against a real database -----------------------------------------


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate()


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    from airflow.jobs.job import Job
    from airflow.models.log import Log
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    def wipe() -> None:
        clean_slate()  # a notice another test left queued would be flushed with this test's
        with create_session() as session:
            for statement in (
                delete(Job),
                delete(Log).where(Log.event.like("signal_health%")),
                delete(Log).where(Log.run_id.like(f"{health_notices.RUN_PREFIX}%")),
                delete(Variable).where(Variable.key.like("signal_silence.%")),
            ):
                session.execute(statement.execution_options(synchronize_session=False))

    wipe()
    yield
    wipe()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def heartbeat(
    job_id: int, at: datetime, job_type: str = "SchedulerJob", start: datetime | None = None
) -> None:
    """What a running component does: its ``job`` row, created once, its heartbeat written again."""
    from airflow.jobs.job import Job
    from airflow.utils.session import create_session
    from sqlalchemy import insert, update

    with create_session() as session:
        if session.get(Job, job_id) is None:
            session.execute(
                insert(Job.__table__).values(
                    id=job_id,
                    job_type=job_type,
                    state="running",
                    hostname="host-1",
                    start_date=start or at,
                    latest_heartbeat=at,
                )
            )
        else:
            session.execute(
                update(Job.__table__).where(Job.__table__.c.id == job_id).values(latest_heartbeat=at)
            )


class Watchers:
    """Components that watch, each a health watcher and a sender's flush over one clock."""

    def __init__(self, settings: AlertSettings, api: SignalAPIEmulator, count: int = 1) -> None:
        self.clock = Clock()
        self.api = api
        self.watchers = [HealthWatcher(settings, clock=self.clock, name=f"watcher {n}") for n in range(count)]
        for watcher in self.watchers:
            watcher.started_at = T0
        self.pipeline = Pipeline(settings, self.clock, lambda: owners.this_process(None))

    def step(self, seconds: float = 0) -> list[str]:
        """Advance the clock, let every watcher check, flush (group_wait passed); the new texts."""
        self.clock.now += timedelta(seconds=seconds)
        before = len(self.api.messages)
        for watcher in self.watchers:
            watcher.check()
        self.clock.now += timedelta(seconds=1)
        self.pipeline.flush()
        return [message.text for message in self.api.messages[before:]]


@pytest.fixture
def watchers(signal_api: SignalAPIEmulator) -> Callable[..., Watchers]:
    def build(count: int = 1, **settings: Any) -> Watchers:
        values: dict[str, Any] = {
            "enabled": True,
            "notify_on": frozenset({"failure", "health"}),
            "destinations": (ONCALL,),
            "health_destinations": (PLATFORM,),
            "health_threshold": THRESHOLD,
            "repeat_interval": 3600,
            "send_retries": 0,
            "send_timeout": 10,  # a loaded machine must not turn a send into a retry a step later
            "group_wait": 1,
            "group_interval": 0,
        }
        values.update(settings)
        return Watchers(AlertSettings(**values), signal_api, count)

    return build


def test_a_scheduler_that_stops_heartbeating_is_one_message_and_its_return_one_more(
    signal_api: SignalAPIEmulator, watchers: Callable[..., Watchers]
) -> None:
    airflow = watchers(count=3)  # three components watching: still one message each
    heartbeat(1, T0)
    assert airflow.step() == []
    assert airflow.step(59) == []  # not yet past the threshold
    [down] = airflow.step(5)
    assert down.startswith("🚨 Airflow scheduler down: no heartbeat since ")
    assert "Seen by: watcher 0" in down
    assert airflow.step(30) == [] and airflow.step(30) == []  # it lasts: nothing more
    heartbeat(1, airflow.clock.now)
    [back] = airflow.step()
    assert back.startswith("✅ Airflow scheduler back: heartbeating again after 2 min")
    assert {m.destination for m in signal_api.messages} == {PLATFORM}
    assert airflow.step(10) == []


def test_a_restart_within_the_threshold_sends_nothing(watchers: Callable[..., Watchers]) -> None:
    airflow = watchers()
    heartbeat(1, T0)
    assert airflow.step(40) == []
    heartbeat(2, airflow.clock.now)  # the scheduler started again: a new job
    for _ in range(3):
        assert airflow.step(40) == []
        heartbeat(2, airflow.clock.now)


def test_a_long_incident_is_reminded_every_repeat_interval(watchers: Callable[..., Watchers]) -> None:
    airflow = watchers()
    heartbeat(1, T0)
    assert len(airflow.step(61)) == 1
    assert airflow.step(1800) == []
    [reminder] = airflow.step(1800)
    assert reminder.startswith("🔁 Still: Airflow scheduler down: no heartbeat since ")
    assert "Open since: " in reminder
    assert airflow.step(1800) == []


def test_one_of_two_schedulers_silent_is_degraded_not_down(watchers: Callable[..., Watchers]) -> None:
    airflow = watchers()
    heartbeat(1, T0)
    heartbeat(2, T0)
    assert airflow.step() == []
    heartbeat(1, T0 + timedelta(seconds=90))
    [degraded] = airflow.step(90)
    assert degraded.startswith("🚨 Airflow schedulers degraded: 1 of 2 heartbeating; one silent since ")
    heartbeat(1, airflow.clock.now)
    heartbeat(3, airflow.clock.now)  # the second one started again
    [back] = airflow.step()
    assert back.startswith("✅ Airflow schedulers all heartbeating again after ")


def test_a_triggerer_and_the_scheduler_down_together_are_one_message(
    watchers: Callable[..., Watchers],
) -> None:
    airflow = watchers()
    heartbeat(1, T0)
    heartbeat(2, T0, job_type="TriggererJob")
    [both] = airflow.step(100)
    assert "🚨 Airflow scheduler down" in both and "🚨 Airflow triggerer down" in both


def test_a_silence_holds_the_start_back_and_an_incident_it_covered_ends_quietly(
    watchers: Callable[..., Watchers],
) -> None:
    from airflow.utils.session import create_session

    airflow = watchers()
    with create_session() as session:
        silence = new_silence(reason="upgrade", author="alice", now=T0, ends_at=T0 + timedelta(minutes=10))
        silence_store.save_new(session, silence)
    heartbeat(1, T0)
    assert airflow.step(100) == []  # silenced
    heartbeat(1, airflow.clock.now)
    assert airflow.step(30) == []  # back within the silence: its end is no news
    heartbeat(1, airflow.clock.now)
    assert airflow.step(30) == []
    with create_session() as session:
        rows = [json.loads(r.extra) for r in session.execute(_decision_rows())]
    assert [(r["action"], r["delivered"]) for r in rows] == [("open", "silenced"), ("close", "silenced")]


def test_an_incident_that_outlasts_its_silence_is_told_when_the_silence_ends(
    watchers: Callable[..., Watchers],
) -> None:
    from airflow.utils.session import create_session

    airflow = watchers()
    with create_session() as session:
        silence = new_silence(reason="upgrade", author="alice", now=T0, ends_at=T0 + timedelta(minutes=5))
        silence_store.save_new(session, silence)
    heartbeat(1, T0)
    assert airflow.step(100) == [] and airflow.step(100) == []
    [still] = airflow.step(120)  # the silence ended at 5 min
    assert still.startswith("🔁 Still: Airflow scheduler down")


def test_watchers_deciding_at_the_same_moment_queue_one_notice(watchers: Callable[..., Watchers]) -> None:
    airflow = watchers(count=4)
    heartbeat(1, T0)
    airflow.clock.now += timedelta(seconds=90)
    threads = [threading.Thread(target=w.check) for w in airflow.watchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = list(session.execute(_decision_rows()))
    assert len(rows) == 1


def _decision_rows() -> Any:
    from airflow.models.log import Log
    from sqlalchemy import select

    return select(Log.extra).where(Log.event.in_(tuple(health_store.DECISIONS.values()))).order_by(Log.id)


def test_without_health_in_notify_on_no_watcher_starts() -> None:
    class Job:
        job_type = "TriggererJob"

    listener = SignalAlertListener(AlertSettings(enabled=True, notify_on=frozenset({"failure"})))
    listener.on_starting(Job())
    assert listener._health_watcher is None
    assert not [t for t in threading.enumerate() if t.name == "signal-health"]
    listener.before_stopping(Job())


def test_stuck_tasks_are_read_by_queue(signal_api: SignalAPIEmulator) -> None:
    seen = Observation(
        T0, stuck=(QueuedTasks("default", 3, T0 - timedelta(minutes=6)), QueuedTasks("gpu", 1, T0))
    )
    [problem] = health.problems(seen, THRESHOLD, watching_since=T0).values()
    assert (problem.key, problem.tasks, problem.queues) == ("tasks_stuck", 4, (("default", 3), ("gpu", 1)))


def test_the_process_serving_the_ui_is_told_by_its_command_and_watches_only_with_health(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from airflow_provider_signal.alerts import plugin

    for argv, expected in (
        (["airflow", "api-server", "--port", "8080"], "API server"),
        (["airflow", "webserver"], "webserver"),
        (["gunicorn", "--workers", "4", "--name", "airflow-webserver"], "webserver"),
        (["airflow", "tasks", "run", "x"], None),
        (["airflow", "scheduler"], None),
    ):
        monkeypatch.setattr(sys, "argv", argv)
        assert plugin._serving_the_ui() == expected
    listener = SignalAlertListener(AlertSettings(enabled=True, notify_on=frozenset({"failure"})))
    listener.watch_health("API server")
    assert listener._health_watcher is None
    assert not [t for t in threading.enumerate() if t.name == "signal-health"]


def test_processes_flushing_the_outbox_at_the_same_moment_send_a_notice_once(
    signal_api: SignalAPIEmulator, watchers: Callable[..., Watchers]
) -> None:
    """On SQLite (no row locks) the scheduler, the triggerer and the API server all send: the
    decision lock makes the second reader of a due notice see the first one's in-flight marker."""
    airflow = watchers()
    heartbeat(1, T0)
    airflow.clock.now += timedelta(seconds=90)
    assert airflow.watchers[0].check() == 1
    airflow.clock.now += timedelta(seconds=2)  # due
    senders = [
        Pipeline(airflow.pipeline.settings, airflow.clock, lambda: owners.this_process(None))
        for _ in range(4)
    ]
    start = threading.Barrier(len(senders))

    def flush(pipeline: Pipeline) -> None:
        start.wait()
        pipeline.flush()

    threads = [threading.Thread(target=flush, args=(p,)) for p in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [m.text.split(":")[0] for m in signal_api.messages] == ["🚨 Airflow scheduler down"]
