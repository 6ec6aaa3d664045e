"""SignalNotifier and the ready callbacks, called in-process against the emulator."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_signal.callbacks import signal_failure_callback, signal_success_callback
from airflow_provider_signal.notifications.alert_text import build_alert_text
from airflow_provider_signal.notifications.signal import SignalNotifier, send_signal_notification


def make_dag(**kwargs: Any) -> Any:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG
    return DAG(dag_id="notifier_test", schedule=None, start_date=datetime(2026, 1, 1), **kwargs)


def task_context(dag: Any, task_id: str, **extra: Any) -> dict[str, Any]:
    ti = SimpleNamespace(task_id=task_id, dag_id=dag.dag_id, try_number=1, duration=1.5, log_url=None)
    return {"dag": dag, "ti": ti, "run_id": "manual__1", **extra}


def test_one_instance_renders_each_call_from_the_original_template(signal_api: Any) -> None:
    notifier = send_signal_notification(text="{{ ti.task_id }} done", destinations="{{ params.to }}")
    dag = make_dag(params={"to": "447700900123"})
    notifier(task_context(dag, "first", params={"to": "447700900123"}))
    notifier(task_context(dag, "second", params={"to": "447700900456"}))

    assert [(m.destination, m.text) for m in signal_api.messages] == [
        ("447700900123", "first done"),
        ("447700900456", "second done"),
    ]
    assert notifier.text == "{{ ti.task_id }} done"
    assert notifier.destinations == "{{ params.to }}"


def test_native_rendering_sends_a_string(signal_api: Any) -> None:
    dag = make_dag(render_template_as_native_obj=True)
    send_signal_notification(text="{{ 6 * 7 }}", destinations=["447700900123"])(task_context(dag, "t"))
    assert [m.text for m in signal_api.messages] == ["42"]


def test_a_callback_passed_without_calling_it_sends_to_the_default_recipients(
    signal_api: Any, set_connection: Any
) -> None:
    set_connection(extra={"destinations": "+44 7700 900777"})
    signal_failure_callback(task_context(make_dag(), "t", exception=ValueError("bad")))
    [message] = signal_api.messages
    assert message.destination == "447700900777"
    assert "Task: t" in message.text and "ValueError: bad" in message.text


def test_async_notify_sends_from_an_event_loop(signal_api: Any) -> None:
    notifier = send_signal_notification(
        text="deadline missed for {{ dag_run.run_id }}",
        destinations="447700900123",
        context={"dag_run": SimpleNamespace(run_id="scheduled__1")},
    )

    async def main() -> None:
        await notifier

    asyncio.run(main())
    assert [m.text for m in signal_api.messages] == ["deadline missed for scheduled__1"]


def test_deadline_callback_runs_in_airflows_callback_trigger(signal_api: Any) -> None:
    callback_module = pytest.importorskip("airflow.triggers.callback", reason="Deadline Alerts need 3.1+")
    trigger = callback_module.CallbackTrigger(
        callback_path="airflow_provider_signal.notifications.signal.send_signal_notification",
        callback_kwargs={
            "text": "Deadline missed: {{ dag_run.dag_id }}",
            "destinations": "447700900123",
            "context": {"dag_run": {"dag_id": "late_dag"}},
        },
    )

    async def collect() -> list[Any]:
        return [event async for event in trigger.run()]

    events = asyncio.run(collect())
    assert str(events[-1].payload["state"]).lower().endswith("success"), events[-1].payload
    assert [m.text for m in signal_api.messages] == ["Deadline missed: late_dag"]


def test_success_callback_default_text_names_the_task(signal_api: Any) -> None:
    signal_success_callback("447700900123")(task_context(make_dag(), "load"))
    [message] = signal_api.messages
    assert message.text.splitlines()[:3] == ["✅ Airflow task succeeded", "DAG: notifier_test", "Task: load"]
    assert "Duration: 1.5 s" in message.text


def test_default_text_with_a_small_dag_level_context_has_no_noise() -> None:
    context = {"dag": SimpleNamespace(dag_id="etl"), "run_id": "manual__2", "reason": "task_failure"}
    text = build_alert_text(context, "failure")
    assert text.splitlines() == [
        "❌ Airflow DAG run failed",
        "DAG: etl",
        "Run: manual__2",
        "Reason: task_failure",
    ]


def test_default_text_from_an_empty_context_is_still_a_message() -> None:
    assert build_alert_text({}, "retry") == "🔁 Airflow DAG run failed, will retry"


def test_default_text_computes_duration_and_try_of_tries() -> None:
    start = datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)
    ti = SimpleNamespace(
        task_id="t", try_number=2, duration=None, start_date=start, end_date=start.replace(minute=2, second=5)
    )
    text = build_alert_text({"ti": ti, "task": SimpleNamespace(retries=3)}, "failure")
    assert "Try: 2 of 4" in text
    assert "Duration: 2 min 5 s" in text


def test_notifier_is_registered_for_task_and_dag_callbacks() -> None:
    notifier = SignalNotifier(text="x")
    assert callable(notifier)
    assert tuple(notifier.template_fields) == ("text", "destinations", "signal_conn_id", "timeout", "retries")


BAD_TIMEOUTS = [0, -1, 0.0, True, False, "30", "soon", float("nan"), float("inf"), 301, 10**6]
BAD_RETRIES = [-1, True, "2", "many", float("nan"), 2.5, 11, float("inf")]


@pytest.mark.parametrize("value", BAD_TIMEOUTS, ids=repr)
@pytest.mark.parametrize("build", ["notifier", "failure", "success", "retry"])
def test_a_bad_timeout_is_refused_when_the_dag_is_parsed_naming_the_argument(build: str, value: Any) -> None:
    from airflow_provider_signal import callbacks
    from airflow_provider_signal.errors import SignalInputError

    make = SignalNotifier if build == "notifier" else getattr(callbacks, f"signal_{build}_callback")
    with pytest.raises(SignalInputError, match="argument 'timeout'") as raised:
        make(timeout=value)
    assert "connection's extras" not in str(raised.value)


@pytest.mark.parametrize("value", BAD_RETRIES, ids=repr)
@pytest.mark.parametrize("build", ["notifier", "failure"])
def test_bad_retries_are_refused_when_the_dag_is_parsed_naming_the_argument(build: str, value: Any) -> None:
    from airflow_provider_signal import callbacks
    from airflow_provider_signal.errors import SignalInputError

    make = SignalNotifier if build == "notifier" else callbacks.signal_failure_callback
    with pytest.raises(SignalInputError, match="argument 'retries'"):
        make(retries=value)


@pytest.mark.parametrize(
    ("timeout", "retries"),
    [(0.001, 0), (300, 10), (5, 2), (None, None), ("{{ params.t }}", "{{ params.r }}")],
)
def test_good_limits_and_templates_are_accepted(timeout: Any, retries: Any) -> None:
    notifier = SignalNotifier(timeout=timeout, retries=retries)
    assert (notifier.timeout, notifier.retries) == (
        float(timeout) if isinstance(timeout, (int, float)) else timeout,
        retries,
    )


@pytest.mark.parametrize(
    "value", [0, -1, 0.0005, 300, 300.5, 1, 10, 11, True, 2.0, float("nan"), float("inf"), -0.0]
)
def test_the_argument_check_agrees_with_the_clients_settings(value: Any) -> None:
    from airflow_provider_signal.client import SignalClientSettings
    from airflow_provider_signal.errors import SignalInputError
    from airflow_provider_signal.limits import is_retries, is_timeout

    def client_accepts(**limit: Any) -> bool:
        try:
            SignalClientSettings(system_id="x", password="y", **limit)
        except SignalInputError:
            return False
        return True

    assert is_timeout(value) == client_accepts(timeout=value)
    assert is_retries(value) == client_accepts(retries=value)


def test_rendered_limits_are_used_for_the_send(signal_api: Any, set_connection: Any) -> None:
    set_connection(extra={"timeout": 30, "retries": 3})
    dag = make_dag(params={"t": 7, "r": 1})
    notifier = SignalNotifier(
        text="hello", destinations="447700900123", timeout="{{ params.t }}", retries="{{ params.r }}"
    )
    rendered = notifier.rendered(task_context(dag, "a", params={"t": 7, "r": 1}))
    assert (rendered.timeout, rendered.retries) == (7.0, 1)
    assert (notifier.timeout, notifier.retries) == ("{{ params.t }}", "{{ params.r }}")
    rendered.notify(task_context(dag, "a"))
    assert [m.text for m in signal_api.messages] == ["hello"]


@pytest.mark.parametrize(
    ("field", "template", "value"),
    [
        ("timeout", "{{ params.v }}", "abc"),
        ("timeout", "{{ params.v }}", "0"),
        ("retries", "{{ params.v }}", "99"),
    ],
)
def test_a_limit_rendered_invalid_is_logged_naming_the_argument_and_nothing_is_sent(
    signal_api: Any, caplog: pytest.LogCaptureFixture, field: str, template: str, value: str
) -> None:
    dag = make_dag(params={"v": value})
    notifier = SignalNotifier(text="hello", destinations="447700900123", **{field: template})
    from signal_log_capture import all_logs_at_debug, record_texts

    with all_logs_at_debug(caplog):
        notifier(task_context(dag, "a", params={"v": value}))  # logs, never raises
    assert signal_api.messages == []
    logged = "\n".join(record_texts(caplog))
    assert f"argument {field!r}" in logged and repr(template) in logged and repr(value) in logged
    assert "connection's extras" not in logged


def test_airflow_accepts_the_notifier_as_a_deadline_alert_callback() -> None:
    sdk = pytest.importorskip("airflow.sdk", reason="Deadline Alerts need Airflow 3.1+")
    if not hasattr(sdk, "DeadlineAlert"):
        pytest.skip("Deadline Alerts need Airflow 3.1+")
    from datetime import timedelta

    callback = sdk.AsyncCallback(
        send_signal_notification, kwargs={"text": "late", "destinations": "447700900123"}
    )
    alert = sdk.DeadlineAlert(
        reference=sdk.DeadlineReference.DAGRUN_QUEUED_AT, interval=timedelta(minutes=30), callback=callback
    )
    dag = make_dag(deadline=alert)
    assert dag.deadline is alert or alert in dag.deadline


LOG_URL = "http://localhost:8080/dags/notifier_test/runs/manual__1/tasks/load?try_number=1"


def test_a_failure_alert_masks_credentials_the_task_wrote_into_its_error(signal_api: Any) -> None:
    # Built by the task itself: no connection or variable told Airflow's masker of them.
    error = RuntimeError(
        "could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; "
        "token=ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    )
    context = task_context(make_dag(), "load", exception=error)
    context["ti"].log_url = LOG_URL
    signal_failure_callback("447700900123")(context)
    [message] = signal_api.messages
    lines = message.text.splitlines()
    assert (
        "Error: RuntimeError: could not connect to postgresql://etl:***@db.internal:5432/warehouse; token=***"
        in lines
    )
    assert "S3cr3t-pw" not in message.text and "ghp_" not in message.text
    assert lines[-1] == f"Log: {LOG_URL}"  # the link to the log intact


def test_a_notifier_s_own_text_masks_credentials_before_it_is_shortened(
    signal_api: Any, set_connection: Any
) -> None:
    set_connection(extra={"max_text_length": 100})
    text = "x" * 60 + " password='S3cr3t pw with spaces' " + "y" * 200  # the cut falls inside the value
    SignalNotifier(destinations="447700900123", text=text)(task_context(make_dag(), "load"))
    [message] = signal_api.messages
    assert len(message.text) <= 100
    assert "password='***'" in message.text and "S3cr3t" not in message.text


def test_a_notifier_s_own_text_of_10_mb_is_sent_redacted_at_its_start_and_cut(
    signal_api: Any, set_connection: Any
) -> None:
    set_connection(extra={"max_text_length": 200})
    blob = "from postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse token=ghp_abc123 " + "x " * 5_000_000
    # A short template that renders to 10 MB (Jinja's own parse of a 10 MB template costs seconds).
    SignalNotifier(destinations="447700900123", text="{{ blob }}")(
        task_context(make_dag(), "load", blob=blob)
    )
    [message] = signal_api.messages
    assert message.text.startswith("from postgresql://etl:***@db.internal:5432/warehouse token=*** x x")
    assert message.text.endswith("… [shortened]") and len(message.text) <= 200
