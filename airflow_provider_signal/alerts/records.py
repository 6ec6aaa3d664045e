"""What the alerts record in Airflow's metadata database, and the reads and writes around
:func:`~airflow_provider_signal.alerts.decision.decide` (run by the background sender only).

Where: Airflow's own audit log (the ``log`` table, ``airflow.models.log.Log``), one row per
step, with the DAG id, the run id and a JSON ``extra``. That table exists unchanged on 2.11 and
3.x (no migration, no DB manager), every process that may send shares it, it survives
restarts, and the UI's audit log shows each step beside the run it is about. The events:

- ``signal_alert_queued``: the decision was to send; the notice waits in the outbox for its
  group (:mod:`.outbox`), with what its message needs;
- ``signal_alert_attempt``: a send started (the in-flight marker, committed before the
  request goes out), with its deadline, recipients and owner (job id, host, pid);
- ``signal_alert_not_delivered``: that send ended without the API's acceptance, with the cause,
  whether a copy may have arrived (``maybe``) and who is still to be sent to;
- outcomes: ``signal_alert_failed`` / ``signal_alert_recovered`` (delivered, with
  ``delivered_at``; ``signal_import_delivered`` for a DAG file's notice, whose rows have no
  DAG id, ``signal_health_delivered`` for a health incident's), ``signal_alert_held``
  (cooldown), ``signal_alert_muted``,
  ``signal_alert_silenced`` (with the silence's id and reason), ``signal_alert_skipped`` (set by
  hand), ``signal_alert_given_up`` (with ``why``).

Rows are read tolerantly: a row whose ``extra`` is not JSON, or not an object, or has a field
of the wrong type, counts with defaults (clear number 0, time of the row), never raises.
``airflow db clean`` may delete rows: the sweep only looks at runs that ended within
``max_delivery_age`` (older runs are never alerted again, whatever is left of their rows), and a
run whose rows are gone is at worst alerted once more, never in a loop.

The decision for a DAG is serialised with a row lock on the DAG's ``dag`` row
(``with_row_locks``; PostgreSQL and MySQL 8, a no-op on SQLite), taken in the sender's own
transaction: two schedulers deciding on the same DAG take turns, and the second sees the
first one's in-flight marker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.alerts.decision import DagHistory, RunRecord
from airflow_provider_signal.alerts.kinds import FAILURE, RECOVERY, RunKind
from airflow_provider_signal.alerts.message import FailedTask, RunEvent

AUDIT_OWNER = "signal_alerts"
QUEUED = "signal_alert_queued"
ATTEMPT = "signal_alert_attempt"
NOT_DELIVERED = "signal_alert_not_delivered"
DELIVERED: dict[RunKind, str] = {FAILURE: "signal_alert_failed", RECOVERY: "signal_alert_recovered"}
HELD = "signal_alert_held"
MUTED = "signal_alert_muted"
SILENCED = "signal_alert_silenced"
SKIPPED = "signal_alert_skipped"
GIVEN_UP = "signal_alert_given_up"
FILE_DELIVERED = "signal_import_delivered"
"""A DAG file's notice (:mod:`.file_notices`) delivered; its rows carry no DAG id."""
HEALTH_DELIVERED = "signal_health_delivered"
"""A health incident's notice (:mod:`.health_notices`) delivered; its rows carry no DAG id."""
SUMMARY_DELIVERED = "signal_silence_summary_delivered"
"""A silence's summary (:mod:`.silence_summary`) delivered; its rows carry no DAG id."""
OUTCOMES = (
    *DELIVERED.values(),
    FILE_DELIVERED,
    HEALTH_DELIVERED,
    SUMMARY_DELIVERED,
    HELD,
    MUTED,
    SILENCED,
    SKIPPED,
    GIVEN_UP,
)
EVENTS = (*OUTCOMES, QUEUED, ATTEMPT, NOT_DELIVERED)
_KIND_OF_DELIVERED = {event: kind for kind, event in DELIVERED.items()}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Row:
    """One alert row of the audit log, parsed without trusting it."""

    id: int
    event: str
    run_id: str | None
    dttm: datetime | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clear_number(self) -> int:
        value = self.extra.get("clear_number", 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def time(self, key: str) -> datetime | None:
        """``extra[key]`` as an aware datetime, else ``None``."""
        return parse_time(self.extra.get(key))


def aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def parse_extra(raw: object) -> dict[str, Any]:
    """A row's ``extra`` as a dict; ``{}`` for anything that is not a JSON object."""
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _rows(session: Any, *where: Any, newest_first: bool = False, limit: int | None = None) -> list[Row]:
    from airflow.models.log import Log
    from sqlalchemy import select

    query = select(Log.id, Log.event, Log.run_id, Log.dttm, Log.extra).where(*where)
    query = query.order_by(Log.id.desc() if newest_first else Log.id)
    if limit is not None:
        query = query.limit(limit)
    return [
        Row(int(r.id), str(r.event), r.run_id, aware(r.dttm), parse_extra(r.extra))
        for r in session.execute(query)
    ]


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """This run's record, plus what the sender needs to send it again."""

    record: RunRecord
    recipients: tuple[str, ...] | None = None  # still to be sent to (None: everyone)
    last_cause: str = ""
    owner: dict[str, Any] | None = None  # who runs the open attempt (its row's ``owner``)


def fold_run(rows: list[Row], clear_number: int) -> RunState:
    """Fold a run's rows (oldest first) for one clearing of it into its :class:`RunState`."""
    decided = False
    attempts = uncertain = 0
    open_until: datetime | None = None
    first_failure: datetime | None = None
    recipients: tuple[str, ...] | None = None
    cause = ""
    queued = False
    owner: dict[str, Any] | None = None
    for row in rows:
        if row.clear_number != clear_number:
            continue
        if row.event in OUTCOMES:
            decided = True
        elif row.event == QUEUED:
            queued = True
        elif row.event == ATTEMPT:
            if open_until is not None:  # the previous attempt never got an outcome
                uncertain += 1
            attempts += 1
            queued = False
            open_until = row.time("deadline") or row.dttm or EPOCH
            recipients = _recipients(row.extra.get("recipients"), recipients)
            value = row.extra.get("owner")
            owner = value if isinstance(value, dict) else None
        elif row.event == NOT_DELIVERED:
            open_until = None
            if row.extra.get("maybe") is True:
                uncertain += 1
            elif first_failure is None:
                first_failure = row.dttm
            recipients = _recipients(row.extra.get("recipients"), recipients)
            cause = str(row.extra.get("cause", ""))
    record = RunRecord(decided, attempts, uncertain, open_until, first_failure, queued=queued and not decided)
    return RunState(record, recipients, cause, owner if open_until is not None else None)


def _recipients(value: object, current: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    return current


def run_states(session: Any, events: list[RunEvent], since: datetime) -> dict[tuple[str, str, int], RunState]:
    """:func:`run_state` for many runs in one read (rows written since ``since``)."""
    from airflow.models.log import Log
    from sqlalchemy import and_, or_

    if not events:
        return {}
    dag_ids = {event.dag_id for event in events if event.dag_id}
    files = {event.run_id for event in events if not event.dag_id}  # a file's notice: no DAG id
    subjects: list[Any] = [Log.dag_id.in_(dag_ids)] if dag_ids else []
    if files:
        subjects.append(and_(Log.dag_id.is_(None), Log.run_id.in_(files)))
    rows = session.execute(
        select_rows().where(or_(*subjects), Log.event.in_(EVENTS), Log.dttm >= since).order_by(Log.id)
    )
    by_run: dict[tuple[str, str], list[Row]] = {}
    for raw in rows:
        row = Row(int(raw.id), str(raw.event), raw.run_id, aware(raw.dttm), parse_extra(raw.extra))
        by_run.setdefault((str(raw.dag_id or ""), row.run_id or ""), []).append(row)
    return {
        (event.dag_id, event.run_id, event.clear_number): fold_run(
            by_run.get((event.dag_id, event.run_id), []), event.clear_number
        )
        for event in events
    }


def select_rows() -> Any:
    """``SELECT id, event, dag_id, run_id, dttm, extra FROM log``: the columns a :class:`Row` needs."""
    from airflow.models.log import Log
    from sqlalchemy import select

    return select(Log.id, Log.event, Log.dag_id, Log.run_id, Log.dttm, Log.extra)


def run_state(session: Any, event: RunEvent) -> RunState:
    from airflow.models.log import Log

    rows = _rows(session, Log.dag_id == event.dag_id, Log.run_id == event.run_id, Log.event.in_(EVENTS))
    return fold_run(rows, event.clear_number)


@dataclass(frozen=True)
class DagState:
    history: DagHistory
    last_alert_id: int = 0  # the row of the DAG's last delivered alert (held-back runs count after it)


def dag_state(session: Any, event: RunEvent, now: datetime, max_age: float) -> DagState:
    """What the DAG's other runs recorded: its last delivered alerts and any alert still being sent."""
    from airflow.models.log import Log

    delivered = _rows(
        session, Log.dag_id == event.dag_id, Log.event.in_(DELIVERED.values()), newest_first=True, limit=50
    )
    last = delivered[0] if delivered else None
    last_failure = next((row for row in delivered if row.event == DELIVERED[FAILURE]), None)
    pending, delayed = _failure_pending(session, event, now, max_age)
    counted_after = last.extra.get("queued_id") if last else None  # runs held while it waited count next
    return DagState(
        DagHistory(
            last_failure_delivered=_delivered_at(last_failure),
            last_delivered_kind=_KIND_OF_DELIVERED[last.event] if last else None,
            last_delivered_at=_delivered_at(last),
            failure_alert_pending=pending,
            failure_alert_delayed=delayed,
            previous_run_failed=_previous_run_failed(session, event),
        ),
        counted_after
        if isinstance(counted_after, int) and not isinstance(counted_after, bool)
        else (last.id if last else 0),
    )


def _delivered_at(row: Row | None) -> datetime | None:
    if row is None:
        return None
    return row.time("delivered_at") or row.dttm


def _failure_pending(session: Any, event: RunEvent, now: datetime, max_age: float) -> tuple[bool, bool]:
    """Whether another run's failure alert of the DAG is queued or being sent, and whether one
    of those is delayed (an attempt of it did not reach the API)."""
    from airflow.models.log import Log

    since = now - timedelta(seconds=max_age)
    attempted = {
        row.run_id
        for row in _rows(
            session,
            Log.dag_id == event.dag_id,
            Log.event.in_((QUEUED, ATTEMPT)),
            Log.run_id != event.run_id,
            Log.dttm >= since,
        )
        if row.extra.get("kind", FAILURE) == FAILURE
    }
    if not attempted:
        return False, False
    rows = _rows(
        session,
        Log.dag_id == event.dag_id,
        Log.run_id.in_(attempted),
        Log.event.in_((*OUTCOMES, NOT_DELIVERED)),
    )
    pending = attempted - {row.run_id for row in rows if row.event in OUTCOMES}
    return bool(pending), any(row.run_id in pending and row.event == NOT_DELIVERED for row in rows)


def _previous_run_failed(session: Any, event: RunEvent) -> bool:
    """Whether the DAG's previous finished outcome before ``event`` was a failure: that of its
    newest other run that ended by then, or this run's own earlier clearing when that ended later
    (a failed run cleared and now successful recovers from its own failure)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    if event.kind != RECOVERY:
        return False
    previous = select(DagRun.state, DagRun.end_date).where(
        DagRun.dag_id == event.dag_id,
        DagRun.run_id != event.run_id,
        DagRun.state.in_(("success", "failed")),
        DagRun.end_date.is_not(None),
    )
    if event.end_date is not None:
        previous = previous.where(DagRun.end_date <= event.end_date)
    other = session.execute(previous.order_by(DagRun.end_date.desc()).limit(1)).first()
    own = _earlier_clearing_failed_at(session, event)
    if own is not None and (other is None or (aware(other.end_date) or EPOCH) <= own):
        return True
    return other is not None and str(other.state).rsplit(".", 1)[-1].lower() == "failed"


def _earlier_clearing_failed_at(session: Any, event: RunEvent) -> datetime | None:
    """When this run ended as a failure before it was cleared, if its newest earlier clearing
    has an alert row of kind failure (whatever its outcome: delivered, held back, muted...)."""
    from airflow.models.log import Log

    rows = _rows(session, Log.dag_id == event.dag_id, Log.run_id == event.run_id, Log.event.in_(EVENTS))
    earlier = [row for row in rows if row.clear_number < event.clear_number]
    if not earlier:
        return None
    newest = max(row.clear_number for row in earlier)
    failed = [row for row in earlier if row.clear_number == newest and row.extra.get("kind") == FAILURE]
    return (failed[-1].time("run_end") or failed[-1].dttm or EPOCH) if failed else None


def held_back_since(session: Any, dag_id: str, after_id: int) -> int:
    """Runs of the DAG held back since its last delivered alert."""
    from airflow.models.log import Log
    from sqlalchemy import func, select

    query = select(func.count()).where(Log.dag_id == dag_id, Log.event == HELD, Log.id > after_id)
    return int(session.scalar(query) or 0)


def lock_dag(session: Any, dag_id: str) -> None:
    """Take the DAG's row lock until the transaction ends (no-op where row locks do nothing)."""
    from airflow.models.dag import DagModel
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select

    session.execute(
        with_row_locks(select(DagModel.dag_id).where(DagModel.dag_id == dag_id), session=session)
    ).all()


# -- writing -----------------------------------------------------------------------------------


def record(session: Any, name: str, event: RunEvent, now: datetime, **extra: Any) -> int:
    """Add one alert row for ``event`` (flushed; the caller's transaction commits it); its id."""
    from airflow.models.log import Log

    end = event.end_date.isoformat() if event.end_date else None
    body = {"kind": event.kind, "run_end": end, "clear_number": event.clear_number, "at": now.isoformat()}
    body.update(extra)
    row = Log(event=name, owner=AUDIT_OWNER, extra=json.dumps(body, default=str))
    row.dag_id, row.run_id, row.dttm = event.dag_id or None, event.run_id, now  # a file's notice: no DAG
    session.add(row)
    session.flush()
    return int(row.id)


# -- the sweep and the look-ups of a message ------------------------------------------------------


WINDOW_LIMIT = 5000
"""Failed runs one whole-window read takes; more are left to the next (the sweep reads again)."""


def failed_in_window(session: Any, now: datetime, max_age: float, limit: int = WINDOW_LIMIT) -> list[Any]:
    """Failed runs that ended within ``max_age`` seconds, read by state and end date.

    No index of Airflow's covers this (a sequential scan of ``dag_run``): the sweep reads it once
    per process start and when a scheduler died, and otherwise only what changed (:mod:`.sweep`).
    """
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    query = select(DagRun).where(
        DagRun.state == "failed", DagRun.end_date >= now - timedelta(seconds=max_age)
    )
    return list(session.scalars(query.order_by(DagRun.end_date).limit(limit)))


def runs_since(session: Any, high_id: int, ids: set[int], limit: int = 5000) -> list[Any]:
    """Runs created after ``high_id`` and the runs ``ids``: by primary key only."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import or_, select

    where = or_(DagRun.id > high_id, DagRun.id.in_(ids)) if ids else DagRun.id > high_id
    return list(session.scalars(select(DagRun).where(where).order_by(DagRun.id).limit(limit)))


def unfinished_run_ids(session: Any) -> set[int]:
    """Runs queued or running (Airflow's partial indexes on these states make this cheap)."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    queued = session.scalars(select(DagRun.id).where(DagRun.state == "queued"))
    running = session.scalars(select(DagRun.id).where(DagRun.state == "running"))
    return {int(run_id) for run_id in (*queued, *running)}


def newest_run_id(session: Any) -> int:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    return int(session.scalar(select(func.max(DagRun.id))) or 0)


def without_outcome(session: Any, runs: list[Any], since: datetime) -> list[Any]:
    """The ``runs`` (failed) with neither a recorded outcome nor a notice waiting in the outbox
    for their current clearing (a notice is the outbox's to send; an attempt left open is not)."""
    from airflow.models.log import Log
    from sqlalchemy import select

    if not runs:
        return []
    rows = session.execute(
        select(Log.dag_id, Log.run_id, Log.event, Log.extra)
        .where(
            Log.dag_id.in_({run.dag_id for run in runs}),
            Log.event.in_((*OUTCOMES, QUEUED, ATTEMPT)),
            Log.dttm >= since - timedelta(minutes=10),  # rows are written after the run's end
        )
        .order_by(Log.id)
    )
    latest: dict[tuple[str, str, int], str] = {}
    done: set[tuple[str, str, int]] = set()
    for r in rows:
        key = (r.dag_id, r.run_id, Row(0, "", r.run_id, None, parse_extra(r.extra)).clear_number)
        latest[key] = r.event
        if r.event in OUTCOMES:
            done.add(key)
    waiting = {key for key, event in latest.items() if event == QUEUED}
    return [
        run
        for run in runs
        if (key := (run.dag_id, run.run_id, int(run.clear_number or 0))) not in done and key not in waiting
    ]


def alive_scheduler_ids(session: Any) -> set[int]:
    """The scheduler jobs Airflow considers alive (``Job.is_alive``), by the index on type and heartbeat."""
    from airflow.jobs.job import Job
    from sqlalchemy import select

    jobs = session.scalars(select(Job).where(Job.job_type == "SchedulerJob", Job.state == "running"))
    return {int(job.id) for job in jobs if job.is_alive()}


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


def first_failed_tasks(session: Any, dag_id: str, run_id: str, named: int) -> tuple[list[FailedTask], int]:
    """The run's first ``named`` failed task instances and how many failed in all (a group's line)."""
    from airflow.models.taskinstance import TaskInstance as Ti
    from sqlalchemy import func, select

    in_run = (Ti.dag_id == dag_id, Ti.run_id == run_id, Ti.state == "failed")
    rows = session.execute(
        select(Ti.task_id, Ti.try_number, Ti.map_index)
        .where(*in_run)
        .order_by(Ti.end_date, Ti.task_id, Ti.map_index)
        .limit(named)
    ).all()
    total = session.scalar(select(func.count()).where(*in_run))
    return [FailedTask(row.task_id, row.try_number, row.map_index) for row in rows], int(total or 0)
