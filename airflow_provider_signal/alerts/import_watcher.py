"""The import-error watcher: one daemon thread in each scheduler that reads Airflow's import errors
every ``import_error_interval`` seconds and sends the news (:mod:`.import_errors` decides).

Why the scheduler and not the ``on_*_dag_import_error`` listener hooks: those fire where files are
parsed, inside the transaction that stores the parse (Airflow 3's DAG processor, on its main
thread) or in a child forked per parse that leaves through ``os._exit`` (Airflow 2.11), and no
hook fires when a file imports again. The ``import_error`` table tells all three stories on both
lines, and the scheduler is long-lived and already sends run alerts.

Several schedulers may sweep at once: the news is decided again under row locks (``SKIP LOCKED``
on the file's ``import_error`` row, or on the record a "fixed" message follows) and recorded
before it is sent, so one scheduler sends it. The record is the in-flight marker of the
pipeline (:mod:`.owners`): it names its sender (job, host, pid) and a deadline, so a message
whose scheduler died mid-send, or whose copy may have arrived, is sent once more, marked, by the
next sweep of any scheduler, never a third time, and given up after ``max_delivery_age`` with an
ERROR line. Everything here is caught and logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts import owners, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.import_text import FileReport, broken_text, fixed_text, import_errors_url
from airflow_provider_signal.alerts.pipeline import attempt_budget
from airflow_provider_signal.alerts.records import parse_time
from airflow_provider_signal.alerts.silences import matching

log = logging.getLogger(__name__)

SCHEDULER_JOB = "SchedulerJob"
MAX_FILES = 5  # files named in one message; more are summed up as "And N more"
_ROLE_WAIT = 60.0  # seconds to wait for the starting job to say what it is


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class _Claimed:
    outcome: ie.Outcome | None  # None: a claim sent once more
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
        self._job: Any = None  # the scheduler job this thread runs in: the owner of its sends

    # -- life cycle ---------------------------------------------------------------------------

    def start_for(self, component: Any) -> None:
        """Start the thread; it sweeps only if ``component`` (the starting Airflow job) turns out
        to be the scheduler (``on_starting`` fires before the job has its type set)."""
        if not hasattr(component, "job_type"):  # a task's runner, not an Airflow job
            return
        if self._thread is not None and self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._job = component
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
        resent = self._resend_unfinished(now)
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
            return resent
        claimed = self._claim(now)
        return resent + self._send_all(claimed, now)

    def _in_flight(self, now: datetime, recipients: int) -> dict[str, Any]:
        """The marker of a send about to start: its owner and the time after which it is given up for dead."""
        budget = attempt_budget(self.settings, recipients)
        return {
            "owner": owners.this_process(self._job).as_extra(),
            "deadline": (now + timedelta(seconds=budget)).isoformat(),
        }

    def _resend_unfinished(self, now: datetime) -> int:
        """Send once more, marked, what a dead sender left in flight or what may have arrived."""
        from airflow.utils.session import create_session

        with create_session() as session:
            found = ie.unfinished_claims(
                session, now, lambda extra: owners.is_gone(session, owners.parse(extra))
            )
            locked = ie.lock_records(session, [item.log_id for item in found])
            mine = [item for item in found if item.log_id in locked]
            old = [item for item in mine if (now - item.at).total_seconds() > self.settings.max_delivery_age]
            if old:
                ie.mark(session, [item.log_id for item in old], "given_up")
                for item in old:
                    log.error(
                        "Signal import-error alert (%s) for %s given up: not delivered within "
                        "max_delivery_age.",
                        item.extra.get("kind"),
                        _relative(str(item.extra.get("file", ""))),
                    )
            mine = [item for item in mine if item not in old]
            for item in mine:
                ie.mark(session, [item.log_id], False, copy=2, **self._in_flight(now, len(item.recipients)))
        groups: dict[tuple[bool, tuple[str, ...]], list[_Claimed]] = {}
        for item in mine:
            groups.setdefault((item.fixed, item.recipients), []).append(self._claimed_again(item, now))
        return sum(
            self._send(items, fixed, list(to), sent_again=True) for (fixed, to), items in groups.items()
        )

    @staticmethod
    def _claimed_again(item: ie.Unfinished, now: datetime) -> _Claimed:
        extra = item.extra
        since = parse_time(extra.get("since")) or item.at
        kind = str(extra.get("kind", "broken"))
        report = FileReport(
            path=_relative(str(extra.get("file", ""))),
            bundle=str(extra.get("bundle") or ""),
            dag_ids=tuple(str(d) for d in extra.get("dags", []) if isinstance(d, str)),
            error=str(extra.get("fingerprint") or ""),
            changed=kind == "changed",
            first_seen=since if kind != "fixed" else None,
            broken_for=(now - since).total_seconds() if kind == "fixed" else None,
        )
        return _Claimed(None, item.log_id, report, item.recipients)

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
            return _Claimed(outcome, -1, report, ())
        recipients = tuple(self.settings.recipients_for(tags))
        marker = self._in_flight(now, len(recipients))
        log_id = ie.claim(
            session, outcome, since, dag_ids, False, recipients=list(recipients), copy=1, **marker
        )
        return _Claimed(outcome, log_id, report, recipients)

    def _send_all(self, claimed: list[_Claimed], now: datetime) -> int:
        groups: dict[tuple[bool, tuple[str, ...]], list[_Claimed]] = {}
        for item in claimed:
            fixed = item.outcome is not None and item.outcome.kind == "fixed"
            groups.setdefault((fixed, item.recipients), []).append(item)
        sent = 0
        for (fixed, recipients), items in groups.items():
            sent += self._send(items, fixed, list(recipients))
        for item in claimed:
            if item.outcome is not None:
                self._first_seen.pop(item.outcome.pending_key, None)
        return sent

    def _send(
        self, items: list[_Claimed], fixed: bool, recipients: list[str], sent_again: bool = False
    ) -> int:
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
            text = build(
                reports,
                link=_link(),
                max_files=MAX_FILES,
                limit=limit,
                sent_again=sent_again,
                redact=hook.redact,
            )
            results = hook.send_message(text, recipients or None)
        except Exception as error:
            maybe = _maybe_delivered(error)
            with create_session() as session:
                if maybe:
                    ie.mark(
                        session, ids, "maybe"
                    )  # a first copy: sent once more, marked; a second: never again
                elif sent_again:
                    ie.mark(
                        session, ids, False, copy=1, deadline=self._clock().isoformat()
                    )  # again next sweep
                else:
                    ie.unclaim(session, ids)
            log.error(
                "Signal import-error alert (%s) for %s not sent (or not to everyone) via connection %r: %s%s",
                kind,
                names,
                settings.conn_id,
                error,
                _next_step(maybe, sent_again),
            )
            return 0
        finally:
            hook.close()
        with create_session() as session:
            ie.mark(session, ids, True)
        log.info("Signal import-error alert (%s) for %s sent to %d recipient(s).", kind, names, len(results))
        return 1


def _next_step(maybe: bool, sent_again: bool) -> str:
    if maybe and sent_again:
        return " It may have arrived, and was already sent once more: it is not sent again."
    if maybe:
        return " It may have arrived: the next sweep sends it once more, marked as a possible repeat."
    return " The next sweep tries again."


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
