"""The alert texts: one per failed run, one per recovery, in the default callback's house style.

Plain Python over plain data (:class:`RunEvent`, :class:`RunReport`): no Airflow import, so
the text is tested on its own and built in the background sender, never on the scheduler's
thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from airflow_provider_signal.alerts.kinds import RunKind
from airflow_provider_signal.defaults import DEFAULT_MAX_TEXT_LENGTH
from airflow_provider_signal.formatting import format_date, format_duration
from airflow_provider_signal.shortening import Line, fit, flatten

MANUAL_MARKER = "manually set"
"""Airflow 3's API server says "Dag Run's state was manually set to `failed`." for a run a
person marked failed."""
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


def decision_subject(prefix: str, decision_id: int, opens: bool, decided_at: datetime) -> RunEvent:
    """The outbox's key for a notice that is about no run (a DAG file's, a health incident's, a
    silence's summary): no DAG, the run id ``<prefix><decision row id>``, the kind ``failure``
    when it opens a problem and ``recovery`` when it ends one; its age counts from ``decided_at``."""
    return RunEvent(
        kind="failure" if opens else "recovery",
        dag_id="",
        run_id=f"{prefix}{decision_id}",
        end_date=decided_at,
    )


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
    failed_count: int | None = None  # all failed tasks, when ``failed_tasks`` names only the first


def _clock(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M")


def _delivery_lines(report: RunReport) -> list[Line]:
    """Why this copy comes late or may be a repeat: kept whole in every shortening."""
    lines: list[Line] = []
    if report.unreachable is not None:
        start, end = report.unreachable
        text = f"Delayed: the Signal API could not be reached from {_clock(start)} to {_clock(end)} UTC"
        lines.append(Line(text, cut=False, rank=0))
    if report.sent_again:
        lines.append(Line("Sent again: the first attempt may not have arrived", cut=False, rank=0))
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
        return f"{text} ({format_duration(timeout)})"
    return text


def _tasks_line(report: RunReport, max_tasks: int) -> Line | None:
    """``Failed tasks: a (try 1), b (try 2) and 3 more``: shorter forms name fewer tasks and
    count the rest, so the count is never cut off."""
    if not report.failed_tasks:
        return None
    labels = [flatten(task.label()) for task in report.failed_tasks]
    total = len(labels)

    def named(count: int) -> str:
        shown = ", ".join(labels[:count])
        rest = total - count
        if not count:
            return f"Failed tasks: {total} tasks"
        return f"Failed tasks: {shown} and {rest} more" if rest else f"Failed tasks: {shown}"

    most = min(max_tasks, total)
    return Line(
        named(most), shorter=tuple(named(count) for count in range(most - 1, -1, -1)), cut=False, rank=4
    )


def _held_line(report: RunReport) -> Line | None:
    """``Also: N earlier failed runs ...``: the count leads, so a cut cannot reach it."""
    if not report.held:
        return None
    runs = "run" if report.held == 1 else "runs"
    text = f"Also: {report.held} earlier failed {runs} of this DAG since the last alert"
    since = f" (last alert {format_date(report.last_alert_at)})" if report.last_alert_at else ""
    return Line(text + since, shorter=(text, f"Also: {report.held} earlier failed {runs}"), cut=False, rank=5)


def _common(report: RunReport, lines: list[Line]) -> None:
    event = report.event
    lines.append(Line(f"DAG: {flatten(event.dag_id)}", rank=0))
    lines.append(Line(f"Run: {flatten(event.run_id)}", rank=4))
    if event.run_type:
        lines.append(Line(f"Run type: {flatten(event.run_type)}", rank=1))
    if event.logical_date is not None:
        lines.append(Line(f"Logical date: {format_date(event.logical_date)}", rank=1))
    if event.duration is not None:
        lines.append(Line(f"Duration: {format_duration(event.duration)}", rank=1))


def _finish(report: RunReport, lines: list[Line], limit: int, redact: Callable[[str], str] | None) -> str:
    held = _held_line(report)
    if held:
        lines.append(held)
    if report.run_url:
        lines.append(Line(f"Link: {report.run_url}", link=True, rank=3))
    return fit(lines, limit, redact)


def failure_text(
    report: RunReport,
    *,
    max_tasks: int = 5,
    limit: int = DEFAULT_MAX_TEXT_LENGTH,
    redact: Callable[[str], str] | None = None,
) -> str:
    """The alert for one failed run, in at most ``limit`` characters.

    Shortened in the middle first (the reason, the run, then fewer tasks named), the counts
    never cut, the link kept whole or left out (see :mod:`airflow_provider_signal.shortening`);
    ``redact`` masks secrets in each part before anything is cut.
    """
    lines = [Line("❌ Airflow DAG run failed", cut=False, rank=0), *_delivery_lines(report)]
    _common(report, lines)
    lines.append(Line(f"Reason: {flatten(_reason_line(report))}", rank=2))
    tasks = _tasks_line(report, max_tasks)
    if tasks:
        lines.append(tasks)
    if report.upstream_failed:
        lines.append(Line(f"Upstream failed: {report.upstream_failed}", cut=False, rank=4))
    return _finish(report, lines, limit, redact)


def recovery_text(
    report: RunReport, *, limit: int = DEFAULT_MAX_TEXT_LENGTH, redact: Callable[[str], str] | None = None
) -> str:
    """The message for the first successful run after a failure alert."""
    lines = [Line("✅ Airflow DAG recovered", cut=False, rank=0), *_delivery_lines(report)]
    _common(report, lines)
    return _finish(report, lines, limit, redact)


def run_url(base_url: str, dag_id: str, run_id: str, airflow_major: int) -> str | None:
    """The run's page in the UI: ``/dags/<id>/runs/<run>`` on Airflow 3, the grid view on 2."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    if airflow_major >= 3:
        return f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{base}/dags/{quote(dag_id, safe='')}/grid?dag_run_id={quote(run_id, safe='')}"
