"""The message for a group of several runs: one line per DAG, as many as fit, the rest counted.

A group of one is never built here: it gets the single-run text of :mod:`.message`, unchanged.
Plain Python over :class:`~.message.RunReport` objects, like the single-run texts. The counts
(runs, DAGs, "And N more") are never cut: a DAG line is shortened or left out whole, and the
link to Airflow's list of failed runs is kept whole or left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

from airflow_provider_signal.alerts.kinds import FAILURE, RunKind
from airflow_provider_signal.alerts.message import RunReport, reason
from airflow_provider_signal.defaults import DEFAULT_MAX_TEXT_LENGTH
from airflow_provider_signal.shortening import cut, fit_text, flatten, redacted_start

DAG_LINE_MAX = 160
"""The longest line naming one DAG: long ids and task lists are cut to this."""
TASKS_NAMED = 3
"""Failed tasks named on a DAG's line; more are counted."""


@dataclass
class _Dag:
    dag_id: str
    reports: list[RunReport] = field(default_factory=list)

    @property
    def delayed(self) -> int:
        return sum(1 for report in self.reports if report.unreachable is not None or report.sent_again)


def _by_dag(reports: list[RunReport]) -> list[_Dag]:
    dags: dict[str, _Dag] = {}
    for report in reports:
        dags.setdefault(report.event.dag_id, _Dag(report.event.dag_id)).reports.append(report)
    return list(dags.values())


def _what_failed(report: RunReport) -> str:
    labels = [flatten(task.label()) for task in report.failed_tasks[:TASKS_NAMED]]
    total = report.failed_count if report.failed_count is not None else len(report.failed_tasks)
    rest = total - len(labels)
    if not labels:
        return flatten(reason(report))
    return ", ".join(labels) + (f" and {rest} more" if rest else "")


def _dag_line(dag: _Dag, kind: RunKind, clean: Callable[[str], str]) -> str:
    runs = len(dag.reports)
    parts = []
    if runs > 1:
        parts.append(f"{runs} runs")
    if dag.delayed:
        parts.append("delayed" if runs == 1 else f"{dag.delayed} delayed")
    held = sum(report.held for report in dag.reports)
    if held:
        parts.append(f"+{held} held back")
    note = f" ({', '.join(parts)})" if parts else ""
    detail = f": {_what_failed(dag.reports[-1])}" if kind == FAILURE else ""
    # The counts come first: a cut reaches only the task names; redacted before the cut.
    return cut(redacted_start(f"• {flatten(dag.dag_id)}{note}{detail}", DAG_LINE_MAX, clean), DAG_LINE_MAX)


def _clock(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%H:%M")


def _title(kind: RunKind, runs: int, dags: int) -> str:
    if kind == FAILURE:
        in_dags = f" in {dags} DAGs" if dags > 1 else " of 1 DAG"
        return f"❌ Airflow: {runs} DAG runs failed{in_dags}"
    return f"✅ Airflow: {dags} DAGs recovered"


def _notes(reports: list[RunReport]) -> list[str]:
    lines: list[str] = []
    unreachable = [report.unreachable for report in reports if report.unreachable is not None]
    if unreachable:
        start = min(span[0] for span in unreachable)
        end = max(span[1] for span in unreachable)
        lines.append(
            f"Delayed: the Signal API could not be reached from {_clock(start)} to {_clock(end)} UTC"
        )
    if any(report.sent_again for report in reports):
        lines.append("Sent again: an earlier attempt may not have arrived")
    return lines


def _rest(dags: int, runs: int) -> str:
    return f"And {dags} more" + (f" ({runs} runs)" if runs != dags else "")


def group_text(
    reports: list[RunReport],
    *,
    link: str | None = None,
    limit: int = DEFAULT_MAX_TEXT_LENGTH,
    redact: Callable[[str], str] | None = None,
) -> str:
    """One message for ``reports`` (several runs of one kind, oldest first) in ``limit`` characters."""
    kind = reports[0].event.kind
    dags = _by_dag(reports)
    clean = redact or (lambda text: text)
    head = [_title(kind, len(reports), len(dags)), *_notes(reports)]
    lines = [_dag_line(dag, kind, clean) for dag in dags]
    tail = [f"{'Failed runs' if kind == FAILURE else 'DAGs'}: {link}"] if link else []

    def size(parts: list[str]) -> int:
        return sum(len(part) + 1 for part in parts)

    budget = limit - size(head)
    if size(tail) + len(_rest(len(dags), len(reports))) + 1 > budget:
        tail = []  # no room for the link beside the counts: the counts win
    shown: list[str] = []
    used = size(tail)
    runs_left = len(reports)
    for index, (dag, line) in enumerate(zip(dags, lines, strict=True)):
        left = len(dags) - index - 1
        rest = _rest(left, runs_left - len(dag.reports)) if left else ""
        if used + len(line) + 1 + (len(rest) + 1 if rest else 0) > budget:
            break
        shown.append(line)
        used += len(line) + 1
        runs_left -= len(dag.reports)
    body = shown + ([_rest(len(dags) - len(shown), runs_left)] if len(shown) < len(dags) else [])
    return fit_text("\n".join([*head, *body, *tail]), limit)


def failed_runs_url(base_url: str, airflow_major: int) -> str | None:
    """Airflow's list of failed runs: ``/dag_runs?state=failed`` on 3.x, the run list view on 2.11."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    if airflow_major >= 3:
        return f"{base}/dag_runs?{urlencode({'state': 'failed'})}"
    return f"{base}/dagrun/list/?{urlencode({'_flt_0_state': 'failed'})}"


def dags_url(base_url: str, airflow_major: int) -> str | None:
    """Airflow's list of DAGs (where a recovered group is seen)."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    return f"{base}/dags" if airflow_major >= 3 else f"{base}/home"
