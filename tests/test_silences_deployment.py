"""A silence made with ``airflow-signal`` is seen by the running schedulers, in both topologies:
a failed run of the silenced DAG is recorded as silenced and sends nothing; the silence expired,
the next failure alerts, and one summary message says what the silence kept quiet. The command
runs as an operator runs it: the deployment's environment (its ``airflow.cfg`` settings and
metadata database), no Airflow process of its own."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_support import Deployment, run_command, wait_until
from alerts_support import TOPOLOGIES, alerts_log, finish, messages_about, wait_for_alerts

COMMAND = str(Path(sys.executable).with_name("airflow-signal"))
DAG_ID = "alerts_silenced"


@pytest.fixture(scope="module", params=TOPOLOGIES)
def alerts(request: pytest.FixtureRequest, airflow_deployments: Any) -> Deployment:
    name = "airflow_deployment" if request.param == "single" else "distributed_deployment"
    deployment: Deployment = request.getfixturevalue(name)
    deployment.wait_for_dags(DAG_ID)
    return deployment


def command(deployment: Deployment, *args: str) -> str:
    done = run_command([COMMAND, *args], env=deployment.env, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_silence_from_the_command_quiets_a_running_deployment_until_it_is_expired(
    alerts: Deployment,
) -> None:
    made = command(
        alerts, "silence", "add", "--for", "1h", "--dag-id", DAG_ID, "--reason", "warehouse upgrade"
    )
    silence_id = re.search(r"^Silence (\w+) made: DAGs alerts_silenced", made, re.MULTILINE)[1]  # type: ignore[index]
    # Airflow 2.11 may log to standard output too: the silences are the lines that are JSON objects
    lines = command(alerts, "silence", "list", "--json").splitlines()
    (listed,) = [json.loads(line) for line in lines if line.startswith('{"')]
    assert (listed["id"], listed["state"]) == (silence_id, "active")

    silenced_run = alerts.trigger(DAG_ID)
    finish(alerts, DAG_ID, [silenced_run])
    wait_until(
        lambda: f"silenced by 'warehouse upgrade' (silence {silence_id}" in alerts_log(alerts),
        "no scheduler logged the run as silenced",
        alerts,
    )
    time.sleep(5)  # a message, had one been sent, would have arrived by now
    assert messages_about(alerts, DAG_ID) == []

    command(alerts, "silence", "expire", silence_id)
    alerted_run = alerts.trigger(DAG_ID)
    finish(alerts, DAG_ID, [alerted_run])
    [message] = wait_for_alerts(alerts, DAG_ID, 1)
    assert f"Run: {alerted_run}" in message.text and silenced_run not in message.text

    def summaries() -> list[str]:
        title = "🔕 Silence over: 'warehouse upgrade'\n"
        return [m.text for m in alerts.emulator.messages if m.text.startswith(title)]

    wait_until(lambda: bool(summaries()), "no summary of the silence", alerts, 60)  # a sweep: 5 s
    [summary] = summaries()
    assert "1 failed run of 1 DAG; " in summary and "ended early by " in summary
    time.sleep(10)  # two sweeps of each scheduler later: still one
    assert len(summaries()) == 1


def test_the_command_sends_a_test_message_and_prints_the_status_of_a_running_deployment(
    alerts: Deployment,
) -> None:
    def tests_sent() -> list[str]:
        return [
            m.text
            for m in alerts.emulator.messages
            if m.text.startswith("✅ Test message from airflow-signal")
        ]

    before = len(tests_sent())
    said = command(alerts, "test")
    assert "Test message sent via connection 'signal_default' to 1 recipient(s)." in said
    assert len(tests_sent()) == before + 1  # sent before the command returned
    lines = command(alerts, "status", "--json").splitlines()
    (status,) = [json.loads(line) for line in lines if line.startswith('{"')]
    assert status["conn_id"] == "signal_default"
    assert {"pending", "recent", "cooling", "incidents", "silences"} <= set(status)
    wrong = run_command(
        [COMMAND, "silence", "add", "--for", "2y", "--reason", "x"], env=alerts.env, timeout=180
    )
    assert wrong.returncode == 2 and "'2y' is not a duration" in wrong.stderr, wrong.stderr
