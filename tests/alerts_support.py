"""What the deployment tests of the deployment-wide alerts read, shared by test_alerts_deployment.py
and test_alerts_reliability.py: the topologies they run in, the alerts about one DAG, every
scheduler's log, and a DAG's runs waited for to their end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_signal.testing import ReceivedMessage
from airflow_support import Deployment, wait_until

RUN_TIMEOUT = 300.0
TOPOLOGIES = ["single", pytest.param("distributed", marks=pytest.mark.distributed)]


def about(dag_id: str) -> Callable[[ReceivedMessage], bool]:
    """Whether a message is an alert about ``dag_id`` (its ``DAG:`` line)."""
    return lambda message: f"\nDAG: {dag_id}\n" in message.text


def messages_about(deployment: Deployment, dag_id: str) -> list[ReceivedMessage]:
    return [m for m in deployment.emulator.messages if about(dag_id)(m)]


def scheduler_log(deployment: Deployment) -> str:
    """Every scheduler's log (two in the distributed topology), one after the other."""
    return "\n".join(Path(c.log_path).read_text(errors="replace") for c in deployment.schedulers())


def wait_for_alerts(
    deployment: Deployment, dag_id: str, count: int, timeout: float = 120.0
) -> list[ReceivedMessage]:
    """The alerts about ``dag_id`` once there are ``count`` of them (fails after ``timeout``)."""
    wait_until(
        lambda: len(messages_about(deployment, dag_id)) >= count,
        f"no {count} alert(s) about {dag_id}",
        deployment,
        timeout,
    )
    return messages_about(deployment, dag_id)


def finish(deployment: Deployment, dag_id: str, run_ids: list[str], expected: str = "failed") -> None:
    """Wait for each run to end, and check it ended ``expected``."""
    for run_id in run_ids:
        assert deployment.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT) == expected
