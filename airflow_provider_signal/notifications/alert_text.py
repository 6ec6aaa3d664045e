"""The default alert text: what an on-call engineer needs to act from the message alone.

Built in Python from whatever the callback context holds, so the smaller context of a
DAG-level callback or a missing key gives a shorter message, never an error or an
"undefined" placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal import _compat

SHORTENED_MARKER = "… [shortened]"
_HEADLINES = {
    "failure": "❌ Airflow {what} failed",
    "retry": "🔁 Airflow {what} failed, will retry",
    "success": "✅ Airflow {what} succeeded",
}
_ERROR_LINE_MAX = 300


def _get(context: Mapping[str, Any], key: str) -> Any:
    try:
        return context.get(key)
    except Exception:  # some Airflow context values are lazy and may fail to resolve
        return None


def _attr(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "")), None)


def _format_date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value) if value else None


def _format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"


def _duration(ti: Any, dag_run: Any) -> str | None:
    duration = _attr(ti, "duration")
    if isinstance(duration, (int, float)):
        return _format_duration(float(duration))
    start = _first(_attr(ti, "start_date"), _attr(dag_run, "start_date"))
    if isinstance(start, datetime):
        end = _first(_attr(ti, "end_date"), _attr(dag_run, "end_date"))
        now = end if isinstance(end, datetime) else datetime.now(timezone.utc)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return _format_duration((now - start).total_seconds())
    return None


def _text_of(value: Any) -> str:
    """``str(value)``, or a placeholder when its ``__str__`` raises or returns a non-string."""
    try:
        text = str(value)
    except Exception as error:  # an exception's own __str__ may be broken: the alert still goes out
        return f"<unprintable: str() raised {type(error).__name__}>"
    return text


def _error_line(exception: Any) -> str | None:
    if exception is None:
        return None
    lines = _text_of(exception).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exception, BaseException):
        name = type(exception).__name__
        text = f"{name}: {first}" if first else name
    else:
        text = first
    if len(text) > _ERROR_LINE_MAX:
        text = text[: _ERROR_LINE_MAX - len(SHORTENED_MARKER)] + SHORTENED_MARKER
    return text or None


def _exception(context: Mapping[str, Any]) -> Any:
    # `airflow dags test` on Airflow 3.0-3.2 leaves "exception" out of a task callback's context.
    exception = _get(context, "exception")
    return exception if exception is not None else _compat.exception_being_reported(context)


def guess_kind(context: Mapping[str, Any]) -> str:
    """``failure`` when the context carries an exception or a failed run, else ``success``."""
    if _exception(context) is not None:
        return "failure"
    state = str(_attr(_get(context, "dag_run"), "state") or "")
    return "failure" if state.endswith("failed") else "success"


def build_alert_text(context: Mapping[str, Any], kind: str | None = None) -> str:
    """The default message for a ``failure``, ``retry`` or ``success`` callback."""
    kind = kind or guess_kind(context)
    ti = _get(context, "ti") or _get(context, "task_instance")
    dag_run = _get(context, "dag_run")
    dag = _get(context, "dag")
    task = _get(context, "task") or _attr(ti, "task")
    dag_id = _first(_attr(dag, "dag_id"), _attr(ti, "dag_id"), _attr(dag_run, "dag_id"))
    task_id = _first(_attr(ti, "task_id"), _attr(task, "task_id"))
    # DAG-level callbacks carry a "reason"; their context may still name the task that decided it.
    what = "DAG run" if _get(context, "reason") or not task_id else "task"
    lines = [_HEADLINES.get(kind, _HEADLINES["failure"]).format(what=what)]

    def add(label: str, value: Any) -> None:
        if value is not None:
            text = _text_of(value)
            if text:
                lines.append(f"{label}: {text}")

    add("DAG", dag_id)
    add("Task", task_id)
    add("Run", _first(_get(context, "run_id"), _attr(dag_run, "run_id")))
    add(
        "Logical date",
        _format_date(_first(_get(context, "logical_date"), _attr(dag_run, "logical_date"))),
    )
    try_number = _attr(ti, "try_number")
    retries = _attr(task, "retries")
    if isinstance(try_number, int) and try_number > 0:
        add("Try", f"{try_number} of {retries + 1}" if isinstance(retries, int) else try_number)
    add("Duration", _duration(ti, dag_run) if ti is not None or dag_run is not None else None)
    if kind in ("failure", "retry"):
        add("Error", _error_line(_exception(context)))
        add("Reason", _get(context, "reason"))
    add("Log", _compat.task_log_url(ti))
    return "\n".join(lines)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a visible marker, if it is longer."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(SHORTENED_MARKER))] + SHORTENED_MARKER


_INPUT_BODY_MAX = 1000


def build_input_request_text(
    context: Mapping[str, Any],
    *,
    subject: str,
    options: list[str],
    body: str | None = None,
    defaults: list[str] | None = None,
    multiple: bool = False,
    link: str | None = None,
    respond_by: str | None = None,
) -> str:
    """The default message of a human-in-the-loop task (Airflow 3.1+): a person's input is needed.

    Says where (DAG, task, run), what is asked (the subject and body), the choices, what
    happens without an answer, and the link to the UI page where the person answers.
    """
    ti = _get(context, "ti") or _get(context, "task_instance")
    dag_run = _get(context, "dag_run")
    lines = ["✋ Airflow needs your input"]

    def add(label: str, value: Any) -> None:
        if value not in (None, ""):
            lines.append(f"{label}: {value}")

    add("DAG", _first(_attr(_get(context, "dag"), "dag_id"), _attr(ti, "dag_id")))
    add("Task", _attr(ti, "task_id"))
    add("Run", _first(_get(context, "run_id"), _attr(dag_run, "run_id")))
    add("Subject", subject)
    if body and body.strip():
        lines.extend(["", shorten(body.strip(), _INPUT_BODY_MAX), ""])
    add("Options", f"{', '.join(options)} ({'one or more' if multiple else 'choose one'})")
    if defaults:
        add(f"If no answer by {respond_by}" if respond_by else "Default", ", ".join(defaults))
    elif respond_by:
        add("Answer by", respond_by)
    add("Respond", link)
    return "\n".join(lines)
