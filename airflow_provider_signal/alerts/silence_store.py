"""Where silences live: one Airflow Variable each, ``signal_silence.<id>``, in the metadata database.

Why Variables: every scheduler, the API server and the ``airflow-signal`` command read the same
table without a migration of our own; ``airflow db clean`` leaves Variables alone (it cleans the
audit log, where alert records live, but a silence must outlive it); a Variable is encrypted with
Airflow's Fernet key when one is set, and shows in the UI's Variables list, so nothing is hidden.
One row per silence means two people making silences at once never write the same row, and
ending one early takes a lock on its row, so no edit is lost.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow_provider_signal.alerts.silences import Silence

log = logging.getLogger(__name__)

PREFIX = "signal_silence."
DESCRIPTION = "A silence of [signal_alerts] (airflow-signal silence, or the Signal alerts page)."


def save_new(session: Any, silence: Silence) -> None:
    """Store a new silence (the caller's transaction commits it)."""
    from airflow.models.variable import Variable

    variable = Variable(key=PREFIX + silence.id, val=silence.to_json(), description=DESCRIPTION)
    session.add(variable)
    session.flush()


def load(session: Any) -> list[Silence]:
    """Every stored silence, oldest first; a Variable that is not a silence is skipped (logged)."""
    from airflow.models.variable import Variable
    from sqlalchemy import select

    found: list[Silence] = []
    for variable in session.scalars(select(Variable).where(Variable.key.like(PREFIX + "%"))):
        try:
            found.append(Silence.from_json(variable.val or ""))
        except ValueError as error:
            log.warning("Signal alerts: Variable %r is not a silence (%s); ignored.", variable.key, error)
    return sorted(found, key=lambda s: (s.created_at, s.id))


def end_early(session: Any, silence_id: str, now: datetime, by: str) -> Silence:
    """End a silence now, under a lock on its row; ``LookupError`` if there is none by that id."""
    from airflow.models.variable import Variable
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select

    query = with_row_locks(select(Variable).where(Variable.key == PREFIX + silence_id), session=session)
    variable = session.scalars(query).first()
    if variable is None:
        raise LookupError(f"no silence {silence_id!r}: `airflow-signal silence list` shows their ids.")
    silence = Silence.from_json(variable.val or "")
    if silence.end <= now:
        return silence  # ended already: nothing to change
    ended = silence.ended_early(now, by)
    variable.val = ended.to_json()
    return ended
