"""The alert pipeline, its stages in order. Every alert goes this way:

1. **source**: the listener (a run ended) or the sweep (a run left without an outcome), in
   :mod:`.listener` and :mod:`.sweep`, hand a :class:`~.message.RunEvent` to the sender's queue;
   the import-error watcher (:mod:`.import_watcher`) reads Airflow's import errors, the health
   watcher (:mod:`.health_watcher`) the components' heartbeats and the queued tasks;
2. **decision** (:mod:`.triage`, rules in :mod:`.decision`; for files :mod:`.import_errors`, for
   health :mod:`.health`): record the outcome, or queue a notice (a file's: :mod:`.file_notices`,
   an incident's: :mod:`.health_notices`);
3. **outbox** (:mod:`.outbox`): the notice waits, durable, in Airflow's audit log;
4. **grouping** (:mod:`.grouping`): notices of one kind for the same recipients go out together,
   after ``group_wait``, at most every ``group_interval``;
5. **claim** (:mod:`.outbox`): the group's notices locked and marked in flight, with their owner;
6. **delivery** (:mod:`.delivery`, texts in :mod:`.message`, :mod:`.group_text` and
   :mod:`.import_text`, :mod:`.health_text`, :mod:`.summary_text`): one message;
7. **settle** (:mod:`.outbox`): delivered, or queued again with back-off, or given up; an
   attempt whose owner died is queued again, marked (a run's by the sweep, any other here).

:class:`Pipeline` runs stages 2 to 7 of runs and 3 to 7 of the rest on the sender's thread; each
stage is its own module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import file_notices, metrics, outbox, owners, records
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.decision import Rules
from airflow_provider_signal.alerts.delivery import (
    SendOutcome,
    run_link,
    send_files,
    send_group,
    send_health,
    send_summary,
)
from airflow_provider_signal.alerts.group_text import TASKS_NAMED
from airflow_provider_signal.alerts.grouping import Timing, ready_groups
from airflow_provider_signal.alerts.health_text import HealthReport
from airflow_provider_signal.alerts.import_text import FileReport
from airflow_provider_signal.alerts.kinds import FAILURE, FileKind
from airflow_provider_signal.alerts.message import FailedTask, RunEvent, RunReport
from airflow_provider_signal.alerts.owners import Owner
from airflow_provider_signal.alerts.triage import triage

FilesSender = Callable[[AlertSettings, FileKind, list[FileReport], list[str], bool], SendOutcome]

REPORTS_DETAILED = 200
"""Runs of a group whose failed tasks are read (a message has room for far fewer lines)."""


def attempt_budget(settings: AlertSettings, recipients: int) -> float:
    """Seconds after which an attempt without an outcome means its process died mid-send: every
    round of four recipients at most ``send_timeout`` per try, plus a minute."""
    rounds = max(1, math.ceil(recipients / 4))
    return rounds * settings.send_timeout * (settings.send_retries + 1) + 60.0


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a <= b else b


class Pipeline:
    """Stages 2 to 7 for one process.

    :param send: deliver one message of runs (default: :func:`.delivery.send_group`); tests pass a spy.
    :param send_files: deliver one message of DAG files (default: :func:`.delivery.send_files`).
    :param send_health: deliver one message of health incidents (default: :func:`.delivery.send_health`).
    """

    def __init__(
        self,
        settings: AlertSettings,
        clock: Callable[[], datetime],
        owner: Callable[[], Owner],
        send: Callable[[AlertSettings, list[RunReport], list[str]], SendOutcome] = send_group,
        send_files: Callable[
            [AlertSettings, FileKind, list[FileReport], list[str], bool], SendOutcome
        ] = send_files,
        send_health: Callable[
            [AlertSettings, list[HealthReport], list[str], bool], SendOutcome
        ] = send_health,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.owner = owner
        self.send = send
        self.send_files = send_files
        self.send_health = send_health
        self.rules = Rules(settings.cooldown, settings.max_delivery_age)
        self.timing = Timing(settings.group_wait, settings.group_interval)

    def take(self, event: RunEvent) -> datetime | None:
        """Stage 2: decide on one run; when its notice is due, if one was queued."""
        from airflow.utils.session import create_session

        with create_session() as session:
            return triage(session, self.settings, event, self.clock())

    def summarize_silences(self) -> int:
        """Stage 2 for silences: queue what each silence that ended kept quiet (once)."""
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts.silence_summary import summarize_ended

        with create_session() as session:
            return summarize_ended(session, self.settings, self.clock())

    def flush(self, force: bool = False) -> datetime | None:
        """Stages 4 to 7 for every group that is due (all of them with ``force``); when the next
        one is due, or ``None`` when the outbox is empty."""
        from airflow.utils.session import create_session

        now = self.clock()
        max_age = self.settings.max_delivery_age
        with create_session() as session:
            outbox.requeue_orphans(
                session, now, max_age, lambda owner: owners.is_gone(session, owners.parse(owner))
            )
        with create_session() as session:
            notices = outbox.open_notices(session, now, max_age)
            last = outbox.last_delivered(session, now, self.settings.group_interval)
        ready, next_due = ready_groups(notices, last, self.timing, now, force)
        for group in ready:
            next_due = _earliest(next_due, self._send(group))
        return next_due

    def waiting(self) -> list[tuple[outbox.Notice, str]]:
        """The notices still in the outbox, each with the cause of its last failed attempt."""
        from airflow.utils.session import create_session

        now = self.clock()
        with create_session() as session:
            notices = outbox.open_notices(session, now, self.settings.max_delivery_age)
            states = records.run_states(
                session, [n.event for n in notices], outbox.rows_since(now, self.settings.max_delivery_age)
            )
        return [
            (n, states[(n.event.dag_id, n.event.run_id, n.event.clear_number)].last_cause) for n in notices
        ]

    def _send(self, group: list[outbox.Notice]) -> datetime | None:
        from airflow.utils.session import create_session

        now = self.clock()
        recipients = list(group[0].recipients)
        deadline = now + timedelta(seconds=attempt_budget(self.settings, len(recipients)))
        with create_session() as session:
            claimed = outbox.claim(session, group, self.owner(), now, deadline, self.rules)
            files = [item.notice.file for item in claimed if item.notice.file is not None]
            health = [item.notice.health for item in claimed if item.notice.health is not None]
            summaries = [item.notice.summary for item in claimed if item.notice.summary is not None]
            reports = (
                []
                if files or health or summaries
                else [self._report(session, item, i, len(claimed)) for i, item in enumerate(claimed)]
            )
        if not claimed:
            return None
        again = any(item.copy == 2 for item in claimed)
        if summaries:  # one silence, one route: one notice (a group holds one per silence)
            outcome = self._send_summaries(summaries, recipients, again)
        elif health:
            outcome = self.send_health(self.settings, health, recipients, again)
        elif files:
            kind = file_notices.kind_of(claimed[0].notice.event)
            outcome = self.send_files(self.settings, kind, files, recipients, again)
        else:
            outcome = self.send(self.settings, reports, recipients)
        done = self.clock()
        with create_session() as session:
            retry_due = outbox.settle(session, claimed, outcome, done, self.settings.conn_id)
        if outcome.delivered and not files and not health and not summaries:
            for item in claimed:
                metrics.incr("delivered")
                ended = records.aware(item.notice.event.end_date)
                if ended is not None:
                    metrics.delivery_delay((done - ended).total_seconds())
            if len(claimed) > 1:
                metrics.incr("grouped", len(claimed))
        return retry_due

    def _send_summaries(self, summaries: list[Any], recipients: list[str], again: bool) -> SendOutcome:
        """Each silence's summary is its own message; the group is delivered when all are."""
        outcome = SendOutcome(True)
        for summary in summaries:
            outcome = send_summary(self.settings, summary, recipients, again)
            if not outcome.delivered:
                return outcome
        return outcome

    def _report(self, session: Any, item: outbox.Claimed, index: int, size: int) -> RunReport:
        """What the message says of one claimed notice, with its failed tasks read now."""
        notice, event = item.notice, item.notice.event
        report = RunReport(
            event,
            held=notice.held,
            last_alert_at=notice.last_alert_at,
            run_url=run_link(event),
            sent_again=item.copy == 2,
            unreachable=(notice.first_failure, self.clock()) if notice.first_failure else None,
        )
        if event.kind != FAILURE or index >= REPORTS_DETAILED:
            return report
        tasks: list[FailedTask]
        if size == 1:
            tasks, upstream = records.failed_tasks(session, event.dag_id, event.run_id)
            return replace(report, failed_tasks=tasks, upstream_failed=upstream)
        tasks, total = records.first_failed_tasks(session, event.dag_id, event.run_id, TASKS_NAMED)
        return replace(report, failed_tasks=tasks, failed_count=total)
