"""What a silence kept quiet, as a notice of the outbox and as its message (:mod:`.silence_summary`
decides it): plain data and plain text, tested without Airflow.

Its outbox key, as for a DAG file's news, has no DAG and one subject per decision: the run id
``silence:<id>`` of the ``signal_silence_summary`` row of one route.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_signal.alerts.message import RunEvent, decision_subject
from airflow_provider_signal.alerts.records import parse_time

RUN_PREFIX = "silence:"
DAGS_NAMED = 5


@dataclass(frozen=True)
class SilenceSummary:
    """What one silence kept quiet from one route."""

    silence_id: str
    reason: str
    author: str
    starts_at: datetime
    end: datetime
    ended_by: str = ""  # who ended it early ("" when it ran its course)
    failed_runs: int = 0
    dags: tuple[str, ...] = ()  # the DAGs of those runs
    still_failing: tuple[str, ...] = ()  # of them, those whose latest run failed
    recoveries: int = 0
    files: int = 0  # DAG files that broke (or whose error changed)
    health: int = 0  # health incidents that started

    @property
    def empty(self) -> bool:
        return not (self.failed_runs or self.recoveries or self.files or self.health)


def subject(decision_id: int, decided_at: datetime) -> RunEvent:
    """The outbox's key for the summary of decision ``decision_id``."""
    return decision_subject(RUN_PREFIX, decision_id, True, decided_at)


# -- the message ---------------------------------------------------------------------------------


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _named(dags: tuple[str, ...]) -> str:
    rest = len(dags) - DAGS_NAMED
    return ", ".join(dags[:DAGS_NAMED]) + (f" and {rest} more" if rest > 0 else "")


def summary_text(
    summary: SilenceSummary, *, limit: int = 2000, sent_again: bool = False, redact: Any = None
) -> str:
    """The message: ``During the silence 'x' (2 h 0 min 0 s, by alice): 14 failed runs of 6 DAGs;
    3 still failing``, the DAGs still failing named, then what else it kept quiet."""
    from airflow_provider_signal.formatting import format_duration
    from airflow_provider_signal.shortening import Line, fit, flatten

    lasted = format_duration((summary.end - summary.starts_at).total_seconds())
    early = f"; ended early by {summary.ended_by}" if summary.ended_by else ""
    parts = []
    if summary.failed_runs:
        parts.append(
            f"{_plural(summary.failed_runs, 'failed run', 'failed runs')} of "
            f"{_plural(len(summary.dags), 'DAG', 'DAGs')}; {len(summary.still_failing)} still failing"
        )
    also = [
        _plural(count, one, many)
        for count, one, many in (
            (summary.recoveries, "recovery", "recoveries"),
            (summary.files, "DAG file broken", "DAG files broken"),
            (summary.health, "Airflow health incident", "Airflow health incidents"),
        )
        if count
    ]
    if not parts:
        parts, also = ["; ".join(also)], []
    reason = repr(flatten(summary.reason))
    lines = [
        Line(f"🔕 Silence over: {reason}", rank=0),
        Line(
            f"During the silence {reason} ({lasted}, by {flatten(summary.author)}{early}): {parts[0]}", rank=0
        ),
    ]
    if summary.still_failing:
        lines.append(Line(f"Still failing: {_named(summary.still_failing)}", rank=1))
    if also:
        lines.append(Line(f"Also kept quiet: {'; '.join(also)}", rank=2))
    if sent_again:
        lines.insert(1, Line("Sent again: the first attempt may not have arrived", cut=False, rank=0))
    return fit(lines, limit, redact)


# -- stored with the notice -----------------------------------------------------------------------


def to_extra(summary: SilenceSummary) -> dict[str, Any]:
    return {
        "silence_id": summary.silence_id,
        "reason": summary.reason,
        "author": summary.author,
        "starts_at": summary.starts_at.isoformat(),
        "end": summary.end.isoformat(),
        "ended_by": summary.ended_by,
        "failed_runs": summary.failed_runs,
        "dags": list(summary.dags),
        "still_failing": list(summary.still_failing),
        "recoveries": summary.recoveries,
        "files": summary.files,
        "health": summary.health,
    }


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _names(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def from_extra(value: object) -> SilenceSummary | None:
    """The summary of a queued row, read without trusting it (``None`` when it is not one)."""
    if not isinstance(value, dict) or not isinstance(value.get("silence_id"), str):
        return None
    starts, end = parse_time(value.get("starts_at")), parse_time(value.get("end"))
    if starts is None or end is None:
        return None
    return SilenceSummary(
        silence_id=value["silence_id"],
        reason=str(value.get("reason") or ""),
        author=str(value.get("author") or ""),
        starts_at=starts,
        end=end,
        ended_by=str(value.get("ended_by") or ""),
        failed_runs=_count(value.get("failed_runs")),
        dags=_names(value.get("dags")),
        still_failing=_names(value.get("still_failing")),
        recoveries=_count(value.get("recoveries")),
        files=_count(value.get("files")),
        health=_count(value.get("health")),
    )


def describe_summary(summary: SilenceSummary) -> str:
    """How log lines name it: ``the summary of silence 'abc123' ('upgrade')``."""
    return f"the summary of silence {summary.silence_id!r} ({summary.reason!r})"
