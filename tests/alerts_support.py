"""What the deployment tests of the deployment-wide alerts read, shared by test_alerts_deployment.py
and test_alerts_reliability.py: the topologies they run in, the alerts about one DAG, every
component's log, and a DAG's runs waited for to their end."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_signal.testing import ReceivedMessage
from airflow_support import Deployment, wait_until

RUN_TIMEOUT = 300.0
TOPOLOGIES = ["single", pytest.param("distributed", marks=pytest.mark.distributed)]


def about(dag_id: str) -> Callable[[ReceivedMessage], bool]:
    """Whether a message is an alert about ``dag_id``: its ``DAG:`` line, or its line in a group."""

    def names(message: ReceivedMessage) -> bool:
        text = message.text
        return f"\nDAG: {dag_id}\n" in text or any(
            line == f"• {dag_id}" or line.startswith((f"• {dag_id}:", f"• {dag_id} ("))
            for line in text.splitlines()
        )

    return names


def messages_about(deployment: Deployment, dag_id: str) -> list[ReceivedMessage]:
    return [m for m in deployment.emulator.messages if about(dag_id)(m)]


def alerts_log(deployment: Deployment) -> str:
    """Every component's log, one after the other: a scheduler decides, and any process that
    sends (the schedulers, the triggerer, the DAG processor, the API server or webserver) may
    send a due notice and log what happened to it."""
    return "\n".join(Path(c.log_path).read_text(errors="replace") for c in deployment.components.values())


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


def covered(texts: list[str]) -> dict[str, int]:
    """How often each DAG is named across alert ``texts`` (single-run and group messages), and
    under ``"<counted>"`` the runs counted in "And N more" lines."""
    named: dict[str, int] = {}
    for text in texts:
        for line in text.splitlines():
            single = re.match(r"DAG: ([\w.-]+)$", line)
            listed = re.match(r"• ([\w.-]+)", line)
            rest = re.match(r"And (\d+) more(?: \((\d+) runs\))?$", line)
            if single or listed:
                dag_id = (single or listed).group(1)  # type: ignore[union-attr]
                named[dag_id] = named.get(dag_id, 0) + 1
            elif rest:
                named["<counted>"] = named.get("<counted>", 0) + int(rest.group(2) or rest.group(1))
    return named


def runs_in(text: str) -> int:
    """How many runs' alerts a message carries: one for a single-run text, the title's count for a group."""
    group = re.match(r"(?:❌ Airflow: (\d+) DAG runs failed|✅ Airflow: (\d+) DAGs recovered)", text)
    if group:
        return int(group.group(1) or group.group(2))
    return 1 if text.startswith(("❌ Airflow DAG run", "✅ Airflow DAG recovered")) else 0
