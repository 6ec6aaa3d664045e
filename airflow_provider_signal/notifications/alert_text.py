"""The default alert text: what an on-call engineer needs to act from the message alone.

Built in Python from whatever the callback context holds, so the smaller context of a
DAG-level callback or a missing key gives a shorter message, never an error or an
"undefined" placeholder. Each text is a list of
:class:`~airflow_provider_signal.shortening.Line` fitted into the connection's
``max_text_length`` by :func:`~airflow_provider_signal.shortening.fit`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal import _compat
from airflow_provider_signal.defaults import DEFAULT_MAX_TEXT_LENGTH
from airflow_provider_signal.formatting import format_date, format_duration
from airflow_provider_signal.shortening import (
    SHORTENED_MARKER,
    Line,
    cut,
    fit,
    flatten,
    quoted,
    redacted_start,
)

__all__ = ["SHORTENED_MARKER", "build_alert_text", "build_input_request_text", "guess_kind", "input_request"]

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


def _duration(ti: Any, dag_run: Any) -> str | None:
    duration = _attr(ti, "duration")
    if isinstance(duration, (int, float)):
        return format_duration(float(duration))
    start = _first(_attr(ti, "start_date"), _attr(dag_run, "start_date"))
    if isinstance(start, datetime):
        end = _first(_attr(ti, "end_date"), _attr(dag_run, "end_date"))
        now = end if isinstance(end, datetime) else datetime.now(timezone.utc)
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return format_duration((now - start).total_seconds())
    return None


def _text_of(value: Any) -> str:
    """``str(value)``, or a placeholder when its ``__str__`` raises or returns a non-string."""
    try:
        text = str(value)
    except Exception as error:  # an exception's own __str__ may be broken: the alert still goes out
        return f"<unprintable: str() raised {type(error).__name__}>"
    return text


def _error_line(exception: Any, redact: Callable[[str], str] | None = None) -> str | None:
    """The exception's type and first line, redacted before it is cut (no cut leaves half a secret)."""
    if exception is None:
        return None
    lines = _text_of(exception).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(exception, BaseException):
        name = type(exception).__name__
        text = f"{name}: {first}" if first else name
    else:
        text = first
    return cut(redacted_start(text, _ERROR_LINE_MAX, redact) if redact else text, _ERROR_LINE_MAX) or None


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


def build_alert_text(
    context: Mapping[str, Any],
    kind: str | None = None,
    *,
    limit: int = DEFAULT_MAX_TEXT_LENGTH,
    redact: Callable[[str], str] | None = None,
) -> str:
    """The default message for a ``failure``, ``retry`` or ``success`` callback.

    Within ``limit`` characters: the error is cut before the DAG and task, the log link is
    kept whole or left out. ``redact`` masks secrets in each part before anything is cut.
    """
    kind = kind or guess_kind(context)
    ti = _get(context, "ti") or _get(context, "task_instance")
    dag_run = _get(context, "dag_run")
    dag = _get(context, "dag")
    task = _get(context, "task") or _attr(ti, "task")
    dag_id = _first(_attr(dag, "dag_id"), _attr(ti, "dag_id"), _attr(dag_run, "dag_id"))
    task_id = _first(_attr(ti, "task_id"), _attr(task, "task_id"))
    # DAG-level callbacks carry a "reason"; their context may still name the task that decided it.
    what = "DAG run" if _get(context, "reason") or not task_id else "task"
    lines = [Line(_HEADLINES.get(kind, _HEADLINES["failure"]).format(what=what), cut=False, rank=0)]

    def add(label: str, value: Any, rank: int, *, link: bool = False) -> None:
        if value is not None:
            text = flatten(_text_of(value))
            if text:
                lines.append(Line(f"{label}: {text}", rank=rank, link=link, cut=not link))

    add("DAG", dag_id, 0)
    add("Task", task_id, 0)
    add("Run", _first(_get(context, "run_id"), _attr(dag_run, "run_id")), 4)
    logical_date = _first(_get(context, "logical_date"), _attr(dag_run, "logical_date"))
    add("Logical date", format_date(logical_date), 1)
    try_number = _attr(ti, "try_number")
    retries = _attr(task, "retries")
    if isinstance(try_number, int) and try_number > 0:
        add("Try", f"{try_number} of {retries + 1}" if isinstance(retries, int) else try_number, 1)
    add("Duration", _duration(ti, dag_run) if ti is not None or dag_run is not None else None, 1)
    if kind in ("failure", "retry"):
        add("Error", _error_line(_exception(context), redact), 2)
        add("Reason", _get(context, "reason"), 2)
    add("Log", _compat.task_log_url(ti), 3, link=True)
    return fit(lines, limit, redact)


_FIELD_MIN = 16
_SUBJECT_SHARE = 8
"""The subject gets at most an eighth of the limit."""
_OPTION_SHARE = 20
"""Each option (and each default) gets at most a twentieth of the limit."""
_BODY_SHARE = 4
"""The body gets at most a quarter of the limit: the options and the link come first."""


_FINISHED_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "up_for_retry", "removed"})


def input_request(context: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a human-in-the-loop operator asks (Airflow 3.1+), or ``None`` for any other context.

    Airflow's HITL operators call their ``notifiers`` from ``execute`` once the request is
    stored; their callbacks (failure, success...) see the same task but a finished state
    or an exception, and get the ordinary alert. The link is Airflow's own
    ``generate_link_to_ui`` (the task's "Required Actions" page, from ``[api] base_url``);
    without a base URL the message has no link.
    """
    task: Any = context.get("task")
    if not callable(getattr(task, "generate_link_to_ui", None)) or not hasattr(task, "options"):
        return None
    if context.get("exception") is not None:
        return None
    ti: Any = context.get("ti") or context.get("task_instance")
    state = getattr(ti, "state", None)
    if str(getattr(state, "value", state) or "") in _FINISHED_STATES:
        return None
    try:
        link: str | None = task.generate_link_to_ui(task_instance=ti)
    except Exception:  # no [api] base_url configured
        link = None
    summary = getattr(task, "hitl_summary", None)
    respond_by = summary.get("timeout_datetime") if isinstance(summary, dict) else None
    return {
        "subject": str(getattr(task, "subject", "") or ""),
        "body": getattr(task, "body", None),
        "options": [str(option) for option in task.options or []],
        "defaults": list(getattr(task, "defaults", None) or []) or None,
        "multiple": bool(getattr(task, "multiple", False)),
        "link": link,
        "respond_by": respond_by,
    }


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
    limit: int = DEFAULT_MAX_TEXT_LENGTH,
    redact: Callable[[str], str] | None = None,
) -> str:
    """The default message of a human-in-the-loop task (Airflow 3.1+): a person's input is needed.

    Says where (DAG, task, run), what is asked (the subject and body), the choices, what
    happens without an answer, and the link to the UI page where the person answers.

    It stays answerable within ``limit``: the subject and each option get their own share
    of it, the body a quarter of it and is cut or left out before the options, and the Respond
    link is kept whole. What the DAG author or a template supplied cannot forge the
    message's own lines: the subject and options are flattened to one line, and each line
    of the body is quoted (``"> "``).
    """
    ti = _get(context, "ti") or _get(context, "task_instance")
    dag_run = _get(context, "dag_run")
    share = max(_FIELD_MIN, limit // _OPTION_SHARE)
    lines = [Line("✋ Airflow needs your input", cut=False, rank=0)]

    def clean(value: Any) -> str:  # redacted before any cut: no cut leaves half a secret
        text = _text_of(value)
        return redacted_start(text, limit, redact) if redact is not None else text

    def add(label: str, value: Any, rank: int) -> None:
        text = flatten(value) if value is not None else ""
        if text:
            lines.append(Line(f"{label}: {text}", rank=rank))

    add("DAG", _first(_attr(_get(context, "dag"), "dag_id"), _attr(ti, "dag_id")), 0)
    add("Task", _attr(ti, "task_id"), 0)
    add("Run", _first(_get(context, "run_id"), _attr(dag_run, "run_id")), 3)
    add("Subject", cut(flatten(clean(subject)), max(_FIELD_MIN, limit // _SUBJECT_SHARE)), 0)
    if body and body.strip():
        lines.append(Line(f"\n{cut(quoted(clean(body)), max(_FIELD_MIN, limit // _BODY_SHARE))}\n", rank=1))
    lines.append(_options_line([cut(flatten(clean(option)), share, "…") for option in options], multiple))
    if defaults:
        shown = ", ".join(cut(flatten(clean(value)), share, "…") for value in defaults)
        add(f"If no answer by {flatten(respond_by)}" if respond_by else "Default", shown, 2)
    elif respond_by:
        add("Answer by", respond_by, 2)
    if link:
        lines.append(Line(f"Respond: {flatten(link)}", link=True, rank=0))
    return fit(lines, limit, redact)


def _options_line(names: list[str], multiple: bool) -> Line:
    """``Options: a, b (choose one)``; its shorter forms name fewer and count the rest."""
    how = "one or more" if multiple else "choose one"
    forms = [
        f"Options: {', '.join(names[:count])} and {len(names) - count} more ({how})"
        for count in range(len(names) - 1, 0, -1)
    ]
    forms.append(f"Options: {len(names)}, see them in the UI ({how})")
    return Line(f"Options: {', '.join(names)} ({how})", shorter=tuple(forms), cut=False, rank=0)
