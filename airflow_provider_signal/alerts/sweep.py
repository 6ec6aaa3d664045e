"""The sweep, a source of the pipeline: failed runs that ended within ``max_delivery_age`` and have
no recorded outcome (a process killed mid-way, an alert dropped from a full queue).

A scheduler's sender runs it when it starts and every ``sweep_interval`` seconds; the runs it
finds are decided like the listener's (an attempt whose owner is gone is sent again at once,
marked), and the outbox is flushed after it, so notices queued by a process that died go out too.

Its cost follows the recent work, not the history: ``dag_run`` has no index on state and end
date, so the whole window is read only on a process's first sweep and after a scheduler died
(:class:`SweepCursor`). Every other sweep reads by primary key: the runs created since the last
sweep, the ones that were queued or running then (Airflow's partial indexes on those states), and
the failed ones still without an outcome. Between those reads nothing can fail unseen: a run is
created (a new id), or was unfinished at the last sweep (a cleared run is queued again), or had
already ended. Only a run cleared and failed again within one sweep interval, while its
listener's event is lost, waits for the next full read (a process start, a scheduler's death).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.message import RunEvent

SWEEP_GRACE = 15.0
"""The sweep leaves runs that ended this recently to the listener that saw them end."""


@dataclass
class SweepCursor:
    """What this process's last sweep saw."""

    high_id: int | None = None  # the newest dag_run id then (None: no sweep yet)
    tracked: set[int] = field(default_factory=set)  # unfinished then, or failed without an outcome
    schedulers: set[int] = field(default_factory=set)  # the scheduler jobs alive then
    full_reads: int = 0  # sweeps that read the whole window (for tests and the benchmark)


def _failed_recently(run: Any, oldest: datetime) -> bool:
    from airflow_provider_signal.alerts.records import aware

    end = aware(run.end_date)
    return str(run.state).rsplit(".", 1)[-1].lower() == "failed" and end is not None and end >= oldest


def unalerted_runs(
    settings: AlertSettings, now: datetime, cursor: SweepCursor | None = None
) -> list[RunEvent]:
    """The failed runs to decide on now (none when ``failure`` is not in ``notify_on``)."""
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import records

    if FAILURE not in settings.notify_on:
        return []
    cursor = cursor if cursor is not None else SweepCursor()
    oldest = now - timedelta(seconds=settings.max_delivery_age)
    latest = now - timedelta(seconds=SWEEP_GRACE)
    with create_session() as session:
        alive = records.alive_scheduler_ids(session)
        died = bool(cursor.schedulers - alive)
        full = cursor.high_id is None or died
        if full:
            high: int | None = records.newest_run_id(session)
            failed = records.failed_in_window(session, now, settings.max_delivery_age)
            cursor.full_reads += 1
            if len(failed) >= records.WINDOW_LIMIT:
                high = None  # more than one read takes: the next sweep reads the window again
        else:
            assert cursor.high_id is not None
            changed = records.runs_since(session, cursor.high_id, cursor.tracked)
            high = max([cursor.high_id, *(int(run.id) for run in changed)])
            failed = [run for run in changed if _failed_recently(run, oldest)]
        tracked = records.unfinished_run_ids(session)  # a cleared run is queued again: seen here
        open_runs = records.without_outcome(session, failed, oldest)
        cursor.high_id, cursor.schedulers = high, alive
        cursor.tracked = tracked | {int(run.id) for run in open_runs}  # looked at again until decided
        due = [run for run in open_runs if (records.aware(run.end_date) or now) <= latest]
        return [event_from_dag_run(FAILURE, run, "") for run in due]
