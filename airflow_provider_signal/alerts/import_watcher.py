"""The import-error watcher: one daemon thread in each scheduler that reads Airflow's import errors
every ``import_error_interval`` seconds and sends the news (:mod:`.import_errors` decides).

Why the scheduler and not the ``on_*_dag_import_error`` listener hooks: those fire where files are
parsed, inside the transaction that stores the parse (Airflow 3's DAG processor, on its main
thread) or in a child forked per parse that leaves through ``os._exit`` (Airflow 2.11), and no
hook fires when a file imports again. The ``import_error`` table tells all three stories on both
lines, and the scheduler is long-lived and already sends run alerts.

Several schedulers may sweep at once: the news is decided again under row locks (``SKIP LOCKED``
on the file's ``import_error`` row, or on the record a "fixed" message follows) and recorded
before it is sent, so one scheduler sends it. Everything here is caught and logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.import_text import FileReport, broken_text, fixed_text, import_errors_url

log = logging.getLogger(__name__)

SCHEDULER_JOB = "SchedulerJob"
MAX_FILES = 5  # files named in one message; more are summed up as "And N more"
_ROLE_WAIT = 60.0  # seconds to wait for the starting job to say what it is


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Claimed:
    outcome: ie.Outcome
    log_id: int
    report: FileReport
    recipients: tuple[str, ...]


def _maybe_delivered(error: BaseException) -> bool:
    """Whether a failed send may still have reached someone (then it is never sent again)."""
    from airflow_provider_signal.errors import SignalAPIError, SignalDeliveryError

    if isinstance(error, SignalDeliveryError):
        return bool(error.results) or any(failure.maybe_delivered for failure in error.failures)
    if isinstance(error, SignalAPIError):
        return error.maybe_delivered
    return False  # a bad connection or input: nothing was sent


class ImportErrorWatcher:
    """Sweeps the import errors on its own thread; :meth:`sweep` is one pass (tests call it)."""

    def __init__(self, settings: AlertSettings, clock: Callable[[], datetime] = _now) -> None:
        self.settings = settings
        self._clock = clock
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
        """Read, decide, claim and send once; the number of messages sent."""
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
        claimed = self._claim(now)
        return self._send_all(claimed, now)

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

    def _claim(self, now: datetime) -> list[_Claimed]:
        """Decide again under row locks and record what this scheduler will send."""
        from airflow.utils.session import create_session

        claimed: list[_Claimed] = []
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
                claimed.append(self._claim_one(session, outcome, now))
        return [item for item in claimed if item.log_id >= 0]

    def _claim_one(self, session: Any, outcome: ie.Outcome, now: datetime) -> _Claimed:
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
            return _Claimed(outcome, -1, report, ())
        tags = [tag for dag in dags for tag in dag.tags]
        log_id = ie.claim(session, outcome, since, dag_ids, False)
        return _Claimed(outcome, log_id, report, tuple(self.settings.recipients_for(tags)))

    def _send_all(self, claimed: list[_Claimed], now: datetime) -> int:
        groups: dict[tuple[bool, tuple[str, ...]], list[_Claimed]] = {}
        for item in claimed:
            groups.setdefault((item.outcome.kind == "fixed", item.recipients), []).append(item)
        sent = 0
        for (fixed, recipients), items in groups.items():
            sent += self._send(items, fixed, list(recipients))
        for item in claimed:
            self._first_seen.pop(item.outcome.pending_key, None)
        return sent

    def _send(self, items: list[_Claimed], fixed: bool, recipients: list[str]) -> int:
        from airflow.utils.session import create_session

        from airflow_provider_signal.hooks.signal import SignalHook

        settings = self.settings
        names = ", ".join(item.report.path for item in items)
        kind = "fixed" if fixed else "broken"
        ids = [item.log_id for item in items]
        hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
        try:
            limit = hook.settings.max_text_length
            reports = [item.report for item in items]
            build = fixed_text if fixed else broken_text
            text = build(reports, link=_link(), max_files=MAX_FILES, limit=limit)
            results = hook.send_message(text, recipients or None)
        except Exception as error:
            maybe = _maybe_delivered(error)
            with create_session() as session:
                if maybe:
                    ie.mark(session, ids, "maybe")
                else:
                    ie.unclaim(session, ids)
            log.error(
                "Signal import-error alert (%s) for %s not sent (or not to everyone) via connection %r: %s%s",
                kind,
                names,
                settings.conn_id,
                error,
                " It may have arrived, so it is not sent again." if maybe else " The next sweep tries again.",
            )
            return 0
        finally:
            hook.close()
        with create_session() as session:
            ie.mark(session, ids, True)
        log.info("Signal import-error alert (%s) for %s sent to %d recipient(s).", kind, names, len(results))
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


def _link() -> str | None:
    from airflow import __version__ as airflow_version
    from airflow.configuration import conf

    major = int(airflow_version.split(".", 1)[0])
    section = "api" if major >= 3 else "webserver"
    return import_errors_url(conf.get(section, "base_url", fallback="") or "", major)
