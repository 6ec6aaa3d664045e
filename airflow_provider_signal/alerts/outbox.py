"""The durable outbox: notices decided to be sent, waiting for their group, in Airflow's audit log.

A notice is one ``signal_alert_queued`` row (see :mod:`.records` for every row kind) holding what
its message needs: the run as the listener saw it (or the DAG file, :mod:`.file_notices`), the
recipients, the held-back count and when it is due (its ``group_wait`` ended, or its retry's
back-off). Every process that sends reads the
same rows, so a notice queued by a scheduler that died is sent by another one, and a retry is
just a notice queued again.

:func:`claim` takes notices for one message: their rows are locked (``SKIP LOCKED``: another
scheduler taking the same group skips them), checked to be still open under the lock, and each
gets its in-flight marker (owner and deadline) in the same transaction. :func:`settle` records
what the send did: delivered, or not delivered and queued again with back-off (or given up).
:func:`requeue_orphans` queues again, marked, a file's notice whose attempt has no outcome and
whose owner no longer runs (a run's is found again by the sweep, :mod:`.sweep`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import (
    decision_lock,
    file_notices,
    health_notices,
    metrics,
    records,
    summary_text,
)
from airflow_provider_signal.alerts.decision import Outcome, Rules, decide_queued
from airflow_provider_signal.alerts.delivery import SendOutcome, describe
from airflow_provider_signal.alerts.health_text import HealthReport
from airflow_provider_signal.alerts.import_text import FileReport
from airflow_provider_signal.alerts.kinds import (
    FAILURE,
    HEALTH_RESOLVED,
    IMPORT_FIXED,
    RECOVERY,
    SILENCE_ENDED,
    NoticeKind,
)
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.owners import Owner

log = logging.getLogger(__name__)

RETRY_FIRST = 1.0
"""Seconds before the first retry of a send that did not reach the API; doubled each time."""
RETRY_CAP = 60.0
"""The longest wait between two retries."""
_EVENT_TIMES = ("logical_date", "start_date", "end_date")

GroupKey = tuple[NoticeKind, tuple[str, ...]]
"""What a message is for: one kind of notice, one set of recipients (``()``: the connection's)."""


@dataclass(frozen=True)
class Notice:
    """A queued notice: one run's alert (or one DAG file's news) waiting for its group's message."""

    row_id: int
    event: RunEvent
    recipients: tuple[str, ...]
    due: datetime
    held: int = 0
    last_alert_at: datetime | None = None
    tries: int = 0  # attempts that did not arrive before this one
    first_row_id: int = 0  # the run's first queued row: held-back runs after it count in the next alert
    sent_again: bool = False  # an earlier copy may have arrived
    first_failure: datetime | None = None  # when an attempt first failed to reach the API
    file: FileReport | None = None  # a DAG file's news: ``event`` is its subject (file_notices)
    health: HealthReport | None = None  # a health incident's news: ``event`` is its subject
    summary: summary_text.SilenceSummary | None = None  # what a silence kept quiet

    @property
    def kind(self) -> NoticeKind:
        if self.summary is not None:
            return SILENCE_ENDED
        if self.health is not None:
            return health_notices.kind_of(self.event)
        return file_notices.kind_of(self.event) if self.file is not None else self.event.kind

    @property
    def group(self) -> GroupKey:
        return (self.kind, self.recipients)

    @property
    def topic(self) -> tuple[str, ...]:
        """What a failure opens and a recovery ends: the DAG, the file, or the health incident."""
        if self.summary is not None:
            return ("silence", self.summary.silence_id)
        if self.health is not None:
            return ("health", self.health.key)
        if self.file is not None:
            return ("file", self.file.bundle, self.file.path)
        return ("dag", self.event.dag_id)

    @property
    def ends_a_problem(self) -> bool:
        """A recovery, a fix or an incident's end: never before the problem it ends."""
        return self.kind in (RECOVERY, IMPORT_FIXED, HEALTH_RESOLVED)

    @property
    def counts_as_run(self) -> bool:
        """A run's alert: what the ``signal_alerts.*`` counters count."""
        return self.file is None and self.health is None and self.summary is None

    @property
    def delivered_event(self) -> str:
        """The audit-log event of its delivery."""
        if self.summary is not None:
            return records.SUMMARY_DELIVERED
        if self.health is not None:
            return records.HEALTH_DELIVERED
        return records.FILE_DELIVERED if self.file is not None else records.DELIVERED[self.event.kind]


def describe_notice(notice: Notice) -> str:
    """How log lines name a notice: its run, its file, its health incident or its silence."""
    if notice.summary is not None:
        return summary_text.describe_summary(notice.summary)
    if notice.health is not None:
        return health_notices.describe_health(notice.health)
    if notice.file is not None:
        return file_notices.describe_file(file_notices.kind_of(notice.event), notice.file)
    return describe(notice.event)


def group_name(key: GroupKey) -> str:
    kind, recipients = key
    return f"{kind}:{','.join(recipients)}"


def _event_extra(event: RunEvent) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_type": event.run_type,
        "msg": event.msg,
        "dagrun_timeout": event.dagrun_timeout,
    }
    for name in _EVENT_TIMES:
        value = getattr(event, name)
        body[f"event_{name}"] = value.isoformat() if value is not None else None
    return body


def _event(row: records.Row, dag_id: str) -> RunEvent:
    extra = row.extra
    kind = extra.get("kind", FAILURE)
    timeout = extra.get("dagrun_timeout")
    return RunEvent(
        kind=kind if kind in ("failure", "recovery") else FAILURE,
        dag_id=dag_id,
        run_id=row.run_id or "",
        run_type=extra.get("run_type") if isinstance(extra.get("run_type"), str) else None,
        logical_date=row.time("event_logical_date"),
        start_date=row.time("event_start_date"),
        end_date=row.time("event_end_date") or row.time("run_end"),
        msg=str(extra.get("msg") or ""),
        dagrun_timeout=float(timeout)
        if isinstance(timeout, int | float) and not isinstance(timeout, bool)
        else None,
        clear_number=row.clear_number,
    )


def queue(
    session: Any,
    event: RunEvent,
    now: datetime,
    *,
    recipients: tuple[str, ...],
    due: datetime,
    held: int = 0,
    last_alert_at: datetime | None = None,
    tries: int = 0,
    sent_again: bool = False,
    first_failure: datetime | None = None,
    reason: str = "",
    first_row_id: int | None = None,
    file: FileReport | None = None,
    health: HealthReport | None = None,
    summary: summary_text.SilenceSummary | None = None,
) -> None:
    """Put a notice for ``event`` into the outbox (the caller's transaction commits it); a retry
    passes ``first_row_id``, the row of the run's first notice; a file's news passes ``file``
    with its subject (:func:`.file_notices.subject`) as ``event``, a health incident's ``health``
    (subject: :func:`.health_notices.subject`)."""
    kind: NoticeKind = (
        SILENCE_ENDED
        if summary is not None
        else health_notices.kind_of(event)
        if health is not None
        else file_notices.kind_of(event)
        if file is not None
        else event.kind
    )
    records.record(
        session,
        records.QUEUED,
        event,
        now,
        recipients=list(recipients),
        due=due.isoformat(),
        held=held,
        last_alert_at=last_alert_at.isoformat() if last_alert_at else None,
        tries=tries,
        sent_again=sent_again,
        first_failure=first_failure.isoformat() if first_failure else None,
        reason=reason,
        first_queued_id=first_row_id,
        group=group_name((kind, recipients)),
        file=file_notices.to_extra(file) if file is not None else None,
        health=health_notices.to_extra(health) if health is not None else None,
        summary=summary_text.to_extra(summary) if summary is not None else None,
        **_event_extra(event),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _notice(row: records.Row, dag_id: str) -> Notice:
    extra = row.extra
    recipients = extra.get("recipients")
    return Notice(
        row_id=row.id,
        event=_event(row, dag_id),
        recipients=tuple(recipients)
        if isinstance(recipients, list) and all(isinstance(r, str) for r in recipients)
        else (),
        due=row.time("due") or row.dttm or records.EPOCH,
        held=_int(extra.get("held")),
        last_alert_at=row.time("last_alert_at"),
        tries=_int(extra.get("tries")),
        sent_again=extra.get("sent_again") is True,
        first_failure=row.time("first_failure"),
        first_row_id=_int(extra.get("first_queued_id")) or row.id,
        file=file_notices.from_extra(extra.get("file")) if not dag_id else None,
        health=health_notices.from_extra(extra.get("health")) if not dag_id else None,
        summary=summary_text.from_extra(extra.get("summary")) if not dag_id else None,
    )


def rows_since(now: datetime, max_age: float) -> datetime:
    """The oldest alert row the outbox reads: rows are written after the run's end, which is
    within ``max_age`` for anything still to be sent."""
    return now - timedelta(seconds=max_age + 600)


def open_notices(session: Any, now: datetime, max_age: float) -> list[Notice]:
    """Every notice still waiting: its queued row is the newest alert row of its run's clearing."""
    from airflow.models.log import Log

    query = records.select_rows().where(
        Log.event.in_(records.EVENTS), Log.dttm >= rows_since(now, max_age), Log.owner == records.AUDIT_OWNER
    )
    newest: dict[tuple[str, str, int], tuple[records.Row, str]] = {}
    for raw in session.execute(query.order_by(Log.id)):
        row = records.Row(
            int(raw.id), str(raw.event), raw.run_id, records.aware(raw.dttm), records.parse_extra(raw.extra)
        )
        dag_id = str(raw.dag_id or "")  # "": a file's or a health incident's notice
        newest[(dag_id, row.run_id or "", row.clear_number)] = (row, dag_id)
    notices = [_notice(row, dag_id) for row, dag_id in newest.values() if row.event == records.QUEUED]
    # never a row it cannot send: a run's, or a file's or an incident's that parsed
    return [n for n in notices if n.event.dag_id or not n.counts_as_run]


def last_delivered(session: Any, now: datetime, within: float) -> dict[str, datetime]:
    """When each group's last message was delivered, for deliveries within ``within`` seconds."""
    from airflow.models.log import Log
    from sqlalchemy import select

    if within <= 0:
        return {}
    query = select(Log.dttm, Log.extra).where(
        Log.event.in_(
            (
                *records.DELIVERED.values(),
                records.FILE_DELIVERED,
                records.HEALTH_DELIVERED,
                records.SUMMARY_DELIVERED,
            )
        ),
        Log.dttm >= now - timedelta(seconds=within),
    )
    last: dict[str, datetime] = {}
    for raw in session.execute(query):
        extra = records.parse_extra(raw.extra)
        group, at = (
            extra.get("group"),
            records.parse_time(extra.get("delivered_at")) or records.aware(raw.dttm),
        )
        if isinstance(group, str) and at is not None and (group not in last or at > last[group]):
            last[group] = at
    return last


def _about(notice: Notice) -> dict[str, Any]:
    """What an outcome's row says of its notice beyond the run: its kind, a file's path, an
    incident's key."""
    about: dict[str, Any] = {"notice_kind": notice.kind, "path": notice.file.path if notice.file else None}
    if notice.health is not None:
        about["incident"] = notice.health.key
    return about


def _lock(session: Any, row_ids: list[int]) -> set[int]:
    """Lock the rows (``SKIP LOCKED``: the ids another process holds are left out). SQLite has no
    row locks, and every process that sends (the scheduler, the triggerer, the API server) would
    see the same rows open: there the decision lock serialises them instead, so the second one
    reads the first one's in-flight marker."""
    from airflow.models.log import Log
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select

    if row_ids and session.get_bind().dialect.name == "sqlite":
        decision_lock.take(session)
    query = with_row_locks(select(Log.id).where(Log.id.in_(row_ids)), session=session, skip_locked=True)
    return {int(row_id) for row_id in session.scalars(query)}


@dataclass(frozen=True)
class Claimed:
    notice: Notice
    copy: int  # 2: a copy may already have arrived


def claim(
    session: Any, notices: list[Notice], owner: Owner, now: datetime, deadline: datetime, rules: Rules
) -> list[Claimed]:
    """Lock ``notices`` and mark each still open one in flight (or give it up); what to send."""
    locked = _lock(session, [notice.row_id for notice in notices])
    mine = [notice for notice in notices if notice.row_id in locked]  # the rest: another scheduler's
    states = records.run_states(session, [n.event for n in mine], rows_since(now, rules.max_delivery_age))
    claimed: list[Claimed] = []
    for notice in mine:
        event = notice.event
        state = states[(event.dag_id, event.run_id, event.clear_number)]
        if not state.record.queued:
            continue  # sent or decided meanwhile
        ended = records.aware(event.end_date) or now
        decision = decide_queued(state.record, ended, rules, now)
        if not decision.sends:
            if decision.outcome is Outcome.GIVE_UP:
                records.record(
                    session,
                    records.GIVEN_UP,
                    event,
                    now,
                    why=decision.reason.name,
                    cause=state.last_cause,
                    **_about(notice),
                )
                if notice.counts_as_run:
                    metrics.incr("given_up")
                log.error(
                    "Signal alert for %s given up: %s%s.",
                    describe_notice(notice),
                    decision.reason.value,
                    f" (last cause: {state.last_cause})" if state.last_cause else "",
                )
            continue
        copy = 2 if notice.sent_again or decision.outcome is Outcome.SEND_AGAIN else 1
        records.record(
            session,
            records.ATTEMPT,
            event,
            now,
            deadline=deadline.isoformat(),
            recipients=list(notice.recipients),
            copy=copy,
            owner=owner.as_extra(),
            group=group_name(notice.group),
            size=len(mine),
        )
        claimed.append(Claimed(notice, copy))
    return claimed


def retry_wait(tries: int, maybe_delivered: bool) -> float:
    """Seconds before the next attempt: at once for a marked repeat, else growing back-off."""
    return RETRY_FIRST if maybe_delivered else min(RETRY_CAP, RETRY_FIRST * 2 ** max(0, tries - 1))


def settle(
    session: Any, claimed: list[Claimed], outcome: SendOutcome, now: datetime, conn_id: str
) -> datetime | None:
    """Record what one message did for each of its notices; the time a retry is due, if any."""
    next_due: datetime | None = None
    for item in claimed:
        notice, event = item.notice, item.notice.event
        if outcome.delivered:
            records.record(
                session,
                notice.delivered_event,
                event,
                now,
                delivered_at=now.isoformat(),
                held=notice.held,
                copy=item.copy,
                group=group_name(notice.group),
                size=len(claimed),
                queued_id=notice.first_row_id,
                **_about(notice),
            )
            continue
        records.record(
            session,
            records.NOT_DELIVERED,
            event,
            now,
            maybe=outcome.maybe_delivered,
            recipients=outcome.failed_recipients,
            cause=outcome.cause,
        )
        tries = notice.tries + 1
        due = now + timedelta(seconds=retry_wait(tries, outcome.maybe_delivered))
        queue(
            session,
            event,
            now,
            recipients=tuple(outcome.failed_recipients) or notice.recipients,
            due=due,
            held=notice.held,
            last_alert_at=notice.last_alert_at,
            tries=tries,
            sent_again=notice.sent_again or outcome.maybe_delivered,
            first_failure=notice.first_failure or (None if outcome.maybe_delivered else now),
            reason="RETRY",
            first_row_id=notice.first_row_id,
            file=notice.file,
            health=notice.health,
            summary=notice.summary,
        )
        next_due = due if next_due is None or due < next_due else next_due
        if notice.counts_as_run:
            metrics.incr("retried")
        log.warning(
            "Signal alert for %s not delivered via connection %r (attempt %d): %s; %s in %g s.",
            describe_notice(notice),
            conn_id,
            tries,
            outcome.cause,
            "sending it again once, marked as a possible repeat," if outcome.maybe_delivered else "retrying",
            (due - now).total_seconds(),
        )
    return next_due


def _newest_row_id(session: Any, run_id: str) -> int | None:
    from airflow.models.log import Log
    from sqlalchemy import func, select

    query = select(func.max(Log.id)).where(
        Log.dag_id.is_(None), Log.run_id == run_id, Log.event.in_(records.EVENTS)
    )
    return session.scalar(query)


def requeue_orphans(
    session: Any, now: datetime, max_age: float, gone: Callable[[dict[str, Any] | None], bool]
) -> int:
    """Queue again, to be sent once more marked as a possible repeat, every file's (or health
    incident's) notice whose
    last row is an attempt without an outcome past its deadline or whose owner ``gone`` says no
    longer runs; how many. Each attempt's row is locked first (``SKIP LOCKED``), so with several
    schedulers one of them queues it."""
    from airflow.models.log import Log
    from sqlalchemy import or_

    query = records.select_rows().where(
        Log.event.in_(records.EVENTS),
        Log.dag_id.is_(None),
        or_(
            *(
                Log.run_id.like(f"{prefix}%")
                for prefix in (file_notices.RUN_PREFIX, health_notices.RUN_PREFIX, summary_text.RUN_PREFIX)
            )
        ),
        Log.dttm >= rows_since(now, max_age),
        Log.owner == records.AUDIT_OWNER,
    )
    newest: dict[str, records.Row] = {}
    queued: dict[str, records.Row] = {}
    for raw in session.execute(query.order_by(Log.id)):
        row = records.Row(
            int(raw.id), str(raw.event), raw.run_id, records.aware(raw.dttm), records.parse_extra(raw.extra)
        )
        newest[row.run_id or ""] = row
        if row.event == records.QUEUED:
            queued[row.run_id or ""] = row
    orphans = [
        (row, queued[run_id])
        for run_id, row in newest.items()
        if row.event == records.ATTEMPT
        and run_id in queued
        and (now >= (row.time("deadline") or now) or gone(row.extra.get("owner")))
    ]
    locked = _lock(session, [row.id for row, _ in orphans])
    requeued = 0
    for attempt, last_queued in orphans:
        if attempt.id not in locked or _newest_row_id(session, attempt.run_id or "") != attempt.id:
            continue  # another scheduler queues (or queued) it
        notice = _notice(last_queued, "")
        if notice.counts_as_run:
            continue
        recipients = attempt.extra.get("recipients")
        queue(
            session,
            notice.event,
            now,
            recipients=tuple(recipients) if isinstance(recipients, list) else notice.recipients,
            due=now,
            tries=notice.tries + 1,
            sent_again=True,
            first_failure=notice.first_failure,
            reason="OWNER_GONE",
            first_row_id=notice.first_row_id,
            file=notice.file,
            health=notice.health,
            summary=notice.summary,
        )
        log.warning(
            "Signal alert for %s: the process sending it no longer runs (%s); its message may have "
            "arrived, so it is sent once more, marked as a possible repeat.",
            describe_notice(notice),
            attempt.extra.get("owner"),
        )
        requeued += 1
    return requeued
