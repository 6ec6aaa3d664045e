"""The texts of health messages: an incident's start, its reminders and its end.

Plain Python over plain data (:class:`HealthReport`), so the texts are tested without Airflow.
Several incidents told at once (the scheduler and the triggerer down together) share one
message, a line (or two, for a reminder) each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from airflow_provider_signal.formatting import format_duration
from airflow_provider_signal.shortening import Line, fit

SENT_AGAIN = "Sent again: the first attempt may not have arrived"
_NAMES = {"scheduler": "scheduler", "dag_processor": "DAG processor", "triggerer": "triggerer"}
_QUEUES_NAMED = 5


@dataclass(frozen=True)
class HealthReport:
    """One incident's news: ``action`` is ``open``, ``remind`` or ``close``."""

    action: str
    key: str  # scheduler_down, scheduler_degraded, triggerer_down, dag_processor_down, tasks_stuck
    component: str
    since: (
        datetime | None
    )  # last heartbeat (down), when the first went silent (degraded), oldest task (stuck)
    at: datetime  # when the watcher decided
    opened_at: datetime | None = None  # when the incident was opened (remind, close)
    healthy: int = 0
    expected: int = 0
    executor: str = ""
    queues: tuple[tuple[str, int], ...] = ()
    tasks: int = 0
    watcher: str = ""  # which process saw it: "triggerer on host-1"


def _clock(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M UTC")


def _ago(report: HealthReport, value: datetime | None) -> str:
    return format_duration((report.at - value).total_seconds()) if value is not None else ""


def _name(component: str) -> str:
    return _NAMES.get(component, component)


def _queues(report: HealthReport) -> str:
    named = [f"{queue} ({count})" for queue, count in report.queues[:_QUEUES_NAMED]]
    rest = len(report.queues) - len(named)
    return ", ".join(named) + (f" and {rest} more" if rest else "")


def problem_line(report: HealthReport) -> str:
    """What is wrong, in one line (the start of an incident, or a reminder of it)."""
    since = report.since
    if report.key == "tasks_stuck":
        oldest = f", the oldest for {_ago(report, since)}" if since else ""
        executor = f" ({report.executor})" if report.executor else ""
        plural = "task" if report.tasks == 1 else "tasks"
        return (
            f"Airflow tasks stuck in queued: {report.tasks} {plural}{oldest}, on queue(s) "
            f"{_queues(report)}{executor}. No worker is taking them."
        )
    if report.key == "scheduler_degraded":
        silent = f"; one silent since {_clock(since)} ({_ago(report, since)})" if since else ""
        return f"Airflow schedulers degraded: {report.healthy} of {report.expected} heartbeating{silent}."
    name = _name(report.component)
    if since is None:
        return f"Airflow {name} down: no heartbeat seen."
    return f"Airflow {name} down: no heartbeat since {_clock(since)} ({_ago(report, since)})."


def end_line(report: HealthReport) -> str:
    """The end of an incident, with how long it lasted."""
    start = report.since or report.opened_at
    lasted = f" after {_ago(report, start)}" if start else ""
    span = f" ({_clock(start)} to {_clock(report.at)})" if start else ""
    if report.key == "tasks_stuck":
        return f"Airflow tasks no longer stuck in queued{lasted}{span}: workers are taking them."
    if report.key == "scheduler_degraded":
        return f"Airflow schedulers all heartbeating again{lasted}{span}."
    return f"Airflow {_name(report.component)} back: heartbeating again{lasted}{span}."


def _block(report: HealthReport) -> list[Line]:
    if report.action == "close":
        return [Line(f"✅ {end_line(report)}", rank=0)]
    prefix = "🔁 Still: " if report.action == "remind" else "🚨 "
    block = [Line(prefix + problem_line(report), rank=0)]
    if report.action == "remind" and report.opened_at is not None:
        block.append(
            Line(f"Open since: {_clock(report.opened_at)} ({_ago(report, report.opened_at)})", rank=2)
        )
    return block


def health_text(
    reports: list[HealthReport],
    *,
    link: str | None = None,
    limit: int = 2000,
    sent_again: bool = False,
    redact: Callable[[str], str] | None = None,
) -> str:
    """One message for ``reports`` (all starts and reminders, or all ends), one block each."""
    lines: list[Line] = []
    if sent_again:
        lines.append(Line(SENT_AGAIN, cut=False, rank=0))
    for report in reports:
        lines += _block(report)
    watchers = sorted({report.watcher for report in reports if report.watcher})
    if watchers and reports[0].action != "close":
        lines.append(Line(f"Seen by: {', '.join(watchers)}", rank=3))
    if link:
        lines.append(Line(f"Health: {link}", link=True, rank=3))
    return fit(lines, limit, redact)


def health_url(base_url: str, airflow_major: int) -> str | None:
    """Airflow's health endpoint: ``/api/v2/monitor/health`` on 3.x, ``/health`` on 2.11."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    return f"{base}/api/v2/monitor/health" if airflow_major >= 3 else f"{base}/health"
