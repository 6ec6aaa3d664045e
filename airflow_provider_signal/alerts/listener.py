"""The DAG-run listener: runs on the scheduler's thread (and the API server's), so it only copies
a few already-loaded attributes off the DagRun and queues them for the background sender.

No database query, no connection look-up, no HTTP and no ``requests`` import happen here:
the sender thread does all of that. Everything is caught: a listener error must never
reach the scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from airflow.listeners import hookimpl

from airflow_provider_signal.alerts.config import AlertSettings, load_settings
from airflow_provider_signal.alerts.delivery import describe
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.kinds import FAILURE, RunKind, kind_for_run_state
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.sender import AlertSender

__all__ = ["SignalAlertListener", "event_from_dag_run"]  # event_from_dag_run: its old home

log = logging.getLogger(__name__)

_SEEN_MAX = 1024


class SignalAlertListener:
    """Hooks into ``on_dag_run_failed`` / ``on_dag_run_success``, ``on_starting`` (a scheduler
    sweeps for runs left without an alert) and ``before_stopping``.

    Settings are read when the first event arrives (not when the plugin is imported), once
    per process; a bad ``[signal_alerts]`` value is logged with its key and no alert is sent.
    """

    def __init__(self, settings: AlertSettings | None = None, sender: AlertSender | None = None) -> None:
        self._settings = settings
        self._sender = sender
        self._error: str | None = None
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str, str, int], None] = OrderedDict()
        self._import_watcher: Any = None
        self._health_watcher: Any = None

    def _ready(self) -> AlertSender | None:
        if self._sender is not None:
            return self._sender
        with self._lock:
            if self._sender is None and self._error is None:
                try:
                    settings = self._settings or load_settings()
                    self._sender = AlertSender(settings)
                except Exception as error:
                    self._error = str(error)
                    log.error(
                        "Signal alerts are off in this process: %s. Fix it in airflow.cfg (or its "
                        "AIRFLOW__SIGNAL_ALERTS__ variable) and restart this process.",
                        error,
                    )
        return self._sender

    def _enqueue(self, kind: RunKind, dag_run: Any, msg: str) -> None:
        try:
            sender = self._ready()
            if sender is None:
                self._log_not_sent(event_from_dag_run(kind, dag_run, msg))
                return
            settings = sender.settings
            if kind not in settings.notify_on:
                return
            event = event_from_dag_run(kind, dag_run, msg)  # set by hand: the sender records the skip
            key = (kind, event.dag_id, event.run_id, event.clear_number)
            if key in self._seen:  # the same run reported twice (apache/airflow#55299)
                return
            self._seen[key] = None
            if len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)
            sender.submit(event)
        except Exception:
            log.exception("Signal alert listener failed; the alert for this run is lost")

    def _log_not_sent(self, event: RunEvent) -> None:
        """A run not alerted because ``[signal_alerts]`` could not be read: which run, why, what to do."""
        log.error(
            "Signal alert for %s (%s) not sent: %s. Fix it in airflow.cfg (or its AIRFLOW__SIGNAL_ALERTS__ "
            "variable) and restart this process; a scheduler's sweep then sends the failure alerts "
            "of runs that ended within max_delivery_age.",
            describe(event),
            "failed" if event.kind == FAILURE else "succeeded",
            self._error,
        )

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        self._enqueue(kind_for_run_state("failed"), dag_run, msg)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        self._enqueue(kind_for_run_state("success"), dag_run, msg)

    @hookimpl
    def on_starting(self, component: Any) -> None:
        """In a scheduler, start the sender's sweep for failed runs left without an alert and,
        with ``import_error`` in ``notify_on``, the import-error watcher; with ``health``, in a
        scheduler, DAG processor or triggerer, the health watcher.

        Airflow calls this from ``Job.__init__``, before the runner sets ``job_type``: the
        sender and the watcher ask the job's type when their first sweep is due.
        """
        sender = None
        try:
            sender = self._ready()
            if sender is None:
                return
            if component is not None and hasattr(component, "job_type"):
                sender.start_sweeping(
                    lambda: getattr(component, "job_type", None) == "SchedulerJob", job=component
                )
        except Exception:
            log.exception("Signal alerts: starting the sweep failed")
        try:
            if sender is None or "import_error" not in sender.settings.notify_on:
                return
            if self._import_watcher is None:
                from airflow_provider_signal.alerts.import_watcher import ImportErrorWatcher

                self._import_watcher = ImportErrorWatcher(sender.settings, wake=sender.wake)
            self._import_watcher.start_for(component)
        except Exception:
            log.exception("Signal import-error alerts could not start in this process")
        self._start_health(sender, component)

    def watch_health(self, process: str) -> None:
        """Start the health watcher in a process that runs no Airflow job (the API server or
        the webserver, named ``process``), when ``health`` is in ``notify_on``."""
        try:
            sender = self._ready()
            if sender is None or "health" not in sender.settings.notify_on:
                return
            from airflow_provider_signal.alerts.health_watcher import HealthWatcher
            from airflow_provider_signal.alerts.owners import hostname

            if self._health_watcher is None:
                self._health_watcher = HealthWatcher(
                    sender.settings, wake=sender.wake, name=f"{process} on {hostname()}"
                )
            self._health_watcher.start(lambda: process)
        except Exception:
            log.exception("Signal health alerts could not start in this process")

    def _start_health(self, sender: AlertSender | None, component: Any) -> None:
        try:
            if sender is None or "health" not in sender.settings.notify_on:
                return  # no thread, no query
            if self._health_watcher is None:
                from airflow_provider_signal.alerts.health_watcher import HealthWatcher

                self._health_watcher = HealthWatcher(sender.settings, wake=sender.wake)
            self._health_watcher.start_for(component)
        except Exception:
            log.exception("Signal health alerts could not start in this process")

    @hookimpl
    def before_stopping(self, component: Any) -> None:
        """Give pending alerts ``shutdown_timeout`` seconds when the scheduler (or another job) stops."""
        try:
            if self._import_watcher is not None:
                self._import_watcher.stop()
            if self._health_watcher is not None:
                self._health_watcher.stop()
            if self._sender is not None:
                self._sender.close()
        except Exception:
            log.exception("Signal alerts: draining the queue at shutdown failed")
