"""The decision stage: one finished run in, its outcome recorded or its notice queued in the outbox.

Under the DAG's row lock (:func:`.records.lock_dag`): read what is recorded, ask the pure rule
(:func:`.decision.decide`), then either record the outcome (held back, muted, silenced, skipped, given up)
or queue a notice (:func:`.outbox.queue`) that the grouping sends with others. The caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import metrics, outbox, owners, records, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.decision import Decision, Outcome, Reason, Rules, RunFacts, decide
from airflow_provider_signal.alerts.delivery import describe
from airflow_provider_signal.alerts.message import RunEvent
from airflow_provider_signal.alerts.silences import Silence, matching

log = logging.getLogger(__name__)


def triage(session: Any, settings: AlertSettings, event: RunEvent, now: datetime) -> datetime | None:
    """Decide on ``event``; the time its queued notice is due, or ``None`` when none was queued."""
    records.lock_dag(session, event.dag_id)
    if event.manual and not settings.alert_on_manual:
        if not records.run_state(session, event).record.decided:
            records.record(session, records.SKIPPED, event, now, why="set by hand")
        log.info("Signal alert for %s skipped: set by hand.", describe(event))
        return None
    state = records.run_state(session, event)
    record = state.record
    if record.open_until is not None and now < record.open_until:
        gone = owners.is_gone(session, owners.parse(state.owner))
        if gone:
            log.warning(
                "Signal alert for %s: the process sending it no longer runs (%s); its message may have "
                "arrived, so it is sent once more, marked as a possible repeat.",
                describe(event),
                state.owner,
            )
        record = replace(record, owner_gone=gone)
    tags = list(event.tags) if event.tags is not None else records.dag_tags(session, event.dag_id)
    dag = records.dag_state(session, event, now, settings.max_delivery_age)
    silence = matching(silence_store.load(session), event.kind, [event.dag_id], tags, now)
    facts = RunFacts(
        event.kind,
        records.aware(event.end_date) or now,
        settings.is_muted(event.dag_id, tags),
        silenced=silence is not None,
    )
    decision = decide(dag.history, record, facts, Rules(settings.cooldown, settings.max_delivery_age), now)
    if not decision.sends:
        _record_outcome(session, event, decision, now, state.last_cause, silence)
        return None
    recipients = state.recipients if state.recipients else tuple(settings.recipients_for(tags))
    fresh = record.attempts == 0
    due = now + timedelta(seconds=settings.group_wait if fresh else 0)
    outbox.queue(
        session,
        event,
        now,
        recipients=tuple(recipients),
        due=due,
        held=records.held_back_since(session, event.dag_id, dag.last_alert_id),
        last_alert_at=dag.history.last_delivered_at,
        tries=record.attempts,
        sent_again=decision.outcome is Outcome.SEND_AGAIN,
        first_failure=record.first_failure,
        reason=decision.reason.name,
    )
    return due


def _record_outcome(
    session: Any, event: RunEvent, decision: Decision, now: datetime, cause: str, silence: Silence | None
) -> None:
    reason = decision.reason
    if decision.outcome is Outcome.SKIP:
        quiet = reason in (Reason.ALREADY_DECIDED, Reason.IN_OUTBOX, Reason.IN_FLIGHT)
        log.log(
            logging.DEBUG if quiet else logging.INFO,
            "Signal alert for %s not sent: %s.",
            describe(event),
            reason.value,
        )
        return
    if decision.outcome is Outcome.HOLD_BACK:
        records.record(session, records.HELD, event, now, why=reason.name)
        metrics.incr("held_back")
        log.info("Signal alert for %s %s; the next alert will count it.", describe(event), reason.value)
    elif decision.outcome is Outcome.MUTE:
        records.record(session, records.MUTED, event, now)
        metrics.incr("muted")
        log.info("Signal alert for %s not sent: the DAG is muted.", describe(event))
    elif decision.outcome is Outcome.SILENCE and silence is not None:
        records.record(session, records.SILENCED, event, now, silence=silence.id, reason=silence.reason)
        metrics.incr("silenced")
        log.info(
            "Signal alert for %s not sent: silenced by %r (silence %s by %s, until %s).",
            describe(event),
            silence.reason,
            silence.id,
            silence.author,
            silence.end.isoformat(timespec="minutes"),
        )
    else:
        records.record(session, records.GIVEN_UP, event, now, why=reason.name, cause=cause)
        metrics.incr("given_up")
        log.error(
            "Signal alert for %s given up: %s%s.",
            describe(event),
            reason.value,
            f" (last cause: {cause})" if cause else "",
        )
