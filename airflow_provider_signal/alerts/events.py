"""A finished DAG run as a :class:`RunEvent`: plain values copied off the ``DagRun``.

Its own module because both the listener (runs as they end) and the sender's sweep (runs
found in the database) make events, and neither should import the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_signal.alerts.kinds import RunKind
from airflow_provider_signal.alerts.message import RunEvent


def _seconds(value: Any) -> float | None:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else None


def _date(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _tags(value: Any) -> tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return None
    try:
        return tuple(sorted(str(tag) for tag in value))
    except TypeError:
        return None


def event_from_dag_run(kind: RunKind, dag_run: Any, msg: str) -> RunEvent:
    """Plain values off ``dag_run`` (attributes the scheduler has already loaded)."""
    run_type = getattr(dag_run, "run_type", None)
    logical_date = getattr(dag_run, "logical_date", None)
    if logical_date is None:  # Airflow 2.11 names it execution_date
        logical_date = getattr(dag_run, "execution_date", None)
    dag = getattr(dag_run, "dag", None)
    return RunEvent(
        kind=kind,
        dag_id=str(dag_run.dag_id),
        run_id=str(dag_run.run_id),
        run_type=str(getattr(run_type, "value", run_type)) if run_type is not None else None,
        logical_date=_date(logical_date),
        start_date=_date(getattr(dag_run, "start_date", None)),
        end_date=_date(getattr(dag_run, "end_date", None)),
        msg=str(msg or ""),
        dagrun_timeout=_seconds(getattr(dag, "dagrun_timeout", None)),
        clear_number=int(getattr(dag_run, "clear_number", 0) or 0),
        tags=_tags(getattr(dag, "tags", None)),
    )
