"""A DAG file's news as a notice of the outbox: how a broken or fixed file is keyed and stored.

The outbox keys every notice by DAG, run and clearing. A file's notice has no DAG of its own
(its audit-log rows carry no ``dag_id``, so no DAG's cooldown or history ever counts them) and
the run id ``import:<id>``, where ``<id>`` is the row of the watcher's decision
(``signal_import_broken`` or ``signal_import_fixed``, :mod:`.import_errors`): one subject per
decision, so a file broken, fixed and broken again is three notices, each sent once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_signal.alerts.import_text import FileReport
from airflow_provider_signal.alerts.kinds import FAILURE, IMPORT_ERROR, IMPORT_FIXED, FileKind
from airflow_provider_signal.alerts.message import RunEvent, decision_subject
from airflow_provider_signal.alerts.records import parse_time

RUN_PREFIX = "import:"


def subject(decision_id: int, kind: FileKind, decided_at: datetime) -> RunEvent:
    """The outbox's key for the notice of decision ``decision_id``; its age counts from ``decided_at``."""
    return decision_subject(RUN_PREFIX, decision_id, kind == IMPORT_ERROR, decided_at)


def is_file_subject(event: RunEvent) -> bool:
    return not event.dag_id and event.run_id.startswith(RUN_PREFIX)


def to_extra(report: FileReport) -> dict[str, Any]:
    """What a queued row keeps of the file, to build its message in any process."""
    return {
        "path": report.path,
        "bundle": report.bundle,
        "dag_ids": list(report.dag_ids),
        "error": report.error,
        "changed": report.changed,
        "first_seen": report.first_seen.isoformat() if report.first_seen else None,
        "broken_for": report.broken_for,
    }


def from_extra(value: object) -> FileReport | None:
    """The file of a queued row, read without trusting it (``None`` when it is not one)."""
    if not isinstance(value, dict) or not isinstance(value.get("path"), str):
        return None
    dag_ids = value.get("dag_ids")
    broken_for = value.get("broken_for")
    return FileReport(
        path=value["path"],
        bundle=str(value.get("bundle") or ""),
        dag_ids=tuple(d for d in dag_ids if isinstance(d, str)) if isinstance(dag_ids, list) else (),
        error=str(value.get("error") or ""),
        changed=value.get("changed") is True,
        first_seen=parse_time(value.get("first_seen")),
        broken_for=float(broken_for)
        if isinstance(broken_for, int | float) and not isinstance(broken_for, bool)
        else None,
    )


def kind_of(event: RunEvent) -> FileKind:
    return IMPORT_ERROR if event.kind == FAILURE else IMPORT_FIXED


def describe_file(kind: FileKind, report: FileReport) -> str:
    """How log lines name a file's notice: ``DAG file 'dags/x.py' (broken)``."""
    news = "fixed" if kind == IMPORT_FIXED else ("changed" if report.changed else "broken")
    return f"DAG file {report.path!r} ({news})"
