"""The background sender: one daemon thread per process, fed by a bounded queue, running the
pipeline (:mod:`.pipeline`: its stages in order).

The listener only calls :meth:`AlertSender.submit` (a ``put_nowait``); everything slow runs
here: each event is decided (a notice queued in the durable outbox, or its outcome recorded),
and the outbox is flushed when a group is due (``group_wait``, ``group_interval``, a retry's
back-off). A send that did not reach the API is queued again with growing back-off until
``max_delivery_age`` after the run's end.

In a scheduler (:meth:`start_sweeping`), the thread also sweeps the database when it starts
and every ``sweep_interval`` seconds (:mod:`.sweep`) and flushes the whole outbox then, so what a
process that died left queued goes out. At shutdown :meth:`close` gives pending alerts
``shutdown_timeout`` seconds (sending what is queued without waiting for its group) and logs
every alert left unsent with its DAG, run and cause.
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
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal.alerts import metrics, outbox, owners
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.delivery import describe
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.pipeline import Pipeline
from airflow_provider_signal.alerts.sweep import SWEEP_GRACE, SweepCursor, unalerted_runs

__all__ = ["SWEEP_GRACE", "AlertSender", "run_key"]

log = logging.getLogger(__name__)

_STOP = object()
_WAKE = object()  # a notice was queued elsewhere in this process (the import-error watcher)
FIRST_SWEEP_DELAY = 10.0
"""Seconds from a scheduler's start to its first sweep: the executor forks its workers right
after the listener's ``on_starting``, and a child forked while this thread holds a database
connection's lock would inherit it held."""
_KNOWN_MAX = 10_000

RunKey = tuple[str, str, int]


def run_key(event: RunEvent) -> RunKey:
    return (event.dag_id, event.run_id, event.clear_number)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertSender:
    """Run the alert pipeline for :class:`RunEvent` objects off the caller's thread.

    :param settings: the parsed ``[signal_alerts]`` section.
    :param handle: what to do with one event (default: :meth:`process`); tests and the
        benchmark pass their own.
    :param clock: the current time, aware (tests pass their own).
    """

    def __init__(
        self,
        settings: AlertSettings,
        handle: Callable[[RunEvent], None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.job: Any = None  # the Airflow job of this process, once on_starting names it
        self.pipeline = Pipeline(settings, clock, lambda: owners.this_process(self.job))
        self._handle = handle or self._take
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._sweeping = False
        self._sweep_if: Callable[[], bool] = lambda: True
        self._known: dict[RunKey, None] = {}  # queued here: the sweep leaves them
        self._next_flush: datetime | None = None  # when a notice of the outbox is due
        self._current: RunEvent | None = None  # the event the thread is deciding
        self._flushing = False
        self.cursor = SweepCursor()  # what this process's last sweep saw
        self.dropped = 0

    # -- the caller's side (the scheduler's thread) ---------------------------------------------

    def submit(self, event: RunEvent) -> bool:
        """Queue ``event`` without waiting; False (and an error in the log) if it cannot be."""
        if self._pid != os.getpid():  # a forked child inherits no thread: start afresh
            self._reset_after_fork()
        if self._closed:
            log.error("Signal alert for %s not sent: the alert sender has been stopped.", describe(event))
            return False
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            metrics.incr("dropped")
            log.error(
                "Signal alert for %s dropped from the queue: %d alerts are already waiting (queue_size); "
                "the sender is behind (a burst of failures, or a slow database or Signal API). A "
                "scheduler's sweep sends it later; raise queue_size if this happens often.",
                describe(event),
                self.settings.queue_size,
            )
            return False
        if len(self._known) < _KNOWN_MAX:
            self._known[run_key(event)] = None
        if self._thread is None:
            self._start()
        return True

    def wake(self) -> None:
        """Flush the outbox soon: another thread of this process (the import-error watcher)
        queued a notice that is due. A full queue is busy anyway and flushes after it."""
        if self._closed or self._pid != os.getpid():
            return
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_WAKE)
        if self._thread is None:
            self._start()

    def start_sweeping(self, only_if: Callable[[], bool] = lambda: True, job: Any = None) -> None:
        """Sweep the database soon and every ``sweep_interval`` seconds (in a scheduler).

        ``only_if`` is asked before the first sweep: Airflow fires ``on_starting`` before a
        job knows its type, so the listener asks then whether this process is a scheduler.
        ``job`` is that Airflow job: its id marks this process's sends as its own.
        """
        self._sweep_if = only_if
        self._sweeping = True
        if job is not None:
            self.job = job
        if self._thread is None and not self._closed:
            self._start()

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
        self._sweeping = False
        self._known, self._next_flush = {}, None
        self.cursor = SweepCursor()
        self.job = None

    @property
    def pending(self) -> int:
        """Events not yet decided, plus one while a notice decided here waits for its group."""
        return self._queue.qsize() + (1 if self._next_flush is not None else 0)

    def close(self, timeout: float | None = None) -> list[RunEvent]:
        """Stop taking alerts, send what is queued within ``timeout`` (default
        ``shutdown_timeout``) seconds, and return (and log) the events left undecided."""
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
                "Signal alert for %s not sent: the process stopped before its turn (shutdown_timeout %g s); "
                "a scheduler's sweep sends it if one runs within max_delivery_age.",
                describe(event),
                limit,
            )
        if self._next_flush is not None and not (thread is not None and thread.is_alive()):
            self._log_waiting()
        if thread is not None and thread.is_alive():
            self._log_still_running(limit)
        return left

    def _log_waiting(self) -> None:
        """Alerts this process queued that are still in the outbox as it stops: each with its cause."""
        try:
            for notice, cause in self.pipeline.waiting():
                log.error(
                    "Signal alert for %s not sent yet%s; it waits in the outbox (Airflow's audit log) "
                    "and a scheduler's sweep sends it within max_delivery_age.",
                    outbox.describe_notice(notice),
                    f" ({cause})" if cause else "",
                )
        except Exception as error:
            log.error("Signal alerts: reading the outbox at shutdown failed: %s", error)

    def _log_still_running(self, limit: float) -> None:
        """The thread outlived ``shutdown_timeout``: name what it was on, and what happens next."""
        current = self._current
        if current is not None:
            log.error(
                "Signal alert for %s may not arrive: its decision was still running when the process stopped "
                "(shutdown_timeout %g s). A scheduler's sweep decides it again within max_delivery_age.",
                describe(current),
                limit,
            )
        elif self._flushing:
            log.error(
                "Signal alerts may not arrive: the send of a message was still running when the process "
                "stopped "
                "(shutdown_timeout %g s). A scheduler's sweep sends its alerts again within "
                "max_delivery_age (marked as a possible repeat if its request had gone out); check that "
                "the Signal API answers, and the runs' audit log.",
                limit,
            )
        else:
            log.error(
                "Signal alerts: the sweep for unalerted failed runs was still running when the process "
                "stopped (shutdown_timeout %g s); a scheduler's sweep runs it again.",
                limit,
            )

    # -- the sender thread ---------------------------------------------------------------------

    def _seconds_until(self, when: datetime | None) -> float | None:
        if when is None:
            return None
        return max(0.0, (when - self.clock()).total_seconds())

    def _run(self) -> None:
        next_sweep = time.monotonic() + FIRST_SWEEP_DELAY
        while True:
            waits = [max(0.0, next_sweep - time.monotonic())] if self._sweeping else []
            flush_in = self._seconds_until(self._next_flush)
            if flush_in is not None:
                waits.append(flush_in)
            try:
                item = self._queue.get(timeout=min(waits) if waits else None)
            except queue.Empty:
                item = None
            if item is _STOP:
                for _ in range(3):  # a recovery waits for its failure's message: a round more
                    self._flush(force=True)
                    if self._next_flush is None or self._next_flush > self.clock():
                        break
                return
            if item is _WAKE:
                self._due(self.clock())
            elif item is not None:
                self._safely(item)
                if not self._queue.empty():
                    continue  # decide the whole burst first: it groups better
            if self._next_flush is not None and self._next_flush <= self.clock():
                self._flush()
            if self._sweeping and time.monotonic() >= next_sweep:
                if not self._sweep_if():
                    self._sweeping = False
                    continue
                self._sweep_if = lambda: True
                try:
                    self.sweep()
                except Exception as error:
                    log.error("Signal alerts: the sweep for unalerted failed runs failed: %s", error)
                next_sweep = time.monotonic() + self.settings.sweep_interval

    def _safely(self, event: RunEvent) -> None:
        self._current = event
        try:
            self._handle(event)
        except BaseException as error:  # the thread must survive anything an alert raises
            log.error("Signal alert for %s not sent: %s: %s", describe(event), type(error).__name__, error)
        finally:
            self._current = None
            self._known.pop(run_key(event), None)

    def _due(self, when: datetime | None) -> None:
        if when is not None and (self._next_flush is None or when < self._next_flush):
            self._next_flush = when

    def _flush(self, force: bool = False) -> None:
        self._flushing = True
        self._next_flush = None
        try:
            self._due(self.pipeline.flush(force))
        except BaseException as error:  # kept in the outbox: the next flush or sweep sends it
            log.error(
                "Signal alerts: sending the outbox failed (%s: %s); its alerts stay queued and are "
                "sent at the next try.",
                type(error).__name__,
                error,
            )
            self._due(self.clock())
        finally:
            self._flushing = False

    def sweep(self) -> int:
        """Decide on failed runs that ended within ``max_delivery_age`` and have no recorded
        outcome (a crash, a full queue), queue the summary of each silence that ended, then send
        what the outbox holds that is due; returns how many runs were decided."""
        handled = 0
        for event in unalerted_runs(self.settings, self.clock(), self.cursor):
            if run_key(event) in self._known:
                continue
            log.debug("Signal alerts: %s failed without a recorded outcome; deciding now.", describe(event))
            self._safely(event)
            handled += 1
        try:
            self.pipeline.summarize_silences()
        except Exception as error:
            log.error(
                "Signal alerts: the summary of an ended silence failed (%s); tried again at the next sweep.",
                error,
            )
        self._flush()
        return handled

    # -- one alert -----------------------------------------------------------------------------

    def _take(self, event: RunEvent) -> None:
        """The thread's default: decide now, send when the group is due (after the burst)."""
        self._due(self.pipeline.take(event))

    def process(self, event: RunEvent) -> None:
        """Decide on one event (on the sender thread); send its group at once when it is due."""
        self._due(self.pipeline.take(event))
        if self._next_flush is not None and self._next_flush <= self.clock():
            self._flush()
