"""Airflow's own health, as pure functions: what is wrong now (:func:`problems`) and what that
changes for the incidents already open (:func:`changes`).

A component kind is *down* when none of its instances is running with a heartbeat younger than
``health_threshold``: the scheduler always counts; a DAG processor or a triggerer only where one
has heartbeated in the last day, where an incident about it is open, or (the triggerer) where
deferred tasks wait. Schedulers are *degraded* when fewer heartbeat than the most that ran at
once in the last day. Tasks are *stuck* when they have waited in ``queued`` longer than
``stuck_after``: no worker takes them. Each problem is an incident with one message when it
starts, a reminder every ``repeat_interval`` while it lasts, and one when it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

SCHEDULER, DAG_PROCESSOR, TRIGGERER = "scheduler", "dag_processor", "triggerer"
COMPONENTS = (SCHEDULER, DAG_PROCESSOR, TRIGGERER)
STUCK = "tasks_stuck"
DAY = 24 * 3600.0

Action = Literal["open", "remind", "close"]


@dataclass(frozen=True)
class Beat:
    """One Airflow job (a scheduler, DAG processor or triggerer process) as the ``job`` table has it."""

    component: str
    job_id: int
    hostname: str
    start: datetime | None
    beat: datetime | None
    running: bool


@dataclass(frozen=True)
class QueuedTasks:
    """Tasks waiting in ``queued`` longer than ``stuck_after``, on one queue."""

    queue: str
    count: int
    oldest: datetime


@dataclass(frozen=True)
class Observation:
    now: datetime
    beats: tuple[Beat, ...] = ()
    stuck: tuple[QueuedTasks, ...] = ()
    deferred: int = 0
    executor: str = ""


@dataclass(frozen=True)
class Problem:
    """What is wrong: ``key`` names the incident (``scheduler_down``, ``scheduler_degraded``,
    ``triggerer_down``, ``dag_processor_down``, ``tasks_stuck``)."""

    key: str
    component: str
    since: datetime | None  # the last heartbeat seen (down), the oldest queued task (stuck)
    healthy: int = 0
    expected: int = 0
    executor: str = ""
    queues: tuple[tuple[str, int], ...] = ()
    tasks: int = 0


@dataclass(frozen=True)
class Incident:
    """An incident as recorded: opened (row ``opened_id``), last decided on at ``last_told``;
    ``announced``: a message about it was queued (not all silenced)."""

    key: str
    opened_id: int
    opened_at: datetime
    last_told: datetime
    problem: Problem
    announced: bool = True


@dataclass(frozen=True)
class Change:
    action: Action
    key: str
    problem: Problem  # now (open, remind), or as it was when opened (close)
    incident: Incident | None = None
    extra: dict[str, object] = field(default_factory=dict)


def healthy(beat: Beat, now: datetime, threshold: float) -> bool:
    return beat.running and beat.beat is not None and now - beat.beat <= timedelta(seconds=threshold)


def most_at_once(beats: list[Beat], now: datetime) -> int:
    """The most instances that heartbeated at the same time in the last day: each job counts
    from its start to its last heartbeat (a killed one ends there, its restart begins later)."""
    day_ago = now - timedelta(seconds=DAY)
    points: list[tuple[datetime, int]] = []
    for beat in beats:
        if beat.beat is None or beat.beat < day_ago:
            continue
        start = max(beat.start or beat.beat, day_ago)
        points += [(start, 1), (beat.beat, -1)]
    most = running = 0
    for _, step in sorted(points, key=lambda point: (point[0], -point[1])):
        running += step
        most = max(most, running)
    return most


def problems(
    seen: Observation,
    threshold: float,
    open_keys: frozenset[str] = frozenset(),
    watching_since: datetime | None = None,
) -> dict[str, Problem]:
    """Every problem of ``seen``, by incident key; ``open_keys``: incidents already open (what
    they are about still counts as expected), ``watching_since``: when a never-seen scheduler's
    absence starts to count."""
    now = seen.now
    day_ago = now - timedelta(seconds=DAY)
    found: dict[str, Problem] = {}
    for component in COMPONENTS:
        beats = [beat for beat in seen.beats if beat.component == component]
        alive = [beat for beat in beats if healthy(beat, now, threshold)]
        down_key = f"{component}_down"
        expected = (
            component == SCHEDULER
            or down_key in open_keys
            or any(beat.beat is not None and beat.beat >= day_ago for beat in beats)
            or (component == TRIGGERER and seen.deferred > 0)
        )
        if not expected:
            continue
        last = max((beat.beat for beat in beats if beat.beat is not None), default=None)
        if not alive:
            since = last or watching_since
            if since is None or now - since > timedelta(seconds=threshold):
                found[down_key] = Problem(down_key, component, since, expected=1)
            if component == SCHEDULER and "scheduler_degraded" in open_keys:  # worse, not over
                found["scheduler_degraded"] = Problem("scheduler_degraded", component, since, expected=1)
            continue
        if component == SCHEDULER:
            most = most_at_once(beats, now)
            if len(alive) < most:
                stale = [b.beat for b in beats if b.beat is not None and not healthy(b, now, threshold)]
                found["scheduler_degraded"] = Problem(
                    "scheduler_degraded",
                    component,
                    max(stale, default=None),
                    healthy=len(alive),
                    expected=most,
                )
    if seen.stuck:
        queues = tuple(sorted(((q.queue, q.count) for q in seen.stuck), key=lambda item: (-item[1], item[0])))
        found[STUCK] = Problem(
            STUCK,
            "workers",
            min(q.oldest for q in seen.stuck),
            executor=seen.executor,
            queues=queues,
            tasks=sum(q.count for q in seen.stuck),
        )
    return found


def changes(
    incidents: dict[str, Incident], found: dict[str, Problem], now: datetime, repeat_interval: float
) -> list[Change]:
    """What to tell: an incident opens for a new problem, is reminded of every ``repeat_interval``
    (0: never) while it lasts, and at once when its opening was silenced (the watcher tells it
    when no silence holds it any more), and closes when its problem is gone."""
    told: list[Change] = []
    for key, problem in sorted(found.items()):
        incident = incidents.get(key)
        if incident is None:
            told.append(Change("open", key, problem))
        elif not incident.announced or (
            repeat_interval > 0 and now - incident.last_told >= timedelta(seconds=repeat_interval)
        ):
            told.append(Change("remind", key, problem, incident))
    for key, incident in sorted(incidents.items()):
        if key not in found:
            told.append(Change("close", key, incident.problem, incident))
    return told
