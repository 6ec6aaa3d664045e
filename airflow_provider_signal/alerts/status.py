"""What the alerting is doing, read from the rows the sender writes (so it cannot disagree with it):
what waits in the outbox and why, what was delivered or given up lately, which DAGs are inside
their cooldown and how many runs they hold back, the health incidents open, and the silences.
``airflow-signal status`` prints it; every read goes through an index Airflow has on the audit
log (event, time, DAG).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import health_store, outbox, records, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.health_text import HealthReport, problem_line
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.silences import Silence

RECENT_HOURS = 24
RECENT_MAX = 50
"""Delivered and given-up alerts shown, newest first."""


@dataclass(frozen=True)
class Pending:
    what: str  # DAG 'x' run 'y', or DAG file 'x.py' (broken)
    kind: str
    recipients: tuple[str, ...]  # () : the connection's default recipients
    due: datetime
    tries: int
    cause: str  # why the last attempt did not arrive ("" before any attempt)


@dataclass(frozen=True)
class Recent:
    at: datetime
    outcome: str  # delivered, silenced, given up
    what: str
    kind: str
    detail: str  # why it was given up, or the silence that kept it quiet


@dataclass(frozen=True)
class Cooling:
    dag_id: str
    alerted_at: datetime
    until: datetime
    held: int  # runs held back since that alert: counted in the next one


@dataclass(frozen=True)
class OpenIncident:
    key: str  # scheduler_down, scheduler_degraded, triggerer_down, dag_processor_down, tasks_stuck
    opened_at: datetime
    what: str  # the incident's line, as its message says it


@dataclass(frozen=True)
class Status:
    at: datetime
    conn_id: str
    pending: list[Pending] = field(default_factory=list)
    recent: list[Recent] = field(default_factory=list)
    cooling: list[Cooling] = field(default_factory=list)
    silences: list[Silence] = field(default_factory=list)
    incidents: list[OpenIncident] = field(default_factory=list)


def _what(dag_id: str | None, run_id: str | None, path: object, incident: object = None) -> str:
    if dag_id:
        return f"DAG {dag_id!r} run {run_id!r}"
    if isinstance(incident, str):
        return f"health incident {incident!r}"
    return f"DAG file {path!r}" if isinstance(path, str) else "a DAG file"


def _incidents(session: Any, now: datetime) -> list[OpenIncident]:
    found = []
    for incident in health_store.read_incidents(session).values():
        p = incident.problem
        report = HealthReport(
            "open", p.key, p.component, p.since, now, healthy=p.healthy, expected=p.expected,
            executor=p.executor, queues=p.queues, tasks=p.tasks,
        )  # fmt: skip
        found.append(OpenIncident(incident.key, incident.opened_at, problem_line(report)))
    return sorted(found, key=lambda item: item.opened_at)


def read_status(session: Any, settings: AlertSettings, now: datetime) -> Status:
    """Everything ``airflow-signal status`` shows, at ``now``."""
    notices = outbox.open_notices(session, now, settings.max_delivery_age)
    since = outbox.rows_since(now, settings.max_delivery_age)
    states = records.run_states(session, [n.event for n in notices], since)
    pending = [
        Pending(
            outbox.describe_notice(n),
            n.kind,
            n.recipients,
            n.due,
            n.tries,
            states[(n.event.dag_id, n.event.run_id, n.event.clear_number)].last_cause,
        )
        for n in sorted(notices, key=lambda notice: notice.due)
    ]
    return Status(
        now,
        settings.conn_id,
        pending,
        _recent(session, now),
        _cooling(session, now, settings.cooldown),
        [s for s in silence_store.load(session) if _shown(s, now)],
        _incidents(session, now),
    )


def _shown(silence: Silence, now: datetime) -> bool:
    """Active, upcoming, or ended within the last day."""
    return silence.state(now) != "ended" or silence.end >= now - timedelta(hours=RECENT_HOURS)


def _recent(session: Any, now: datetime) -> list[Recent]:
    from airflow.models.log import Log
    from sqlalchemy import select

    delivered = (*records.DELIVERED.values(), records.FILE_DELIVERED, records.HEALTH_DELIVERED)
    query = (
        select(Log.event, Log.dag_id, Log.run_id, Log.dttm, Log.extra)
        .where(
            Log.event.in_((*delivered, records.SILENCED, records.GIVEN_UP)),
            Log.dttm >= now - timedelta(hours=RECENT_HOURS),
        )
        .order_by(Log.id.desc())
        .limit(RECENT_MAX)
    )
    found: list[Recent] = []
    for row in session.execute(query):
        extra = records.parse_extra(row.extra)
        if row.event == records.GIVEN_UP:
            outcome, detail = "given up", _why(extra.get("why"))
        elif row.event == records.SILENCED:
            outcome, detail = "silenced", f"silence {extra.get('silence')}: {extra.get('reason')}"
        else:
            outcome, detail = "delivered", ""
        found.append(
            Recent(
                records.aware(row.dttm) or now,
                outcome,
                _what(row.dag_id, row.run_id, extra.get("path"), extra.get("incident")),
                str(extra.get("notice_kind") or extra.get("kind") or ""),
                detail,
            )
        )
    return found


def _why(name: object) -> str:
    """A given-up row's reason in words (its ``why`` is a :class:`.decision.Reason` name)."""
    from airflow_provider_signal.alerts.decision import Reason

    try:
        return Reason[str(name)].value
    except KeyError:
        return str(name or "")


def _cooling(session: Any, now: datetime, cooldown: float) -> list[Cooling]:
    """DAGs whose last delivered alert is a failure within ``cooldown`` seconds (a recovery ends it)."""
    from airflow.models.log import Log
    from sqlalchemy import select

    if cooldown <= 0:
        return []
    query = (
        select(Log.id, Log.event, Log.dag_id, Log.dttm, Log.extra)
        .where(Log.event.in_(records.DELIVERED.values()), Log.dttm >= now - timedelta(seconds=cooldown))
        .order_by(Log.id)
    )
    last: dict[str, Any] = {}
    for row in session.execute(query):
        last[str(row.dag_id)] = row
    cooling: list[Cooling] = []
    for dag_id, row in sorted(last.items()):
        if row.event != records.DELIVERED[FAILURE]:
            continue
        extra = records.parse_extra(row.extra)
        at = records.parse_time(extra.get("delivered_at")) or records.aware(row.dttm) or now
        until = at + timedelta(seconds=cooldown)
        if until <= now:
            continue
        after = extra.get("queued_id")
        counted_after = after if isinstance(after, int) and not isinstance(after, bool) else int(row.id)
        cooling.append(Cooling(dag_id, at, until, records.held_back_since(session, dag_id, counted_after)))
    return cooling


def to_json(status: Status) -> dict[str, Any]:
    """The status as JSON-ready values (times in ISO 8601, UTC)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    body = {
        "at": status.at,
        "conn_id": status.conn_id,
        "pending": [asdict(item) for item in status.pending],
        "recent": [asdict(item) for item in status.recent],
        "cooling": [asdict(item) for item in status.cooling],
        "incidents": [asdict(item) for item in status.incidents],
        "silences": [
            {**json.loads(silence.to_json()), "state": silence.state(status.at)}
            for silence in status.silences
        ],
    }
    return dict(plain(body))


def _clock(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def as_text(status: Status) -> list[str]:
    """The status as lines for a terminal."""
    lines = [f"Signal alerts at {_clock(status.at)}, via connection {status.conn_id!r}"]
    lines.append(f"Waiting in the outbox: {len(status.pending)}")
    for item in status.pending:
        to = ", ".join(item.recipients) if item.recipients else "the default recipients"
        tries = f", {item.tries} attempt(s) failed (last: {item.cause})" if item.tries else ""
        lines.append(f"  {item.what} ({item.kind}) to {to}, due {_clock(item.due)}{tries}")
    lines.append(f"Delivered, silenced or given up in the last {RECENT_HOURS} h: {len(status.recent)}")
    for recent in status.recent:
        why = f": {recent.detail}" if recent.detail else ""
        lines.append(f"  {_clock(recent.at)}  {recent.outcome:9}  {recent.what} ({recent.kind}){why}")
    lines.append(f"Inside their cooldown: {len(status.cooling)}")
    for dag in status.cooling:
        lines.append(
            f"  DAG {dag.dag_id!r}: alerted {_clock(dag.alerted_at)}, until {_clock(dag.until)}, "
            f"{dag.held} run(s) held back"
        )
    lines.append(f"Health incidents open: {len(status.incidents)}")
    for incident in status.incidents:
        lines.append(f"  since {_clock(incident.opened_at)}  {incident.what}")
    lines.append(f"Silences (active, upcoming, ended in the last {RECENT_HOURS} h): {len(status.silences)}")
    for silence in status.silences:
        lines.append(
            f"  {silence.id}  {silence.state(status.at)}  {silence.describe()}, "
            f"{silence.starts_at:%Y-%m-%d %H:%M} to {silence.end:%Y-%m-%d %H:%M} UTC, "
            f"{silence.reason!r} by {silence.author}"
        )
    return lines
