"""The background sender: one daemon thread per process, fed by a bounded queue.

The listener only calls :meth:`AlertSender.submit` (a ``put_nowait``); everything slow runs
here: the metadata-database look-ups (tags, storm control, failed tasks), building the text,
reading the connection and the HTTP requests, each bounded by ``send_timeout`` and
``send_retries``. Every failure is caught and logged with the DAG, the run and the cause.
At shutdown :meth:`close` gives pending alerts ``shutdown_timeout`` seconds and logs the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.message import (
    FailedTask,
    RunEvent,
    RunReport,
    failure_text,
    recovery_text,
    run_url,
)

log = logging.getLogger(__name__)

_STOP = object()


def _describe(event: RunEvent) -> str:
    return f"DAG {event.dag_id!r} run {event.run_id!r}"


class AlertSender:
    """Send alerts for :class:`RunEvent` objects off the caller's thread.

    :param settings: the parsed ``[signal_alerts]`` section.
    :param handle: what to do with one event (default: :meth:`process`); tests and the
        benchmark pass their own.
    """

    def __init__(self, settings: AlertSettings, handle: Callable[[RunEvent], None] | None = None) -> None:
        self.settings = settings
        self._handle = handle or self.process
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0

    # -- the caller's side (the scheduler's thread) ---------------------------------------------

    def submit(self, event: RunEvent) -> bool:
        """Queue ``event`` without waiting; False (and an error in the log) if it cannot be."""
        if self._pid != os.getpid():  # a forked child inherits no thread: start afresh
            self._reset_after_fork()
        if self._closed:
            log.error("Signal alert for %s not sent: the alert sender has been stopped.", _describe(event))
            return False
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            log.error(
                "Signal alert for %s dropped: %d alerts are already waiting (queue_size); "
                "the Signal API may be slow or down.",
                _describe(event),
                self.settings.queue_size,
            )
            return False
        if self._thread is None:
            self._start()
        return True

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="signal-alerts-sender", daemon=True)
            self._thread.start()
            atexit.register(self.close)

    def _reset_after_fork(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._queue = queue.Queue(maxsize=self.settings.queue_size)
        self._thread = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float | None = None) -> list[RunEvent]:
        """Stop taking alerts, send what is queued within ``timeout`` (default
        ``shutdown_timeout``) seconds, and return (and log) the events left unsent."""
        if self._closed or self._pid != os.getpid():
            return []
        self._closed = True
        limit = self.settings.shutdown_timeout if timeout is None else timeout
        thread = self._thread
        if thread is not None:
            deadline = time.monotonic() + limit
            with contextlib.suppress(queue.Full):  # behind what is queued: sent first, then it stops
                self._queue.put(_STOP, timeout=max(0.001, limit))
            thread.join(max(0.0, deadline - time.monotonic()))
        left: list[RunEvent] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, RunEvent):
                left.append(item)
        for event in left:
            log.error(
                "Signal alert for %s not sent: the process stopped before its turn (shutdown_timeout %g s).",
                _describe(event),
                limit,
            )
        if thread is not None and thread.is_alive():
            log.error("Signal alerts: a send was still running when the process stopped; it may not arrive.")
        return left

    # -- the sender thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._handle(item)
            except BaseException as error:  # the thread must survive anything an alert raises
                kind = type(error).__name__
                log.error("Signal alert for %s not sent: %s: %s", _describe(item), kind, error)

    def process(self, event: RunEvent) -> None:
        """Decide, look up, build and send one alert (on the sender thread)."""
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts import storm

        settings = self.settings
        with create_session() as session:
            tags = list(event.tags) if event.tags is not None else storm.dag_tags(session, event.dag_id)
            if settings.is_muted(event.dag_id, tags):
                log.info("Signal alert for %s not sent: the DAG is muted.", _describe(event))
                return
            if event.kind == "failure":
                decision = storm.claim_failure(session, event, settings.cooldown)
            else:
                decision = storm.claim_recovery(session, event)
            if not decision.send:
                log.info("Signal alert for %s not sent: %s.", _describe(event), decision.why)
                return
            tasks: list[FailedTask] = []
            upstream = 0
            if event.kind == "failure":
                tasks, upstream = storm.failed_tasks(session, event.dag_id, event.run_id)
        report = RunReport(
            event,
            failed_tasks=tasks,
            upstream_failed=upstream,
            held=decision.held,
            last_alert_at=decision.last_alert_at,
            run_url=_run_url(event),
        )
        self.send(report, settings.recipients_for(tags))

    def send(self, report: RunReport, recipients: list[str]) -> None:
        """Build the text and send it; log the outcome, never raise."""
        from airflow_provider_signal.hooks.signal import SignalHook

        settings = self.settings
        event = report.event
        hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
        try:
            limit = hook.settings.max_text_length
            if event.kind == "failure":
                text = failure_text(
                    report, max_tasks=settings.max_failed_tasks, limit=limit, redact=hook.redact
                )
            else:
                text = recovery_text(report, limit=limit, redact=hook.redact)
            results = hook.send_message(text, recipients or None)
        except Exception as error:
            log.error(
                "Signal alert for %s not sent (or not to everyone) via connection %r: %s",
                _describe(event),
                settings.conn_id,
                error,
            )
        else:
            log.info(
                "Signal %s alert for %s sent to %d recipient(s).",
                "failure" if event.kind == "failure" else "recovery",
                _describe(event),
                len(results),
            )
        finally:
            hook.close()


def _run_url(event: RunEvent) -> str | None:
    from airflow import __version__ as airflow_version
    from airflow.configuration import conf

    major = int(airflow_version.split(".", 1)[0])
    section = "api" if major >= 3 else "webserver"
    base = conf.get(section, "base_url", fallback="") or ""
    return run_url(base, event.dag_id, event.run_id, major)
