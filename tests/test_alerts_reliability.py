"""Deployment-wide alerts that survive an outage and a crash, in a real deployment
(tests/airflow_support.py, SQLite, one scheduler). The deployment is one fixture, so the
same tests can later run over other topologies (PostgreSQL, Celery, two schedulers).

The outage here is a few seconds of 503 answers instead of 45 s: the mechanism (a recorded
attempt that did not arrive, retried with back-off) is the same, only the number of retries.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from airflow_support import DAG_FILES, Deployment
from test_alerts_deployment import CONFIG, finish, messages_about, scheduler_log, wait_for_alerts, wait_until


@pytest.fixture(scope="module")
def deployment(airflow_deployments: Any) -> Deployment:
    config = {
        "signal_alerts": {
            **CONFIG["signal_alerts"],
            "sweep_interval": 5,
        },
    }
    made: Deployment = airflow_deployments.get(
        "alerts_reliability", dag_files=[DAG_FILES / "alerts_dags.py"], config=config
    )
    made.wait_for_dags("alerts_outage", "alerts_killed")
    return made


def test_an_alert_during_an_outage_arrives_later_saying_it_was_delayed(deployment: Deployment) -> None:
    deployment.emulator.fail_next(1000, status=503)
    try:
        run_id = deployment.trigger("alerts_outage")
        finish(deployment, "alerts_outage", [run_id])
        wait_until(
            lambda: scheduler_log(deployment).count("'alerts_outage' run") >= 2,
            "no retried attempt logged",
            deployment,
        )
        time.sleep(5)
    finally:
        deployment.emulator.clear_faults()
    [message] = wait_for_alerts(deployment, "alerts_outage", 1, timeout=90)
    assert f"Run: {run_id}" in message.text
    assert "Delayed: the Signal API could not be reached from " in message.text


def test_a_scheduler_killed_right_after_a_run_failed_still_alerts(deployment: Deployment) -> None:
    scheduler = deployment.components["scheduler"]
    deployment.emulator.fail_next(1000, action="hang", hang_seconds=120)  # nothing gets out before the kill
    try:
        run_id = deployment.trigger("alerts_killed")
        finish(deployment, "alerts_killed", [run_id])
        assert scheduler.process is not None
        os.killpg(scheduler.process.pid, signal.SIGKILL)
        scheduler.process.wait(timeout=30)
    finally:
        deployment.emulator.clear_faults()
    scheduler.start()
    deployment.wait_until_healthy()
    [message] = wait_for_alerts(deployment, "alerts_killed", 1, timeout=120)
    assert f"Run: {run_id}" in message.text
    time.sleep(10)  # a sweep or two later: still one message
    assert len(messages_about(deployment, "alerts_killed")) == 1
