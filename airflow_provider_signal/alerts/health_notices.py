"""A health incident's news as a notice of the outbox: how it is keyed and stored.

As a DAG file's notice (:mod:`.file_notices`), it has no DAG (its rows carry no ``dag_id``) and
one subject per decision of the health watcher: the run id ``health:<id>``, where ``<id>`` is
the row of the decision (``signal_health_opened``, ``_reminded`` or ``_closed``,
:mod:`.health_store`), so each start, reminder and end is sent once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_signal.alerts.health_text import HealthReport
from airflow_provider_signal.alerts.kinds import FAILURE, HEALTH, HEALTH_RESOLVED, HealthKind
from airflow_provider_signal.alerts.message import RunEvent, decision_subject
from airflow_provider_signal.alerts.records import parse_time

RUN_PREFIX = "health:"
_TEXTS = ("action", "key", "component", "executor", "watcher")
_COUNTS = ("healthy", "expected", "tasks")


def subject(decision_id: int, kind: HealthKind, decided_at: datetime) -> RunEvent:
    """The outbox's key for the notice of decision ``decision_id``; its age counts from ``decided_at``."""
    return decision_subject(RUN_PREFIX, decision_id, kind == HEALTH, decided_at)


def kind_of(event: RunEvent) -> HealthKind:
    return HEALTH if event.kind == FAILURE else HEALTH_RESOLVED


def to_extra(report: HealthReport) -> dict[str, Any]:
    """What a queued row keeps of the incident, to build its message in any process."""
    body: dict[str, Any] = {name: getattr(report, name) for name in (*_TEXTS, *_COUNTS)}
    body["queues"] = [list(item) for item in report.queues]
    for name in ("since", "at", "opened_at"):
        value = getattr(report, name)
        body[name] = value.isoformat() if value is not None else None
    return body


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def from_extra(value: object) -> HealthReport | None:
    """The incident of a queued row, read without trusting it (``None`` when it is not one)."""
    if not isinstance(value, dict) or not isinstance(value.get("key"), str):
        return None
    at = parse_time(value.get("at"))
    if at is None:
        return None
    queues = value.get("queues")
    return HealthReport(
        action=str(value.get("action") or "open"),
        key=value["key"],
        component=str(value.get("component") or ""),
        since=parse_time(value.get("since")),
        at=at,
        opened_at=parse_time(value.get("opened_at")),
        healthy=_count(value.get("healthy")),
        expected=_count(value.get("expected")),
        executor=str(value.get("executor") or ""),
        queues=tuple(
            (str(item[0]), _count(item[1]))
            for item in (queues if isinstance(queues, list) else [])
            if isinstance(item, list) and len(item) == 2
        ),
        tasks=_count(value.get("tasks")),
        watcher=str(value.get("watcher") or ""),
    )


def describe_health(report: HealthReport) -> str:
    """How log lines name a health notice: ``health incident 'scheduler_down' (open)``."""
    return f"health incident {report.key!r} ({report.action})"
