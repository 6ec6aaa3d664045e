"""The alert texts: one per failed run, one per recovery, in the default callback's house style.

Plain Python over plain data (:class:`RunEvent`, :class:`RunReport`): no Airflow import, so
the text is tested on its own and built in the background sender, never on the scheduler's
thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from airflow_provider_signal.alerts.kinds import RunKind
from airflow_provider_signal.notifications.alert_text import _format_date, _format_duration, shorten

MANUAL_MARKER = "manually set"
"""Airflow 3's API server says "Dag Run's state was manually set to `failed`." for a run a
person marked failed."""
_TASK_LINE_MAX = 600
_REASONS = {
    "task_failure": "a task failed",
    "timed_out": "dagrun_timeout exceeded",
    "all_tasks_deadlocked": "no task could run (deadlock: upstream states or pools)",
}


@dataclass(frozen=True)
class RunEvent:
    """What the listener copies off a finished DagRun, on the scheduler's thread: plain values only."""

    kind: RunKind  # what the run would alert as (alerts/kinds.py)
    dag_id: str
    run_id: str
    run_type: str | None = None
    logical_date: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    msg: str = ""
    dagrun_timeout: float | None = None  # seconds, when the DAG has one
    clear_number: int = 0  # how often the run was cleared: a cleared run that fails again is news
    tags: tuple[str, ...] | None = None  # the DAG's tags when the run carried its DAG, else read from the DB

    @property
    def manual(self) -> bool:
        """The run was marked failed or successful by a person (Airflow 3 API server)."""
        return MANUAL_MARKER in self.msg

    @property
    def duration(self) -> float | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


@dataclass(frozen=True)
class FailedTask:
    task_id: str
    try_number: int | None = None
    map_index: int = -1

    def label(self) -> str:
        name = self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"
        return f"{name} (try {self.try_number})" if self.try_number else name


@dataclass(frozen=True)
class RunReport:
    """A failed or recovered run with what the sender looked up in the metadata database."""

    event: RunEvent
    failed_tasks: list[FailedTask] = field(default_factory=list)
    upstream_failed: int = 0
    held: int = 0  # other runs of the DAG that failed since the last alert, without an alert
    last_alert_at: datetime | None = None
    run_url: str | None = None
    unreachable: tuple[datetime, datetime] | None = None  # the API could not be reached from .. to ..
    sent_again: bool = False  # an earlier copy may have arrived


def _clock(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M")


def _delivery_lines(report: RunReport) -> list[str]:
    lines = []
    if report.unreachable is not None:
        start, end = report.unreachable
        lines.append(
            f"Delayed: the Signal API could not be reached from {_clock(start)} to {_clock(end)} UTC"
        )
    if report.sent_again:
        lines.append("Sent again: the first attempt may not have arrived")
    return lines


def reason(report: RunReport) -> str:
    """Why the run failed, in words."""
    event = report.event
    if event.manual:
        return "marked failed by hand"
    if event.msg in _REASONS:
        return _REASONS[event.msg]
    # Airflow 2.11 fails a run on dagrun_timeout without a reason in the event.
    if report.failed_tasks:
        return _REASONS["task_failure"]
    duration = event.duration
    if event.dagrun_timeout is not None and duration is not None and duration >= event.dagrun_timeout:
        return _REASONS["timed_out"]
    return event.msg or "the run failed"


def _reason_line(report: RunReport) -> str:
    text = reason(report)
    timeout = report.event.dagrun_timeout
    if text == _REASONS["timed_out"] and timeout is not None:
        return f"{text} ({_format_duration(timeout)})"
    return text


def _tasks_line(report: RunReport, max_tasks: int) -> str | None:
    if not report.failed_tasks:
        return None
    shown = [task.label() for task in report.failed_tasks[:max_tasks]]
    rest = len(report.failed_tasks) - len(shown)
    line = ", ".join(shown) if shown else ""
    if rest:
        line = f"{line} and {rest} more" if line else f"{rest} tasks"
    return shorten(line, _TASK_LINE_MAX)


def _held_line(report: RunReport) -> str | None:
    if not report.held:
        return None
    since = f" (last alert {_format_date(report.last_alert_at)})" if report.last_alert_at else ""
    runs = "run" if report.held == 1 else "runs"
    return f"{report.held} earlier failed {runs} of this DAG since the last alert{since}"


def _common(report: RunReport, lines: list[str]) -> None:
    event = report.event
    lines.append(f"DAG: {event.dag_id}")
    lines.append(f"Run: {event.run_id}")
    if event.run_type:
        lines.append(f"Run type: {event.run_type}")
    if event.logical_date is not None:
        lines.append(f"Logical date: {_format_date(event.logical_date)}")
    if event.duration is not None:
        lines.append(f"Duration: {_format_duration(event.duration)}")


def failure_text(report: RunReport, *, max_tasks: int = 5, limit: int = 2000) -> str:
    """The alert for one failed run, cut to ``limit`` characters with a visible marker."""
    lines = ["❌ Airflow DAG run failed", *_delivery_lines(report)]
    _common(report, lines)
    lines.append(f"Reason: {_reason_line(report)}")
    tasks = _tasks_line(report, max_tasks)
    if tasks:
        lines.append(f"Failed tasks: {tasks}")
    if report.upstream_failed:
        lines.append(f"Upstream failed: {report.upstream_failed}")
    held = _held_line(report)
    if held:
        lines.append(f"Also: {held}")
    if report.run_url:
        lines.append(f"Link: {report.run_url}")
    return shorten("\n".join(lines), limit)


def recovery_text(report: RunReport, *, limit: int = 2000) -> str:
    """The message for the first successful run after a failure alert."""
    lines = ["✅ Airflow DAG recovered", *_delivery_lines(report)]
    _common(report, lines)
    held = _held_line(report)
    if held:
        lines.append(f"Also: {held}")
    if report.run_url:
        lines.append(f"Link: {report.run_url}")
    return shorten("\n".join(lines), limit)


def run_url(base_url: str, dag_id: str, run_id: str, airflow_major: int) -> str | None:
    """The run's page in the UI: ``/dags/<id>/runs/<run>`` on Airflow 3, the grid view on 2."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    if airflow_major >= 3:
        return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{base}/dags/{quote(dag_id, safe='')}/grid?dag_run_id={quote(run_id, safe='')}"
