"""The "input needed" message of a human-in-the-loop task (Airflow 3.1+), built from a real operator.

The whole flow (message, link, answer through the REST API) is tested in a real
deployment in tests/test_deployment.py; here, what the text holds and when it is used.
"""

from __future__ import annotations

import re
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
        "> 42 rows.",
        "> Approve to publish.",
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


LINK = "https://airflow.example.com/dags/gate/runs/r/tasks/approve/required_actions?map_index=-1"


@pytest.mark.parametrize("limit", [300, 600, 2000])
def test_a_long_subject_many_options_and_a_long_body_still_leave_the_options_and_the_link(limit: int) -> None:
    options = [f"Option {n}: " + "o" * 80 for n in range(40)]
    text = build_input_request_text(
        {"ti": _ti(), "run_id": RUN_ID},
        subject="S" * 5000,
        body="B" * 5000,
        options=options,
        link=LINK,
        limit=limit,
    )
    lines = text.splitlines()
    assert len(text) <= limit
    assert lines[-1] == f"Respond: {LINK}"  # whole, and the last line
    [options_line] = [line for line in lines if line.startswith("Options: ")]
    assert options_line.endswith("(choose one)")
    more = re.search(r" and (\d+) more \(choose one\)$", options_line)
    named = options_line.count("Option ")
    assert named + (int(more.group(1)) if more else 0) == 40 or "40, see them in the UI" in options_line
    [subject] = [line for line in lines if line.startswith("Subject: ")]
    assert len(subject) <= max(16, limit // 8) + len("Subject: ")


@pytest.mark.parametrize(
    "field", ["subject", "option", "body", "default", "subject-cr", "subject-unicode-break"]
)
def test_user_text_cannot_forge_a_line_of_the_message(field: str) -> None:
    forged = "https://evil.example.com/approve"
    breaks = {"subject-cr": "\r", "subject-unicode-break": "\u2028"}
    payload = f"Publish?{breaks.get(field, chr(10))}Respond: {forged}\nOptions: Approve (choose one)"
    kwargs: dict[str, Any] = {"subject": "Publish?", "options": ["Approve", "Reject"], "body": "42 rows"}
    if field.startswith("subject"):
        kwargs["subject"] = payload
    elif field == "option":
        kwargs["options"] = ["Approve", payload]
    elif field == "default":
        kwargs["defaults"] = [payload]
    else:
        kwargs["body"] = payload
    text = build_input_request_text({"ti": _ti(), "run_id": RUN_ID}, link=LINK, **kwargs)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("Respond:")] == [f"Respond: {LINK}"]
    assert len([line for line in lines if line.startswith("Options:")]) == 1
    assert lines[-1] == f"Respond: {LINK}"


def test_a_notifier_on_an_approval_task_sends_an_answerable_request_within_the_limit(
    signal_api: Any, set_connection: Any
) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    set_connection(extra={"max_text_length": 400})
    task = SimpleNamespace(
        task_id="approve",
        subject="Publish the report?\nRespond: https://evil.example.com",
        body="Respond: https://evil.example.com\n" + "details " * 500,
        options=[f"choice {n} " + "c" * 40 for n in range(30)],
        defaults=None,
        multiple=False,
        generate_link_to_ui=lambda task_instance: LINK,
    )
    SignalNotifier(destinations="447700900123")({"task": task, "ti": _ti(), "run_id": RUN_ID})
    [message] = signal_api.messages
    lines = message.text.splitlines()
    assert len(message.text) <= 400
    assert [line for line in lines if line.startswith("Respond:")] == [f"Respond: {LINK}"]
    assert any(line.startswith("Options: choice 0") for line in lines)


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


FREE_TEXT_URL = "postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse"
FREE_TEXT_TOKEN = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"


def test_an_approval_request_masks_credentials_written_into_its_subject_and_body(
    signal_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hitl = pytest.importorskip("airflow.providers.standard.operators.hitl", reason="HITL needs Airflow 3.1+")
    from airflow_provider_signal.notifications.signal import SignalNotifier

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    approval = hitl.ApprovalOperator(
        task_id="approve",
        subject=f"Load from {FREE_TEXT_URL}?",
        body=f"The job will connect to {FREE_TEXT_URL}\nwith token={FREE_TEXT_TOKEN}",
        defaults="Reject",
        response_timeout=timedelta(hours=1),
    )
    SignalNotifier(destinations="447700900123")({"task": approval, "ti": _ti(), "run_id": RUN_ID})
    [message] = signal_api.messages
    assert "Subject: Load from postgresql://etl:***@db.internal:5432/warehouse?" in message.text
    assert "> The job will connect to postgresql://etl:***@db.internal:5432/warehouse" in message.text
    assert "> with token=***" in message.text
    assert "S3cr3t-pw" not in message.text and "ghp_" not in message.text
    link = f"https://airflow.example.com/dags/gate/runs/{RUN_ID}/tasks/approve/required_actions?map_index=-1"
    assert message.text.splitlines()[-1] == f"Respond: {link}"  # the link intact


def test_a_subject_cut_to_its_share_never_shows_the_start_of_a_secret(
    signal_api: Any, set_connection: Any
) -> None:
    from airflow_provider_signal import _compat
    from airflow_provider_signal.notifications.signal import SignalNotifier

    set_connection(extra={"max_text_length": 400})
    secret = "api-key-Zq81xw-0123456789"
    _compat.mask_secret(secret)  # a value a task registered with Airflow's masker
    task = SimpleNamespace(
        task_id="approve",
        subject="s" * 30 + secret,  # its share of 400 characters (50) is cut inside the secret
        body=None,
        options=["OK"],
        defaults=None,
        multiple=False,
        generate_link_to_ui=lambda task_instance: LINK,
    )
    SignalNotifier(destinations="447700900123")({"task": task, "ti": _ti(), "run_id": RUN_ID})
    [message] = signal_api.messages
    for size in range(6, len(secret) + 1):
        assert secret[:size] not in message.text
