"""The background sender: one daemon thread per process, fed by a bounded queue.

The listener only calls :meth:`AlertSender.submit` (a ``put_nowait``); everything slow runs
here. For each run: take the DAG's row lock, read what is recorded, decide
(:func:`~airflow_provider_signal.alerts.decision.decide`), record the outcome, or an in-flight
marker before a send, commit, send (bounded by ``send_timeout`` and ``send_retries``), and
record what happened. A send that did not reach the API is retried here with growing back-off
(at most ``RETRY_CAP`` seconds apart) until ``max_delivery_age`` after the run's end.

In a scheduler (:meth:`start_sweeping`), the thread also sweeps the database when it starts
and every ``sweep_interval`` seconds: failed runs that ended within ``max_delivery_age`` with no
recorded outcome (a process killed mid-way, an alert dropped from a full queue) are decided
and sent then. At shutdown :meth:`close` gives pending alerts ``shutdown_timeout`` seconds and
logs every alert left unsent with its DAG, run and cause.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.alerts import metrics
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.decision import Decision, Outcome, Reason, Rules, RunFacts, decide
from airflow_provider_signal.alerts.delivery import SendOutcome, describe, run_link, send_alert
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.message import (
    FailedTask,
    RunEvent,
    RunReport,
)

log = logging.getLogger(__name__)

_STOP = object()
RETRY_FIRST = 1.0
"""Seconds before the first retry of a send that did not reach the API; doubled each time."""
RETRY_CAP = 60.0
"""The longest wait between two retries."""
FIRST_SWEEP_DELAY = 10.0
"""Seconds from a scheduler's start to its first sweep: the executor forks its workers right
after the listener's ``on_starting``, and a child forked while this thread holds a database
connection's lock would inherit it held."""
SWEEP_GRACE = 15.0
"""The sweep leaves runs that ended this recently to the listener that saw them end."""
_KNOWN_MAX = 10_000

RunKey = tuple[str, str, int]


def run_key(event: RunEvent) -> RunKey:
    return (event.dag_id, event.run_id, event.clear_number)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Plan:
    """A send decided and marked in flight: what to send, to whom."""

    report: RunReport
    recipients: list[str]


class AlertSender:
    """Send alerts for :class:`RunEvent` objects off the caller's thread.

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
        self._handle = handle or self.process
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=settings.queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._sweeping = False
        self._sweep_if: Callable[[], bool] = lambda: True
        self._known: dict[RunKey, None] = {}  # queued or being retried: the sweep leaves them
        self._retries: dict[RunKey, tuple[float, RunEvent]] = {}  # due (monotonic), event
        self._tries: dict[RunKey, int] = {}
        self._causes: dict[RunKey, str] = {}
        self._current: RunEvent | None = None  # the event the thread is deciding or sending
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
                "the Signal API may be slow or down. A scheduler's sweep sends it later.",
                describe(event),
                self.settings.queue_size,
            )
            return False
        if len(self._known) < _KNOWN_MAX:
            self._known[run_key(event)] = None
        if self._thread is None:
            self._start()
        return True

    def start_sweeping(self, only_if: Callable[[], bool] = lambda: True) -> None:
        """Sweep the database soon and every ``sweep_interval`` seconds (in a scheduler).

        ``only_if`` is asked before the first sweep: Airflow fires ``on_starting`` before a
        job knows its type, so the listener asks then whether this process is a scheduler.
        """
        self._sweep_if = only_if
        self._sweeping = True
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
        self._known, self._retries, self._tries, self._causes = {}, {}, {}, {}

    @property
    def pending(self) -> int:
        return self._queue.qsize() + len(self._retries)

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
                "Signal alert for %s not sent: the process stopped before its turn (shutdown_timeout %g s); "
                "a scheduler's sweep sends it if one runs within max_delivery_age.",
                describe(event),
                limit,
            )
        for key, (_, event) in list(self._retries.items()):
            left.append(event)
            log.error(
                "Signal alert for %s not sent: the process stopped while it was being retried (%s); "
                "a scheduler's sweep sends it if one runs within max_delivery_age.",
                describe(event),
                self._causes.get(key, "the Signal API could not be reached"),
            )
        if thread is not None and thread.is_alive():
            self._log_still_running(limit)
        return left

    def _log_still_running(self, limit: float) -> None:
        """The thread outlived ``shutdown_timeout``: name the alert it was on, and what happens next."""
        current = self._current
        if current is None:  # between alerts: a sweep's reads
            log.error(
                "Signal alerts: the sweep for unalerted failed runs was still running when the process "
                "stopped (shutdown_timeout %g s); a scheduler's sweep runs it again.",
                limit,
            )
            return
        log.error(
            "Signal alert for %s may not arrive: its send was still running when the process stopped "
            "(shutdown_timeout %g s). A scheduler's sweep sends a failure alert again within "
            "max_delivery_age (marked as a possible repeat if its request had gone out, once the "
            "attempt's deadline has passed); check that the Signal API answers, and the run's audit log.",
            describe(current),
            limit,
        )

    # -- the sender thread ---------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic() + FIRST_SWEEP_DELAY
        while True:
            wake = [next_sweep] if self._sweeping else []
            wake.extend(due for due, _ in self._retries.values())
            timeout = max(0.0, min(wake) - time.monotonic()) if wake else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            if item is not None:
                self._safely(item)
            now = time.monotonic()
            for key, (due, event) in list(self._retries.items()):
                if due <= now:
                    del self._retries[key]
                    self._safely(event)
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
        key = run_key(event)
        self._current = event
        try:
            self._handle(event)
        except BaseException as error:  # the thread must survive anything an alert raises
            log.error("Signal alert for %s not sent: %s: %s", describe(event), type(error).__name__, error)
        finally:
            self._current = None
        if key not in self._retries:
            self._known.pop(key, None)
            self._tries.pop(key, None)
            self._causes.pop(key, None)

    def sweep(self) -> int:
        """Decide on failed runs that ended within ``max_delivery_age`` and have no recorded
        outcome (a crash, a full queue); returns how many were handled."""
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts import records

        settings = self.settings
        if FAILURE not in settings.notify_on:
            return 0
        with create_session() as session:
            runs = records.unalerted_failures(session, self.clock(), settings.max_delivery_age, SWEEP_GRACE)
            events = [event_from_dag_run(FAILURE, run, "") for run in runs]
        handled = 0
        for event in events:
            key = run_key(event)
            if key in self._known or key in self._retries:
                continue
            log.info("Signal alerts: %s failed without a recorded alert; deciding now.", describe(event))
            self._safely(event)
            handled += 1
        return handled

    # -- one alert -----------------------------------------------------------------------------

    def process(self, event: RunEvent) -> None:
        """Decide, record, build and send one alert (on the sender thread)."""
        from airflow.utils.session import create_session

        with create_session() as session:
            plan = self.plan(session, event, self.clock())
        if plan is not None:
            self.deliver(plan)

    def plan(self, session: Any, event: RunEvent, now: datetime) -> Plan | None:
        """Under the DAG's row lock: decide, record the outcome or the in-flight marker.

        Returns what to send, or ``None``. The caller commits (the marker must be durable
        before the request goes out, and the lock released).
        """
        from airflow_provider_signal.alerts import records

        settings = self.settings
        records.lock_dag(session, event.dag_id)
        if event.manual and not settings.alert_on_manual:
            if not records.run_state(session, event).record.decided:
                records.record(session, records.SKIPPED, event, now, why="set by hand")
            log.info("Signal alert for %s skipped: set by hand.", describe(event))
            return None
        state = records.run_state(session, event)
        tags = list(event.tags) if event.tags is not None else records.dag_tags(session, event.dag_id)
        dag = records.dag_state(session, event, now, settings.max_delivery_age)
        facts = RunFacts(
            event.kind, records.aware(event.end_date) or now, settings.is_muted(event.dag_id, tags)
        )
        decision = decide(
            dag.history, state.record, facts, Rules(settings.cooldown, settings.max_delivery_age), now
        )
        if not decision.sends:
            self._record_outcome(session, event, decision, now, state.last_cause)
            return None
        report = RunReport(
            event,
            held=records.held_back_since(session, event.dag_id, dag.last_alert_id),
            last_alert_at=dag.history.last_delivered_at,
            run_url=run_link(event),
            sent_again=decision.outcome is Outcome.SEND_AGAIN,
            unreachable=(state.record.first_failure, now) if state.record.first_failure else None,
        )
        if event.kind == FAILURE:
            tasks: list[FailedTask]
            tasks, upstream = records.failed_tasks(session, event.dag_id, event.run_id)
            report = replace(report, failed_tasks=tasks, upstream_failed=upstream)
        recipients = list(state.recipients) if state.recipients else settings.recipients_for(tags)
        records.record(
            session,
            records.ATTEMPT,
            event,
            now,
            deadline=(now + timedelta(seconds=self._attempt_budget(len(recipients)))).isoformat(),
            recipients=recipients,
            copy=2 if report.sent_again else 1,
            reason=decision.reason.name,
        )
        return Plan(report, recipients)

    def _attempt_budget(self, recipients: int) -> float:
        """Seconds after which an attempt without an outcome means its process died mid-send."""
        settings = self.settings
        rounds = max(1, math.ceil(recipients / 4))
        return rounds * settings.send_timeout * (settings.send_retries + 1) + 60.0

    def _record_outcome(
        self, session: Any, event: RunEvent, decision: Decision, now: datetime, cause: str
    ) -> None:
        from airflow_provider_signal.alerts import records

        reason = decision.reason
        if decision.outcome is Outcome.SKIP:
            level = logging.DEBUG if reason is Reason.ALREADY_DECIDED else logging.INFO
            log.log(level, "Signal alert for %s not sent: %s.", describe(event), reason.value)
            return
        if decision.outcome is Outcome.HOLD_BACK:
            records.record(session, records.HELD, event, now, why=reason.name)
            metrics.incr("held_back")
            log.info("Signal alert for %s %s; the next alert will count it.", describe(event), reason.value)
        elif decision.outcome is Outcome.MUTE:
            records.record(session, records.MUTED, event, now)
            metrics.incr("muted")
            log.info("Signal alert for %s not sent: the DAG is muted.", describe(event))
        else:
            records.record(session, records.GIVEN_UP, event, now, why=reason.name, cause=cause)
            metrics.incr("given_up")
            log.error(
                "Signal alert for %s given up: %s%s.",
                describe(event),
                reason.value,
                f" (last cause: {cause})" if cause else "",
            )

    def deliver(self, plan: Plan) -> None:
        """Send a planned alert and record what happened; schedule a retry if it did not arrive."""
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts import records

        event = plan.report.event
        outcome = self.send(plan.report, plan.recipients)
        now = self.clock()
        key = run_key(event)
        with create_session() as session:
            if outcome.delivered:
                records.record(
                    session,
                    records.DELIVERED[event.kind],
                    event,
                    now,
                    delivered_at=now.isoformat(),
                    held=plan.report.held,
                    copy=2 if plan.report.sent_again else 1,
                )
            else:
                records.record(
                    session,
                    records.NOT_DELIVERED,
                    event,
                    now,
                    maybe=outcome.maybe_delivered,
                    recipients=outcome.failed_recipients,
                    cause=outcome.cause,
                )
        if outcome.delivered:
            metrics.incr("delivered")
            if event.end_date is not None:
                metrics.delivery_delay((now - (records.aware(event.end_date) or now)).total_seconds())
            return
        tries = self._tries.get(key, 0) + 1
        self._tries[key] = tries
        self._causes[key] = outcome.cause
        wait = RETRY_FIRST if outcome.maybe_delivered else min(RETRY_CAP, RETRY_FIRST * 2 ** (tries - 1))
        self._retries[key] = (time.monotonic() + wait, event)
        self._known[key] = None
        metrics.incr("retried")
        log.warning(
            "Signal alert for %s not delivered via connection %r (attempt %d): %s; %s in %g s.",
            describe(event),
            self.settings.conn_id,
            tries,
            outcome.cause,
            "sending it again once, marked as a possible repeat," if outcome.maybe_delivered else "retrying",
            wait,
        )

    def send(self, report: RunReport, recipients: list[str]) -> SendOutcome:
        """Build the text and send it; never raise."""
        return send_alert(self.settings, report, recipients)
