"""The grouping, as a pure function: which queued notices go out now, together, and when to look again.

Notices of one kind for the same recipients form a group (:attr:`.outbox.Notice.group`; two
routes never share a message). A group goes out when its earliest notice is due (its
``group_wait`` after it was queued, or its retry's back-off) and at least ``group_interval``
seconds after the group's last delivered message; then every notice of the group waiting at
that moment goes in the one message, the ones not yet due included (a fresh failure takes an
older alert's retry along, and the other way round). A recovery waits while a failure notice of
its DAG is still in the outbox, and a fixed file while its broken notice is: neither arrives
before the problem it ends. DAG files' notices form groups of their own kinds (``import_error``,
``import_fixed``), so they never share a message with runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_provider_signal.alerts.outbox import GroupKey, Notice, group_name


@dataclass(frozen=True)
class Timing:
    wait: float  # group_wait: how long a new notice waits for others
    interval: float  # group_interval: the least time between two messages of a group


def due_at(notices: list[Notice], last_delivered: datetime | None, timing: Timing) -> datetime:
    """When a group of ``notices`` (not empty) may go out."""
    due = min(notice.due for notice in notices)
    if last_delivered is not None:
        due = max(due, last_delivered + timedelta(seconds=timing.interval))
    return due


def ready_groups(
    notices: list[Notice],
    last_delivered: Mapping[str, datetime],
    timing: Timing,
    now: datetime,
    force: bool = False,
) -> tuple[list[list[Notice]], datetime | None]:
    """The groups to send now (each oldest notice first) and when the next one is due (or None).

    ``force``: every group now, whatever its timing (a process stopping sends what it can).
    """
    open_problems = {notice.topic for notice in notices if not notice.ends_a_problem}
    groups: dict[GroupKey, list[Notice]] = {}
    waiting = False
    for notice in notices:
        if notice.ends_a_problem and notice.topic in open_problems:
            waiting = True  # it goes after its failure's (or breakage's) message
            continue
        groups.setdefault(notice.group, []).append(notice)
    ready: list[list[Notice]] = []
    next_due: datetime | None = None
    for key, members in groups.items():
        members.sort(key=lambda notice: (notice.event.end_date or notice.due, notice.row_id))
        due = due_at(members, last_delivered.get(group_name(key)), timing)
        if force or due <= now:
            ready.append(members)
        elif next_due is None or due < next_due:
            next_due = due
    if waiting and ready:
        next_due = now  # look again once this round's failures are sent
    return ready, next_due
