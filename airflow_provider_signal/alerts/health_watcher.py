"""The health watcher, a source of the pipeline (:mod:`.pipeline`): a daemon thread in each
scheduler, DAG processor and triggerer, and in the process serving the UI (with ``health`` in
``notify_on``), that checks every
``health_interval`` seconds whether the others still heartbeat and whether tasks wait in
``queued`` with no worker taking them (:mod:`.health`).

Every watcher sees the same database, so every one of them finds the same incident: the
decision is taken again under the decision lock (:mod:`.decision_lock`) and recorded with its
notice in one transaction, so exactly one watcher opens, reminds or closes an incident, however
many run. From there the outbox's guarantees hold: the notice is grouped (a scheduler and a
triggerer down at once are one message), sent by any process, retried, never an unmarked
duplicate. Silences match health notices of kind ``health`` (a silence with no DAG or tag).
Everything here is caught and logged: the thread outlives any error of a check.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.alerts import (
    decision_lock,
    health,
    health_notices,
    health_store,
    outbox,
    silence_store,
)
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.kinds import HEALTH, HEALTH_RESOLVED
from airflow_provider_signal.alerts.silences import matching

log = logging.getLogger(__name__)

WATCHING_JOBS = {"SchedulerJob": "scheduler", "TriggererJob": "triggerer", "DagProcessorJob": "DAG processor"}
_ROLE_WAIT = 60.0  # seconds to wait for the starting job to say what it is
FIRST_CHECK_DELAY = 10.0
"""Seconds from a process's start to its first check (a scheduler's executor forks its workers
right after ``on_starting``: no database connection of this thread may be held then)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class HealthWatcher:
    """Checks Airflow's health on its own thread; :meth:`check` is one pass (tests call it).

    :param wake: called after notices were queued (the process's sender flushes the outbox).
    :param name: what this process is, for the messages' "Seen by" line.
    """

    def __init__(
        self,
        settings: AlertSettings,
        clock: Callable[[], datetime] = _now,
        wake: Callable[[], None] = lambda: None,
        name: str = "",
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wake = wake
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.started_at = clock()

    # -- life cycle ---------------------------------------------------------------------------

    def start_for(self, component: Any) -> None:
        """Start the thread; it checks only if ``component`` (the starting Airflow job) turns out
        to be a scheduler, DAG processor or triggerer (``on_starting`` fires before the job has
        its type set)."""
        if not hasattr(component, "job_type"):  # a task's runner, not an Airflow job
            return
        self.start(lambda: self._role(component))

    def start(self, role: Callable[[], str | None]) -> None:
        """Start the thread; ``role()`` names this process (``None``: do not watch from here)."""
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, args=(role,), name="signal-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _role(self, component: Any) -> str | None:
        deadline = time.monotonic() + _ROLE_WAIT
        while not self._stop.is_set() and time.monotonic() < deadline:
            job_type = getattr(component, "job_type", None)
            if job_type:
                return WATCHING_JOBS.get(str(job_type))
            self._stop.wait(0.2)
        return None

    def _run(self, role: Callable[[], str | None]) -> None:
        try:
            kind = role()
            if kind is None:
                return
            from airflow_provider_signal.alerts.owners import hostname

            self.name = self.name or f"{kind} on {hostname()}"
            self.started_at = self._clock()
            log.info(
                "Signal health alerts: checking every %g s (down after %g s without a heartbeat).",
                self.settings.health_interval,
                self.settings.health_threshold,
            )
        except BaseException:
            log.exception("Signal health alerts are off in this process")
            return
        if self._stop.wait(max(0.0, FIRST_CHECK_DELAY - self.settings.health_interval)):
            return
        while not self._stop.wait(self.settings.health_interval):
            try:
                self.check()
            except BaseException as error:  # the thread must outlive anything a check raises
                log.error("Signal health alerts: a check failed: %s: %s", type(error).__name__, error)

    # -- one check ------------------------------------------------------------------------------

    def _changes(self, session: Any, now: datetime) -> list[health.Change]:
        incidents = health_store.read_incidents(session)
        seen = health_store.observe(session, now, self.settings.stuck_after)
        found = health.problems(
            seen, self.settings.health_threshold, frozenset(incidents), watching_since=self.started_at
        )
        return health.changes(incidents, found, now, self.settings.repeat_interval)

    def check(self) -> int:
        """Look once; the number of notices queued in the outbox."""
        from airflow.utils.session import create_session

        now = self._clock()
        with create_session() as session:
            if not self._changes(session, now):
                return 0  # the usual case: four reads, no write
        queued = 0
        with create_session() as session:
            decision_lock.take(session)
            for change in self._changes(session, now):  # again, under the lock
                queued += self._tell(session, change, now)
        if queued:
            self._wake()
        return queued

    def _tell(self, session: Any, change: health.Change, now: datetime) -> int:
        report = health_store.report_for(change, now, self.name)
        silence = matching(silence_store.load(session), HEALTH, [], [], now)
        announced = change.incident is not None and change.incident.announced
        if silence is not None and change.action == "remind" and not announced:
            return 0  # still silenced: told when the silence ends, if it lasts until then
        if change.action == "close" and change.incident is not None and not announced:
            silence_id = silence.id if silence is not None else None
            health_store.record(session, change, report, now, "silenced", silence=silence_id)
            return 0  # its start was silenced: its end is not news
        if silence is not None:
            health_store.record(session, change, report, now, "silenced", silence=silence.id)
            log.info(
                "Signal health alert for %s not sent: silenced by %r (silence %s by %s).",
                health_notices.describe_health(report),
                silence.reason,
                silence.id,
                silence.author,
            )
            return 0
        recipients = tuple(self.settings.health_recipients())
        decision_id = health_store.record(session, change, report, now, "queued", recipients=list(recipients))
        kind = HEALTH_RESOLVED if change.action == "close" else HEALTH
        outbox.queue(
            session,
            health_notices.subject(decision_id, kind, now),
            now,
            recipients=recipients,
            due=now + timedelta(seconds=self.settings.group_wait),  # others of the incident join it
            reason="FIRST_ALERT",
            health=report,
        )
        log.warning("Signal health alert queued: %s", health_notices.describe_health(report))
        return 1
