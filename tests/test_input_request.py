"""The "input needed" message of a human-in-the-loop task (Airflow 3.1+), built from a real operator.

The whole flow (message, link, answer through the REST API) is tested in a real
deployment in tests/test_deployment.py; here, what the text holds and when it is used.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_signal.notifications.alert_text import build_input_request_text
from airflow_provider_signal.notifications.signal import input_request

RUN_ID = "manual__2026-11-27T10:00:00+00:00"


def _ti(state: str = "running") -> Any:
    return SimpleNamespace(dag_id="gate", task_id="approve", run_id=RUN_ID, map_index=-1, state=state)


def test_text_names_the_task_the_question_the_options_and_the_link() -> None:
    text = build_input_request_text(
        {"ti": _ti(), "run_id": RUN_ID},
        subject="Publish?",
        body="42 rows.\nApprove to publish.",
        options=["Approve", "Reject"],
        defaults=["Reject"],
        link="https://airflow.example.com/dags/gate/runs/r/tasks/approve/required_actions?map_index=-1",
        respond_by="2026-11-27T18:00:00+00:00",
    )
    assert text.splitlines() == [
        "✋ Airflow needs your input",
        "DAG: gate",
        "Task: approve",
        f"Run: {RUN_ID}",
        "Subject: Publish?",
        "",
        "42 rows.",
        "Approve to publish.",
        "",
        "Options: Approve, Reject (choose one)",
        "If no answer by 2026-11-27T18:00:00+00:00: Reject",
        "Respond: https://airflow.example.com/dags/gate/runs/r/tasks/approve/required_actions?map_index=-1",
    ]


def test_text_without_body_link_or_defaults_has_no_empty_lines() -> None:
    text = build_input_request_text({"ti": _ti()}, subject="Which?", options=["A", "B"], multiple=True)
    assert "" not in text.splitlines()
    assert "Options: A, B (one or more)" in text
    assert "Respond" not in text and "None" not in text


def test_a_long_body_is_shortened_visibly() -> None:
    text = build_input_request_text({"ti": _ti()}, subject="s", options=["OK"], body="x" * 5000)
    assert len(text) < 1200 and "… [shortened]" in text


def test_other_tasks_get_no_input_request() -> None:
    assert input_request({"ti": _ti(), "task": SimpleNamespace(task_id="load")}) is None
    assert input_request({"ti": _ti()}) is None


@pytest.fixture
def approval(monkeypatch: pytest.MonkeyPatch) -> Any:
    hitl = pytest.importorskip("airflow.providers.standard.operators.hitl", reason="HITL needs Airflow 3.1+")
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    return hitl.ApprovalOperator(
        task_id="approve",
        subject="Publish?",
        body="42 rows",
        defaults="Reject",
        response_timeout=timedelta(hours=1),
    )


def test_an_approval_operators_request_with_airflows_own_link(approval: Any) -> None:
    request = input_request({"task": approval, "ti": _ti()})
    assert request is not None
    assert request["subject"] == "Publish?" and request["body"] == "42 rows"
    assert request["options"] == ["Approve", "Reject"] and request["defaults"] == ["Reject"]
    assert request["multiple"] is False
    assert request["link"] == (
        f"https://airflow.example.com/dags/gate/runs/{RUN_ID}/tasks/approve/required_actions?map_index=-1"
    )


def test_callbacks_of_an_approval_task_get_the_ordinary_alert(approval: Any) -> None:
    assert input_request({"task": approval, "ti": _ti("failed"), "exception": ValueError("x")}) is None
    assert input_request({"task": approval, "ti": _ti("success")}) is None
