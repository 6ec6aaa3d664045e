"""What the health watcher reads and writes in Airflow's metadata database.

It reads the ``job`` table (each scheduler, DAG processor and triggerer process heartbeats into
its row; Airflow's index on job type and heartbeat serves the read) and the task instances
waiting in ``queued`` or ``deferred``. Its decisions are rows of Airflow's audit log, as every
alert step is (:mod:`.records`): ``signal_health_opened``, ``signal_health_reminded`` and
``signal_health_closed``, without a DAG id, each with the incident's key and what was seen.

Deciding is serialised across every process that watches by the decision lock
(:mod:`.decision_lock`), taken before the incidents are read again: a second watcher waits for
the first one's commit and then sees its decision.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import health_notices, records
from airflow_provider_signal.alerts.health import (
    DAY,
    Beat,
    Change,
    Incident,
    Observation,
    Problem,
    QueuedTasks,
)
from airflow_provider_signal.alerts.health_text import HealthReport

OPENED, REMINDED, CLOSED = "signal_health_opened", "signal_health_reminded", "signal_health_closed"
DECISIONS = {"open": OPENED, "remind": REMINDED, "close": CLOSED}
READ_LIMIT = 500
"""Decision rows read, newest first: far more than the incidents that can be open at once."""
_JOB_TYPES = {"SchedulerJob": "scheduler", "DagProcessorJob": "dag_processor", "TriggererJob": "triggerer"}


def observe(session: Any, now: datetime, stuck_after: float) -> Observation:
    """The components' heartbeats of the last day, the tasks queued longer than ``stuck_after``
    (by queue) and how many tasks are deferred."""
    from airflow.jobs.job import Job
    from airflow.models.taskinstance import TaskInstance as Ti
    from sqlalchemy import func, select

    jobs = session.execute(
        select(Job.id, Job.job_type, Job.hostname, Job.start_date, Job.latest_heartbeat, Job.state).where(
            Job.job_type.in_(tuple(_JOB_TYPES)), Job.latest_heartbeat >= now - timedelta(seconds=DAY)
        )
    )
    beats = tuple(
        Beat(
            component=_JOB_TYPES[str(job.job_type)],
            job_id=int(job.id),
            hostname=str(job.hostname or ""),
            start=records.aware(job.start_date),
            beat=records.aware(job.latest_heartbeat),
            running=str(job.state) == "running",
        )
        for job in jobs
    )
    cutoff = now - timedelta(seconds=stuck_after)
    stuck = tuple(
        QueuedTasks(str(row.queue or "default"), int(row.count), records.aware(row.oldest) or now)
        for row in session.execute(
            select(Ti.queue, func.count().label("count"), func.min(Ti.queued_dttm).label("oldest"))
            .where(Ti.state == "queued", Ti.queued_dttm < cutoff)
            .group_by(Ti.queue)
        )
    )
    deferred = int(session.scalar(select(func.count()).select_from(Ti).where(Ti.state == "deferred")) or 0)
    return Observation(now=now, beats=beats, stuck=stuck, deferred=deferred, executor=_executor())


def _executor() -> str:
    """The executor's name as ``[core] executor`` gives it (the first, where several are set)."""
    from airflow.configuration import conf

    first = (conf.get("core", "executor", fallback="") or "").split(",")[0].strip()
    return first.rsplit(":", 1)[-1].rsplit(".", 1)[-1]


def problem_of(report: HealthReport) -> Problem:
    return Problem(
        key=report.key,
        component=report.component,
        since=report.since,
        healthy=report.healthy,
        expected=report.expected,
        executor=report.executor,
        queues=report.queues,
        tasks=report.tasks,
    )


def read_incidents(session: Any) -> dict[str, Incident]:
    """The incidents open now: those whose newest decision is an opening or a reminder."""
    from airflow.models.log import Log
    from sqlalchemy import select

    query = (
        select(Log.id, Log.event, Log.dttm, Log.extra)
        .where(Log.event.in_(tuple(DECISIONS.values())), Log.owner == records.AUDIT_OWNER)
        .order_by(Log.id.desc())
        .limit(READ_LIMIT)
    )
    newest: dict[str, tuple[Any, dict[str, Any]]] = {}
    for row in session.execute(query):
        extra = records.parse_extra(row.extra)
        key = extra.get("incident")
        if isinstance(key, str) and key not in newest:
            newest[key] = (row, extra)
    incidents: dict[str, Incident] = {}
    for key, (row, extra) in newest.items():
        report = health_notices.from_extra(extra.get("report"))
        if str(row.event) == CLOSED or report is None:
            continue
        opened_id = extra.get("opened_id")
        told = records.aware(row.dttm) or report.at
        incidents[key] = Incident(
            key=key,
            opened_id=opened_id if isinstance(opened_id, int) else int(row.id),
            opened_at=report.opened_at or report.at,
            last_told=told,
            problem=problem_of(report),
            announced=extra.get("announced") is not False,
        )
    return incidents


def report_for(change: Change, now: datetime, watcher: str) -> HealthReport:
    """The news of ``change``, as its message and its rows keep it."""
    problem = change.problem
    return HealthReport(
        action=change.action,
        key=change.key,
        component=problem.component,
        since=problem.since,
        at=now,
        opened_at=change.incident.opened_at if change.incident is not None else now,
        healthy=problem.healthy,
        expected=problem.expected,
        executor=problem.executor,
        queues=problem.queues,
        tasks=problem.tasks,
        watcher=watcher,
    )


def record(
    session: Any, change: Change, report: HealthReport, now: datetime, delivered: str, **extra: Any
) -> int:
    """Write the decision's row (flushed; the caller's transaction commits it); its id."""
    from airflow.models.log import Log

    body: dict[str, Any] = {
        "incident": change.key,
        "action": change.action,
        "delivered": delivered,
        "opened_id": change.incident.opened_id if change.incident is not None else None,
        "announced": delivered == "queued" or (change.incident is not None and change.incident.announced),
        "report": health_notices.to_extra(report),
        "at": now.isoformat(),
        **extra,
    }
    row = Log(event=DECISIONS[change.action], owner=records.AUDIT_OWNER, extra=json.dumps(body, default=str))
    row.dttm = now
    session.add(row)
    session.flush()
    if body["opened_id"] is None:  # an opening is its own incident's first row
        body["opened_id"] = int(row.id)
        row.extra = json.dumps(body, default=str)
        session.flush()
    return int(row.id)
