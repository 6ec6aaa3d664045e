"""Storm control and look-ups in Airflow's metadata database (run by the background sender only).

Where the last alert is remembered: a row in Airflow's own audit log (the ``log`` table,
``airflow.models.log.Log``), one per alert, event ``signal_alert_failed`` or
``signal_alert_recovered``, with the DAG id, the run id and, in ``extra``, the end of the run
it reported on. That table is made for events about a DAG (it is what the UI's audit log shows,
so the alert is visible beside the run it is about), it exists on every supported line, it is
shared by every process that may send (scheduler, API server), it survives restarts, and using
it needs no schema change, no Variable and no DagRun note that users see and could edit.

The rules:

- one alert per run: a run that already has an alert row never gets another (a run that hits
  ``dagrun_timeout`` can report its failure twice, apache/airflow#55299), unless it was cleared
  since (its ``clear_number`` grew) and failed again;
- a failure alert only when the DAG's last failure alert reported a run that ended at least
  ``cooldown`` seconds before this one; otherwise the run is held back (no row);
- every alert counts the DAG's failed runs that ended after the run of the last alert: the
  runs held back meanwhile (none the first time);
- a recovery only when the DAG's last alert was a failure alert and its previous finished
  run failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal.alerts.message import FailedTask, RunEvent

FAILURE_EVENT = "signal_alert_failed"
RECOVERY_EVENT = "signal_alert_recovered"
ALERT_EVENTS = (FAILURE_EVENT, RECOVERY_EVENT)
AUDIT_OWNER = "signal_alerts"


@dataclass(frozen=True)
class Decision:
    """Whether to send, why not, and what the message must say about held-back runs."""

    send: bool
    why: str
    held: int = 0
    last_alert_at: datetime | None = None


@dataclass(frozen=True)
class _Alert:
    event: str
    run_id: str | None
    run_end: datetime | None
    dttm: datetime | None


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_end(extra: str | None) -> datetime | None:
    try:
        value = json.loads(extra or "{}").get("run_end")
        return _aware(datetime.fromisoformat(value)) if value else None
    except (ValueError, TypeError, AttributeError):
        return None


def _alert_rows(session: Any, dag_id: str, events: tuple[str, ...]) -> _Alert | None:
    from airflow.models.log import Log
    from sqlalchemy import select

    row = session.execute(
        select(Log.event, Log.run_id, Log.extra, Log.dttm)
        .where(Log.dag_id == dag_id, Log.event.in_(events))
        .order_by(Log.dttm.desc(), Log.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    end = _parse_end(row.extra) or _aware(row.dttm)
    return _Alert(row.event, row.run_id, end, _aware(row.dttm))


def _already_alerted(session: Any, event: RunEvent) -> bool:
    """An alert row for this run, and this clearing of it (a cleared run that fails again is news)."""
    from airflow.models.log import Log
    from sqlalchemy import select

    extras = session.scalars(
        select(Log.extra).where(
            Log.dag_id == event.dag_id, Log.run_id == event.run_id, Log.event.in_(ALERT_EVENTS)
        )
    ).all()
    for extra in extras:
        try:
            cleared = int(json.loads(extra or "{}").get("clear_number", 0))
        except (ValueError, TypeError, AttributeError):
            cleared = 0
        if cleared == event.clear_number:
            return True
    return False


def _failed_runs_between(session: Any, event: RunEvent, after: datetime | None) -> int:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    if after is None:
        return 0
    query = select(func.count()).where(
        DagRun.dag_id == event.dag_id,
        DagRun.state == "failed",
        DagRun.run_id != event.run_id,
        DagRun.end_date > after,
    )
    if event.end_date is not None:
        query = query.where(DagRun.end_date <= event.end_date)
    return int(session.scalar(query) or 0)


def _record(session: Any, name: str, event: RunEvent, held: int) -> None:
    from airflow.models.log import Log

    end = event.end_date or _now()
    extra = json.dumps(
        {"run_end": end.isoformat(), "held": held, "reason": event.msg, "clear_number": event.clear_number}
    )
    session.add(Log(event=name, owner=AUDIT_OWNER, extra=extra, dag_id=event.dag_id, run_id=event.run_id))
    session.flush()


def claim_failure(session: Any, event: RunEvent, cooldown: float) -> Decision:
    """Decide on a failed run and, when it alerts, record the alert (before sending: never twice)."""
    if _already_alerted(session, event):
        return Decision(False, "this run was already alerted")
    last_failure = _alert_rows(session, event.dag_id, (FAILURE_EVENT,))
    end = _aware(event.end_date) or _now()
    if last_failure is not None and last_failure.run_end is not None:
        since = (end - last_failure.run_end).total_seconds()
        if since < cooldown:
            return Decision(
                False,
                f"held back by the cooldown: the DAG's last failure alert was {since:.0f} s before "
                f"this run ended (cooldown {cooldown:g} s); the next alert will count it",
            )
    last = _alert_rows(session, event.dag_id, ALERT_EVENTS)
    held = _failed_runs_between(session, event, last.run_end if last else None)
    _record(session, FAILURE_EVENT, event, held)
    return Decision(True, "", held, last.dttm if last else None)


def claim_recovery(session: Any, event: RunEvent) -> Decision:
    """Decide on a successful run: a recovery after a failure alert, recorded before sending."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    if _already_alerted(session, event):
        return Decision(False, "this run was already reported")
    last = _alert_rows(session, event.dag_id, ALERT_EVENTS)
    if last is None or last.event != FAILURE_EVENT:
        return Decision(False, "no failure alert to recover from")
    previous = select(DagRun.state).where(
        DagRun.dag_id == event.dag_id,
        DagRun.run_id != event.run_id,
        DagRun.state.in_(("success", "failed")),
        DagRun.end_date.is_not(None),
    )
    if event.end_date is not None:
        previous = previous.where(DagRun.end_date <= event.end_date)
    state = session.scalar(previous.order_by(DagRun.end_date.desc()).limit(1))
    if str(state).rsplit(".", 1)[-1].lower() != "failed":
        return Decision(False, "the previous run did not fail")
    held = _failed_runs_between(session, event, last.run_end)
    _record(session, RECOVERY_EVENT, event, held)
    return Decision(True, "", held, last.dttm)


def dag_tags(session: Any, dag_id: str) -> list[str]:
    """The DAG's tags, as the DAG processor stored them."""
    from airflow.models.dag import DagTag
    from sqlalchemy import select

    return [str(name) for name in session.scalars(select(DagTag.name).where(DagTag.dag_id == dag_id))]


def failed_tasks(session: Any, dag_id: str, run_id: str) -> tuple[list[FailedTask], int]:
    """The run's failed task instances (in the order they ended) and its upstream_failed count."""
    from airflow.models.taskinstance import TaskInstance as Ti
    from sqlalchemy import func, select

    in_run = (Ti.dag_id == dag_id, Ti.run_id == run_id)
    rows = session.execute(
        select(Ti.task_id, Ti.try_number, Ti.map_index)
        .where(*in_run, Ti.state == "failed")
        .order_by(Ti.end_date, Ti.task_id, Ti.map_index)
    ).all()
    upstream = session.scalar(select(func.count()).where(*in_run, Ti.state == "upstream_failed"))
    tasks = [FailedTask(row.task_id, row.try_number, row.map_index) for row in rows]
    return tasks, int(upstream or 0)
