"""Every text a user, a task or a DAG file controls is handled in time linear in its length.

Each case is timed at 1 KB and at its large size (1 MB, 10 MB, 10,000 items); the test fails when
the large one costs more per character (or per item) than a few times the small one. A ratio, not
a wall-clock limit: a quadratic step (a regular expression that backtracks over a long word) makes
the ratio about a thousand, a slow machine does not change it. The absolute times are for
``make bench``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_signal.alerts.config import parse_settings
from airflow_provider_signal.alerts.group_text import group_text
from airflow_provider_signal.alerts.import_errors import error_line
from airflow_provider_signal.alerts.import_text import FileReport, broken_text
from airflow_provider_signal.alerts.message import FailedTask, RunEvent, RunReport, failure_text
from airflow_provider_signal.client.credentials import CredentialMasker
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.notifications.alert_text import build_alert_text
from airflow_provider_signal.shortening import SHORTENED_MARKER, fit_text
from airflow_provider_signal.validation import normalise_destinations

MAX_RATIO = 5.0
"""Per unit of input, the large case may cost at most this many times the small one."""
LOG_URL = "http://localhost:8080/dags/etl/runs/r1/tasks/load?try_number=1"


def _fastest(build: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        build()
        best = min(best, time.perf_counter() - start)
    return best


def _context(message: str) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="etl", task_id="load", try_number=1, duration=3.0, log_url=LOG_URL)
    return {"ti": ti, "exception": RuntimeError(message), "run_id": "r1"}


def _task_error(unit: str) -> Callable[[int], str]:
    def build(size: int) -> str:
        text = build_alert_text(_context(unit * (size // len(unit))), "failure")
        assert LOG_URL in text and len(text) <= 2000  # the link kept, the error shortened (or its first line)
        return text

    return build


def _template(size: int) -> str:
    text = fit_text("x" * size, 500)
    assert text.endswith(SHORTENED_MARKER)
    return text


def _traceback(unit: str) -> Callable[[int], str]:
    def build(size: int) -> str:
        trace = "Traceback (most recent call last):\n" + unit * (size // len(unit)) + "ValueError: boom"
        report = FileReport(path="dags/etl.py", error=error_line(trace))
        return broken_text([report], link="http://localhost:8080/dags")

    return build


def _mapped_run(count: int) -> str:
    event = RunEvent(kind="failure", dag_id="etl", run_id="r1")
    tasks = [FailedTask("load", 1, index) for index in range(count)]
    text = failure_text(
        RunReport(event=event, failed_tasks=tasks, run_url="http://localhost:8080/dags/etl/runs/r1")
    )
    assert f"and {count - 5} more" in text and "runs/r1" in text
    return text


def _grouped_mapped_run(count: int) -> str:
    tasks = [FailedTask("load", 1, index) for index in range(count)]
    reports = [
        RunReport(RunEvent(kind="failure", dag_id=f"etl_{n}", run_id="r1"), failed_tasks=tasks)
        for n in range(3)
    ]
    text = group_text(reports, link="http://localhost:8080/dag_runs?state=failed")
    assert f"and {count - 3} more" in text and "state=failed" in text
    return text


def _refused_setting(key: str, wrap: Callable[[str], str]) -> Callable[[int], str]:
    """A ``[signal_alerts]`` value of ``size`` characters, refused naming ``key``, not echoed."""

    def build(size: int) -> str:
        with pytest.raises(SignalInputError) as refused:
            parse_settings({key: wrap("4" * size)}.get)
        message = str(refused.value)
        assert message.startswith(f"[signal_alerts] {key}") and len(message) < 600
        return message

    return build


NEAR_MISSES = (
    "try_number=1 passwordless tokenizer token_count http://secret-store:8080/dags/etl/runs/r1?try_number=1 "
    "https://host/path?x=1 password token: x\n"
)
"""Names of sensitive keys without a separator, separators after other keys, URLs without a
user-info, a key right after a URL's "/" (not a key), and one real key a line."""
REAL = 'postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; token=ghp_abc "password": "a b" '


def _credentials(unit: str) -> Callable[[int], str]:
    def build(size: int) -> str:
        text = _masker().redact(unit * (size // len(unit)) + LOG_URL)
        assert text.endswith(LOG_URL) and "S3cr3t" not in text
        return text

    return build


def _refused_destinations(size: int) -> str:
    """Destinations of a send, ``size`` characters of numbers and commas: refused by their count."""
    numbers = ",".join(["+447700900123"] * (size // 14))
    with pytest.raises(SignalInputError) as refused:
        normalise_destinations(numbers)
    return str(refused.value)


_MASKERS: list[CredentialMasker] = []


def _masker() -> CredentialMasker:
    """Built once, as the hook does, from this Airflow's names."""
    if not _MASKERS:
        from airflow_provider_signal import _compat

        _MASKERS.append(CredentialMasker(_compat.sensitive_key_names()))
    return _MASKERS[0]


def _redacted_template(size: int) -> str:
    """A notifier's own text rendered to ``size`` characters of near misses, redacted and fitted."""
    text = fit_text(REAL + NEAR_MISSES * (size // len(NEAR_MISSES)), 500, redact=_masker().redact)
    assert text.startswith("postgresql://etl:***@db.internal") and text.endswith(SHORTENED_MARKER)
    return text


def _redacted_task_error(size: int) -> str:
    """A failure alert whose error is one line of ``size`` characters: credentials, near misses."""
    unit = REAL + NEAR_MISSES.replace("\n", " ")
    text = build_alert_text(_context(unit * (size // len(unit))), "failure", redact=_masker().redact)
    assert "Error: RuntimeError: postgresql://etl:***@db.internal" in text and text.endswith(LOG_URL)
    return text


CASES: dict[str, tuple[Callable[[int], str], int, int]] = {
    # name: (build at a size, the small size, the large size)
    "task error, one word": (_task_error("a"), 1_000, 1_000_000),
    "task error, many lines": (_task_error("a line of the error\n"), 1_000, 1_000_000),
    "task error, many URLs": (_task_error("https://api.example.com/v1/x?y=z "), 1_000, 1_000_000),
    "template rendered to 10 MB": (_template, 1_000, 10_000_000),
    "import traceback, one line": (_traceback("a"), 1_000, 1_000_000),
    "import traceback, 10,000 lines": (_traceback('  File "dags/etl.py", line 1, in <module>\n'), 50, 10_000),
    "10,000 failed mapped tasks": (_mapped_run, 10, 10_000),
    "a grouped message naming runs with 10,000 failed mapped tasks": (_grouped_mapped_run, 10, 10_000),
    "[signal_alerts] destinations of 1 MB": (_refused_setting("destinations", str), 1_000, 1_000_000),
    "[signal_alerts] routes of 1 MB": (
        _refused_setting("routes", lambda value: json.dumps({"team": value})),
        1_000,
        1_000_000,
    ),
    "destinations of a send, 1 MB of numbers": (_refused_destinations, 100_000, 1_000_000),
    "credentials masked, one word": (_credentials("a"), 1_000, 1_000_000),
    "credentials masked, one word of key names": (_credentials("db_password-token"), 1_000, 1_000_000),
    "credentials masked, near-miss keys and URLs": (_credentials(NEAR_MISSES), 1_000, 1_000_000),
    "credentials masked, an unclosed quote a line": (
        _credentials('password: "' + "x" * 100 + "\n"),
        1_000,
        1_000_000,
    ),
    "a notifier's own text of 10 MB, redacted and fitted": (_redacted_template, 1_000, 10_000_000),
    "a task error of 10 MB with credentials, redacted": (_redacted_task_error, 1_000, 10_000_000),
}


@pytest.mark.parametrize("name", list(CASES))
def test_text_handling_is_linear_in_the_input(name: str) -> None:
    build, small, large = CASES[name]
    small_time = _fastest(lambda: build(small), repeat=20)
    large_time = _fastest(lambda: build(large), repeat=2)
    ratio = (large_time / large) / (small_time / small)
    assert ratio <= MAX_RATIO, (
        f"{name}: {large_time:.4f} s for {large:,} against {small_time:.6f} s for {small:,} "
        f"({ratio:.1f} times the cost per unit): not linear"
    )
