"""When Airflow itself stops: the real components SIGKILLed and started again, in the shared
deployments (tests/airflow_support.py: ``health_threshold`` 15 s, ``health_interval`` 3 s,
``stuck_after`` 60 s, health messages to their own number), on both Airflow lines.

Single node: the scheduler killed and left down is one "down" message, sent by a process that
survived, then one "back" with the duration; killed and started again within the threshold is
nothing (the gap is read from the job table: where a loaded machine takes longer to start it,
it is one "down" and one "back"); the triggerer and (3.x) the DAG processor likewise; everything
but the API server (or webserver) killed is one message naming each, sent from there.
Distributed: one of two schedulers killed is "degraded", not "down"; the Celery worker stopped
with a task queued is "stuck", naming the queue, and its return ends it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_support import (
    AIRFLOW_3,
    GROUP_WAIT,
    HEALTH_INTERVAL,
    HEALTH_THRESHOLD,
    ROUTE_HEALTH,
    STUCK_AFTER,
    Deployment,
    run_command,
    wait_until,
)

COMMAND = str(Path(sys.executable).with_name("airflow-signal"))
TOLD_WITHIN = HEALTH_THRESHOLD + 60
"""The issue's bound: a message within ``health_threshold`` + 60 s of the kill."""
QUIET = HEALTH_THRESHOLD + 2 * HEALTH_INTERVAL + GROUP_WAIT + 5
"""Seconds after which an incident would have been told (the threshold, two checks, the group)."""


def health_texts(deployment: Deployment, since: float) -> list[str]:
    return [
        m.text
        for m in deployment.emulator.messages
        if m.destination == ROUTE_HEALTH and m.received_at >= since
    ]


def open_incidents(deployment: Deployment) -> list[dict[str, Any]]:
    """The incidents open, as ``airflow-signal status --json`` reads them from the database."""
    done = run_command([COMMAND, "status", "--json"], env=deployment.env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    incidents: list[dict[str, Any]] = json.loads(done.stdout)["incidents"]
    return incidents


def settled(deployment: Deployment) -> float:
    """Wait until no incident of an earlier test is open; the time from which this test's count."""
    deployment.wait_until_healthy()
    wait_until(lambda: not open_incidents(deployment), "an earlier incident still open", deployment, 120)
    time.sleep(GROUP_WAIT + 2)  # an earlier incident's end message is out
    return time.time()


def told(deployment: Deployment, since: float, start: str, timeout: float = TOLD_WITHIN) -> list[str]:
    """The health messages since ``since`` once one tells ``start`` (fails after ``timeout``,
    naming the messages that did come: a start may share a message with other changes)."""
    try:
        wait_until(lambda: bool(starting(health_texts(deployment, since), start)), "", deployment, timeout)
    except pytest.fail.Exception as failed:
        sent = health_texts(deployment, since)
        pytest.fail(f"no health message {start!r} within {timeout:g} s; sent instead: {sent!r}\n{failed}")
    return health_texts(deployment, since)


def starting(texts: list[str], start: str) -> list[str]:
    return [text for text in texts if text.startswith(start) or f"\n{start}" in text]


def test_the_scheduler_killed_and_left_down_is_one_message_then_one_when_it_is_back(
    airflow_deployment: Deployment,
) -> None:
    deployment = airflow_deployment
    since = settled(deployment)
    deployment.kill("scheduler")
    killed = time.time()
    try:
        texts = told(deployment, since, "🚨 Airflow scheduler down: no heartbeat since ")
        print(f"scheduler down told {time.time() - killed:.1f} s after the kill")  # for the closing note
        [down] = starting(texts, "🚨 Airflow scheduler down")
        survivors = ("triggerer", "DAG processor", "API server" if AIRFLOW_3 else "webserver")
        assert any(f"Seen by: {name} on " in down for name in survivors)  # not the dead scheduler
        time.sleep(2 * HEALTH_INTERVAL + GROUP_WAIT + 2)
        assert len(starting(health_texts(deployment, since), "🚨 Airflow scheduler down")) == 1
        assert starting(health_texts(deployment, since), "🚨 Airflow schedulers degraded") == []  # one node
    finally:
        deployment.start_again("scheduler")
    texts = told(deployment, since, "✅ Airflow scheduler back: heartbeating again after ", timeout=120)
    [back] = starting(texts, "✅ Airflow scheduler back")
    assert " min " in back or " s (" in back  # with its duration
    time.sleep(2 * HEALTH_INTERVAL + GROUP_WAIT)
    assert len(starting(health_texts(deployment, since), "✅ Airflow scheduler back")) == 1


#: prints, as JSON, each scheduler job's start and last heartbeat (POSIX seconds), oldest first
SCHEDULER_JOBS = """
import json
from airflow.jobs.job import Job
from airflow.utils.session import create_session
from sqlalchemy import select
with create_session() as session:
    jobs = session.execute(
        select(Job.start_date, Job.latest_heartbeat).where(Job.job_type == "SchedulerJob").order_by(Job.id)
    ).all()
print(json.dumps([[job.start_date.timestamp(), job.latest_heartbeat.timestamp()] for job in jobs]))
"""


def scheduler_jobs(deployment: Deployment) -> list[tuple[float, float]]:
    """Each scheduler job's (start, last heartbeat), oldest first, from the job table."""
    done = run_command([sys.executable, "-c", SCHEDULER_JOBS], env=deployment.env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return [(float(start), float(last)) for start, last in json.loads(done.stdout.strip().splitlines()[-1])]


def restart_gap(deployment: Deployment, jobs_before: int) -> float:
    """Seconds without a scheduler heartbeat across a restart: from the killed job's last heartbeat
    to the start of the job after it (Airflow writes a job's first heartbeat as it starts). Waits
    for that job: Airflow's health check still counts the killed one healthy for a while."""
    jobs: list[tuple[float, float]] = []

    def started() -> bool:
        jobs[:] = scheduler_jobs(deployment)
        return len(jobs) > jobs_before

    wait_until(started, "no new scheduler job", deployment, 180)
    return jobs[jobs_before][0] - jobs[jobs_before - 1][1]


def test_the_scheduler_killed_and_started_again_within_the_threshold_sends_nothing(
    airflow_deployment: Deployment,
) -> None:
    deployment = airflow_deployment
    since = settled(deployment)
    jobs_before = len(scheduler_jobs(deployment))
    deployment.kill("scheduler")
    deployment.start_again("scheduler")
    gap = restart_gap(deployment, jobs_before)
    deployment.wait_until_healthy()
    print(f"scheduler restarted with {gap:.1f} s without a heartbeat")  # for the closing note
    time.sleep(QUIET)
    texts = health_texts(deployment, since)
    if gap < HEALTH_THRESHOLD:  # no check can have seen a heartbeat older than the threshold
        assert starting(texts, "🚨 Airflow scheduler") == []
    elif gap > HEALTH_THRESHOLD + 2 * HEALTH_INTERVAL:
        # A loaded machine took longer to start it than the threshold: then it was down, and
        # that is told once, with its end (a restart slower than the threshold is news).
        texts = told(deployment, since, "✅ Airflow scheduler back", timeout=120)
        assert len(starting(texts, "🚨 Airflow scheduler down")) == 1
        assert len(starting(texts, "✅ Airflow scheduler back")) == 1
    else:  # within a check of the threshold: a check may or may not have fallen in the gap
        assert len(starting(texts, "🚨 Airflow scheduler down")) <= 1


def test_with_only_the_ui_left_running_its_process_tells_of_every_component_down_in_one_message(
    airflow_deployment: Deployment,
) -> None:
    deployment = airflow_deployment
    since = settled(deployment)
    stopped = ["scheduler", "triggerer", *(["dag-processor"] if AIRFLOW_3 else [])]
    deployment.kill(*stopped)
    try:
        names = ["scheduler", "triggerer", *(["DAG processor"] if AIRFLOW_3 else [])]
        # Each crosses the threshold at the check after its own last heartbeat: one message, or
        # two a check apart; every one of them from the UI's process, each component once.
        wait_until(
            lambda: all(starting(health_texts(deployment, since), f"🚨 Airflow {n} down") for n in names),
            "not every component reported down",
            deployment,
            TOLD_WITHIN,
        )
        texts = health_texts(deployment, since)
        assert len(texts) <= len(names)
        for name in names:
            assert len(starting(texts, f"🚨 Airflow {name} down")) == 1
        assert all(f"Seen by: {'API server' if AIRFLOW_3 else 'webserver'} on " in text for text in texts)
    finally:
        for name in stopped:
            deployment.start_again(name)
    texts = told(deployment, since, "✅ Airflow ", timeout=120)
    assert len(starting(texts, "🚨 Airflow scheduler down")) == 1


@pytest.mark.parametrize(
    ("component", "name"),
    [
        ("triggerer", "triggerer"),
        pytest.param(
            "dag-processor",
            "DAG processor",
            marks=pytest.mark.skipif(not AIRFLOW_3, reason="2.11's DAG processor runs inside the scheduler"),
        ),
    ],
)
def test_a_killed_component_is_one_message_and_its_return_one_more(
    airflow_deployment: Deployment, component: str, name: str
) -> None:
    deployment = airflow_deployment
    since = settled(deployment)
    deployment.kill(component)
    try:
        texts = told(deployment, since, f"🚨 Airflow {name} down: no heartbeat since ")
        assert len(starting(texts, f"🚨 Airflow {name} down")) == 1
    finally:
        deployment.start_again(component)
    texts = told(deployment, since, f"✅ Airflow {name} back: heartbeating again after ", timeout=120)
    assert len(starting(texts, f"✅ Airflow {name} back")) == 1
    assert starting(texts, "🚨 Airflow scheduler") == []


@pytest.mark.distributed
def test_one_of_two_schedulers_killed_is_degraded_not_down(distributed_deployment: Deployment) -> None:
    deployment = distributed_deployment
    since = settled(deployment)
    deployment.kill("scheduler-2")
    try:
        texts = told(deployment, since, "🚨 Airflow schedulers degraded: 1 of 2 heartbeating")
        assert starting(texts, "🚨 Airflow scheduler down") == []
    finally:
        deployment.start_again("scheduler-2")
    texts = told(deployment, since, "✅ Airflow schedulers all heartbeating again after ", timeout=120)
    assert len(starting(texts, "🚨 Airflow schedulers degraded")) == 1


@pytest.mark.distributed
def test_the_worker_stopped_with_a_task_queued_is_stuck_naming_the_queue(
    distributed_deployment: Deployment,
) -> None:
    deployment = distributed_deployment
    deployment.wait_for_dags("health_queued")
    since = settled(deployment)
    deployment.kill("worker")
    try:
        run_id = deployment.trigger("health_queued")
        texts = told(deployment, since, "🚨 Airflow tasks stuck in queued: 1 task", timeout=STUCK_AFTER + 90)
        [stuck] = starting(texts, "🚨 Airflow tasks stuck")
        assert "on queue(s) default (1) (CeleryExecutor). No worker is taking them." in stuck
    finally:
        deployment.start_again("worker")
        assert deployment.services is not None
        deployment.services.wait_for_worker(deployment)
    assert deployment.wait_for_run("health_queued", run_id) == "success"
    texts = told(deployment, since, "✅ Airflow tasks no longer stuck in queued", timeout=120)
    assert len(starting(texts, "🚨 Airflow tasks stuck")) == 1
