"""What the Signal alerts page does, apart from any web framework (so 3.x and 2.11 share it).

The form read into a silence (each bad field named), which DAGs a silence covers (the auth
manager is asked about those), the test message (at most one a minute, whoever presses it), and
the words shown after a redirect. Who may do what is never decided here: the page's view asks
Airflow's auth manager.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.silences import SILENCEABLE, Silence, new_silence
from airflow_provider_signal.errors import SignalInputError

log = logging.getLogger(__name__)

LENGTHS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1)}
"""The form's "for" choices; ``until`` takes a time instead."""
TEST_EVENT = "signal_test_message"
"""The audit-log row of each test message sent from the page (who, when): the once-a-minute claim."""
TEST_INTERVAL = timedelta(minutes=1)
DONE = {
    "silenced": "Silence made.",
    "ended": "Silence ended.",
    "tested": "Test message sent.",
}
"""The words shown after a form's redirect (``?done=``); anything else shows nothing."""


class TooSoonError(Exception):
    """A test message was sent less than a minute ago (by anyone)."""

    def __init__(self, seconds_left: int) -> None:
        super().__init__(f"A test message was sent less than a minute ago; try again in {seconds_left} s.")
        self.seconds_left = seconds_left


def parse_until(text: str) -> datetime:
    """The form's "until" field (``2026-12-07T22:00``, UTC unless it says)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SignalInputError(
            f"until: {text[:40]!r} is not a time; give it as 2026-12-07T22:00 (UTC)."
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def silence_from_form(form: Mapping[str, Any], kinds: Sequence[str], author: str, now: datetime) -> Silence:
    """A new silence from the page's form: ``reason``, ``dag_id``, ``tag``, ``length`` (1h, 4h, 1d
    or ``until``) and ``until``; ``kinds`` are the ticked boxes. The author is the logged-in user,
    never a field. :class:`SignalInputError` names the field that is wrong."""
    length = str(form.get("length") or "")
    if length == "until":
        ends_at = parse_until(str(form.get("until") or ""))
    elif length in LENGTHS:
        ends_at = now + LENGTHS[length]
    else:
        raise SignalInputError(f"for: choose 1 h, 4 h, 1 day or until a time ({length[:20]!r} given).")
    unknown = [kind for kind in kinds if kind not in SILENCEABLE]
    if unknown:
        raise SignalInputError(f"kind: {unknown[0][:40]!r} is not one of {', '.join(SILENCEABLE)}.")
    return new_silence(
        reason=str(form.get("reason") or ""),
        author=author,
        now=now,
        ends_at=ends_at,
        dag_id_pattern=str(form.get("dag_id") or ""),
        tag=str(form.get("tag") or ""),
        kinds=kinds,
    )


def dags_covered(session: Any, silence: Silence) -> list[str] | None:
    """The DAG ids a silence mutes today, for the auth manager's question "may this user edit
    them?"; ``None`` means every DAG: no DAG or tag filter, or a filter no DAG matches yet (it
    would mute DAGs added later, so it needs the right to edit them all)."""
    if not silence.dag_id_pattern and not silence.tag:
        return None
    from airflow.models.dag import DagModel, DagTag
    from sqlalchemy import select

    query = select(DagModel.dag_id)
    if silence.tag:
        query = query.where(DagModel.dag_id.in_(select(DagTag.dag_id).where(DagTag.name == silence.tag)))
    found = sorted(
        dag_id
        for dag_id in session.scalars(query)
        if not silence.dag_id_pattern or fnmatch.fnmatchcase(dag_id, silence.dag_id_pattern)
    )
    return found or None


def find(silences: Sequence[Silence], silence_id: str) -> Silence:
    """The stored silence by that id; ``LookupError`` when there is none."""
    for silence in silences:
        if silence.id == silence_id:
            return silence
    raise LookupError(f"no silence {silence_id[:40]!r}: it may have been removed; reload the page.")


def done_message(code: str | None) -> str:
    return DONE.get(code or "", "")


@dataclass(frozen=True)
class TestResult:
    conn_id: str
    recipients: int


def claim_test_message(session: Any, now: datetime, user: str) -> None:
    """Record a test message about to be sent, unless one was sent within the last minute.

    Under the decision lock, so two presses in two API server workers send one message; the
    claim commits with the caller's transaction. :class:`TooSoonError` when it is too soon."""
    from airflow.models.log import Log
    from sqlalchemy import select

    from airflow_provider_signal.alerts import decision_lock
    from airflow_provider_signal.alerts.records import aware

    decision_lock.take(session, separate=True)
    last = session.scalar(select(Log.dttm).where(Log.event == TEST_EVENT).order_by(Log.id.desc()).limit(1))
    last_at = aware(last)
    if last_at is not None and now - last_at < TEST_INTERVAL:
        raise TooSoonError(max(1, int((TEST_INTERVAL - (now - last_at)).total_seconds()) + 1))
    row = Log(event=TEST_EVENT, owner=user[:500], extra='{"by": "the Signal alerts page"}')
    row.dttm = now
    session.add(row)
    session.flush()


def send_test_message(settings: AlertSettings, user: str) -> TestResult:
    """Send the test message through ``[signal_alerts] conn_id`` to its destinations (the hook's
    errors, which name the connection and never a password, are the caller's to show)."""
    from airflow_provider_signal.hooks.signal import SignalHook

    destinations = list(settings.destinations) or None
    hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
    try:
        results = hook.send_message(
            f"✅ Test message from the Signal alerts page (sent by {user}) via connection "
            f"{settings.conn_id!r}: alerts can reach you.",
            destinations,
        )
    finally:
        hook.close()
    log.info("Signal alerts: test message sent by %s via %r", user, settings.conn_id)
    return TestResult(settings.conn_id, len(results))
