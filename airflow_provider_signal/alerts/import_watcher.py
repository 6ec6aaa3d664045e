"""The import-error watcher, a source of the pipeline (:mod:`.pipeline`): one daemon thread in each
scheduler that reads Airflow's import errors every ``import_error_interval`` seconds, decides the
news (:mod:`.import_errors`) and queues each file's notice in the one outbox, which the sender
groups, sends, retries and settles like a run's alert.

Why the scheduler and not the ``on_*_dag_import_error`` listener hooks: those fire where files are
parsed, inside the transaction that stores the parse (Airflow 3's DAG processor, on its main
thread) or in a child forked per parse that leaves through ``os._exit`` (Airflow 2.11), and no
hook fires when a file imports again. The ``import_error`` table tells all three stories on both
lines, and the scheduler is long-lived and already sends run alerts.

Several schedulers may sweep at once: the news is decided again under row locks (``SKIP LOCKED``
on the file's ``import_error`` row, or on the record a "fixed" message follows), and the decision
is recorded with its notice in one transaction, so one scheduler queues it. From there on the
outbox's guarantees hold (:mod:`.outbox`): a notice whose scheduler died is sent by another, once
more marked as a possible repeat, never a third time, given up after ``max_delivery_age`` with
an ERROR line. Everything here is caught and logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal.alerts import file_notices, outbox, silence_store
from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.import_text import FileReport
from airflow_provider_signal.alerts.kinds import IMPORT_ERROR, IMPORT_FIXED
from airflow_provider_signal.alerts.silences import matching

log = logging.getLogger(__name__)

SCHEDULER_JOB = "SchedulerJob"
_ROLE_WAIT = 60.0  # seconds to wait for the starting job to say what it is


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ImportErrorWatcher:
    """Sweeps the import errors on its own thread; :meth:`sweep` is one pass (tests call it).

    :param wake: called after notices were queued (the process's sender flushes the outbox).
    """

    def __init__(
        self,
        settings: AlertSettings,
        clock: Callable[[], datetime] = _now,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._first_seen: dict[tuple[str, str, str, str], datetime] = {}
        self._held_logged: set[tuple[str, str, str]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    def start_for(self, component: Any) -> None:
        """Start the thread; it sweeps only if ``component`` (the starting Airflow job) turns out
        to be the scheduler (``on_starting`` fires before the job has its type set)."""
        if not hasattr(component, "job_type"):  # a task's runner, not an Airflow job
            return
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(
            target=self._run, args=(component,), name="signal-import-errors", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _is_scheduler(self, component: Any) -> bool:
        deadline = time.monotonic() + _ROLE_WAIT
        while not self._stop.is_set() and time.monotonic() < deadline:
            job_type = getattr(component, "job_type", None)
            if job_type:
                return str(job_type) == SCHEDULER_JOB
            self._stop.wait(0.2)
        return False

    def _run(self, component: Any) -> None:
        try:
            if not self._is_scheduler(component):
                return
            log.info(
                "Signal import-error alerts: watching import errors every %g s.",
                self.settings.import_error_interval,
            )
        except BaseException:
            log.exception("Signal import-error alerts are off in this process")
            return
        while not self._stop.wait(self.settings.import_error_interval):
            try:
                self.sweep()
            except BaseException as error:  # the thread must outlive anything a sweep raises
                log.error("Signal import-error alerts: a sweep failed: %s: %s", type(error).__name__, error)

    # -- one sweep ------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Read and decide once; the number of notices queued in the outbox."""
        from airflow.utils.session import create_session

        now = self._clock()
        with create_session() as session:
            outcomes, held = ie.decide(
                ie.histories(ie.read_records(session)),
                ie.current_errors(session),
                now,
                self.settings.cooldown,
            )
        self._log_held(held)
        self._first_seen = {o.pending_key: self._first_seen.get(o.pending_key, now) for o in outcomes}
        if not ie.due(outcomes, self._first_seen, now, self.settings.import_error_window):
            return 0
        queued = self._claim(now)
        if queued:
            self._wake()
        return queued

    def _log_held(self, held: list[ie.Held]) -> None:
        keys: set[tuple[str, str, str]] = set()
        for item in held:
            key = (item.kind, *item.key)
            keys.add(key)
            if key not in self._held_logged:
                log.info(
                    "Signal import-error alert (%s) for %s held back by the cooldown until %s.",
                    item.kind,
                    item.key[1],
                    item.until.isoformat(timespec="seconds"),
                )
        self._held_logged = keys

    def _claim(self, now: datetime) -> int:
        """Decide again under row locks, record each decision and queue its notice; how many."""
        from airflow.utils.session import create_session

        queued = 0
        with create_session() as session:
            records = ie.read_records(session)
            unlocked, _ = ie.decide(
                ie.histories(records), ie.current_errors(session), now, self.settings.cooldown
            )
            locked_errors = ie.current_errors(
                session, [o.key for o in unlocked if o.kind != "fixed"], lock=True
            )
            locked_ids = ie.lock_records(
                session, [o.record.log_id for o in unlocked if o.kind == "fixed" and o.record]
            )
            # what another scheduler recorded before our locks is visible now
            outcomes, _ = ie.decide(
                ie.histories(ie.read_records(session)),
                ie.current_errors(session),
                now,
                self.settings.cooldown,
            )
            for outcome in outcomes:
                if outcome.kind == "fixed":
                    if outcome.record is None or outcome.record.log_id not in locked_ids:
                        continue
                elif outcome.key not in locked_errors:
                    continue
                queued += self._claim_one(session, outcome, now)
                self._first_seen.pop(outcome.pending_key, None)
        return queued

    def _claim_one(self, session: Any, outcome: ie.Outcome, now: datetime) -> int:
        dags = ie.dags_of_file(session, outcome.key)
        dag_ids = [dag.dag_id for dag in dags]
        first_seen = self._first_seen.get(outcome.pending_key, now)
        since = outcome.since or first_seen
        report = FileReport(
            path=_relative(outcome.filename),
            bundle=outcome.bundle,
            dag_ids=tuple(dag_ids),
            error=outcome.fingerprint,
            changed=outcome.kind == "changed",
            first_seen=first_seen if outcome.kind != "fixed" else None,
            broken_for=(now - since).total_seconds() if outcome.kind == "fixed" else None,
        )
        if dags and all(self.settings.is_muted(dag.dag_id, dag.tags) for dag in dags):
            ie.claim(session, outcome, since, dag_ids, "muted")
            log.info(
                "Signal import-error alert (%s) for %s not sent: its DAGs are muted.",
                outcome.kind,
                report.path,
            )
            return 0
        tags = [tag for dag in dags for tag in dag.tags]
        silence = matching(silence_store.load(session), "import_error", dag_ids, tags, now)
        if silence is not None:
            ie.claim(session, outcome, since, dag_ids, "silenced", silence=silence.id)
            log.info(
                "Signal import-error alert (%s) for %s not sent: silenced by %r (silence %s by %s).",
                outcome.kind,
                report.path,
                silence.reason,
                silence.id,
                silence.author,
            )
            return 0
        recipients = tuple(self.settings.recipients_for(tags))
        decision_id = ie.claim(session, outcome, since, dag_ids, "queued", recipients=list(recipients))
        kind = IMPORT_FIXED if outcome.kind == "fixed" else IMPORT_ERROR
        outbox.queue(
            session,
            file_notices.subject(decision_id, kind, now),
            now,
            recipients=recipients,
            due=now,  # import_error_window has gathered the files already
            reason="FIRST_ALERT",
            file=report,
        )
        return 1


def _relative(filename: str) -> str:
    """The path as users know it: Airflow 3 stores it relative to its bundle already; 2.11
    stores it absolute, shown relative to ``[core] dags_folder``."""
    if not os.path.isabs(filename):
        return filename
    from airflow.configuration import conf

    folder = os.path.abspath(os.path.expanduser(conf.get("core", "dags_folder", fallback="") or ""))
    try:
        relative = os.path.relpath(filename, folder) if folder else filename
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative
