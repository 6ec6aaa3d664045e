"""One lock for decisions that no row of Airflow's own can serialise: a health incident opened
by several watchers at once, a silence's summary decided by several schedulers.

:func:`take` locks and writes the sentinel rows of the audit log (``signal_alerts_lock``) in the
caller's transaction: on PostgreSQL and MySQL a second taker waits for the first one's commit (a
row lock), on SQLite for its write transaction; either way it then reads what the first decided.
"""

from __future__ import annotations

import contextlib
from typing import Any

from airflow_provider_signal.alerts.records import AUDIT_OWNER

LOCK = "signal_alerts_lock"


def ensure_row(bind: Any = None) -> None:
    """Create the sentinel row once, committed on its own; with ``bind`` (an engine) in a session
    of its own, never the process's scoped one, whose objects a web request may still use."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    if bind is None:
        with create_session() as session:
            if session.scalar(select(Log.id).where(Log.event == LOCK).limit(1)) is None:
                session.add(Log(event=LOCK, owner=AUDIT_OWNER, extra="{}"))
        return
    with contextlib.closing(Session(bind=bind)) as own:
        if own.scalar(select(Log.id).where(Log.event == LOCK).limit(1)) is None:
            own.add(Log(event=LOCK, owner=AUDIT_OWNER, extra="{}"))
            own.commit()


def take(session: Any, separate: bool = False) -> None:
    """Hold the lock until ``session``'s transaction ends; ``separate``: the sentinel row, if
    missing, is made in a session of its own (a web request's, whose scoped session holds the user).

    Every sentinel row is locked, in id order: two processes that each created one at the same
    moment still share one of them (each sees its own, committed before it locks)."""
    from airflow.models.log import Log
    from airflow.utils.sqlalchemy import with_row_locks
    from sqlalchemy import select, update

    ensure_row(session.get_bind() if separate else None)
    rows = with_row_locks(select(Log.id).where(Log.event == LOCK).order_by(Log.id), session=session)
    ids = list(session.scalars(rows))
    session.execute(update(Log).where(Log.id.in_(ids)).values(extra=Log.extra))  # SQLite: its write lock
