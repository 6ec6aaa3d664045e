"""When Airflow itself stops: the real components SIGKILLed and started again, in the shared
deployments (tests/airflow_support.py: ``health_threshold`` 15 s, ``health_interval`` 3 s,
``stuck_after`` 20 s, health messages to their own number), on both Airflow lines.

Single node: the scheduler killed and left down is one "down" message, sent by a process that
survived, then one "back" with the duration; killed and started again within the threshold is
nothing; the triggerer and (3.x) the DAG processor likewise; everything but the API server (or
webserver) killed is one message naming each, sent from there. Distributed: one of two schedulers
killed is "degraded", not "down"; the Celery worker stopped with a task queued is "stuck",
naming the queue, and its return ends it.
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
    """The health messages since ``since`` once one starts with ``start`` (fails after ``timeout``)."""
    wait_until(
        lambda: any(t.startswith(start) for t in health_texts(deployment, since)),
        f"no health message {start!r}",
        deployment,
        timeout,
    )
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
    finally:
        deployment.start_again("scheduler")
    texts = told(deployment, since, "✅ Airflow scheduler back: heartbeating again after ", timeout=120)
    [back] = starting(texts, "✅ Airflow scheduler back")
    assert " min " in back or " s (" in back  # with its duration
    time.sleep(2 * HEALTH_INTERVAL + GROUP_WAIT)
    assert len(starting(health_texts(deployment, since), "✅ Airflow scheduler back")) == 1


def test_the_scheduler_killed_and_started_again_within_the_threshold_sends_nothing(
    airflow_deployment: Deployment,
) -> None:
    deployment = airflow_deployment
    since = settled(deployment)
    deployment.kill("scheduler")
    deployment.start_again("scheduler")
    deployment.wait_until_healthy()
    time.sleep(QUIET)
    assert starting(health_texts(deployment, since), "🚨 Airflow scheduler") == []


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
