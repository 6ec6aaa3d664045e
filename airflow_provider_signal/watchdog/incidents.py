"""What a check means (pure: the clock and the state are passed in).

An incident is one thing wrong: Airflow unreachable (key ``airflow``), or one component reported
unhealthy (key: its name in the health report). It opens on the first bad check, is announced
once ``threshold`` checks in a row have been bad, and ends on the first good check; an incident
that ends before it was announced says nothing (a restart within the threshold is not news).
Each announced incident gets exactly two messages, its start and its end, each recorded only
once sent, so a failed send is tried again at the next check and a restart repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from airflow_provider_signal.formatting import format_duration
from airflow_provider_signal.watchdog.probe import COMPONENT_NAMES, Check, shown_url

UNREACHABLE = "airflow"


@dataclass(frozen=True)
class Incident:
    since: datetime
    bad_checks: int
    detail: str = ""
    announced: bool = False
    ended: datetime | None = None  # its end, while the "back" message is still to be sent


State = dict[str, Incident]


@dataclass(frozen=True)
class Message:
    key: str
    start: bool  # True: the incident's start; False: its end
    text: str


def _bad(state: State, key: str, now: datetime, detail: str) -> Incident:
    known = state.get(key)
    if known is None:
        return Incident(since=now, bad_checks=1, detail=detail)
    return replace(known, bad_checks=known.bad_checks + 1, detail=detail, ended=None)


def _good(state: State, key: str, now: datetime) -> Incident | None:
    known = state.get(key)
    if known is None or not known.announced:
        return None  # never announced: forgotten
    return known if known.ended else replace(known, ended=now)


def advance(state: State, check: Check, now: datetime) -> State:
    """The state after ``check``. While Airflow cannot be asked, its components' incidents stay as
    they were: nothing is known of them."""
    after = dict(state)
    updates: dict[str, Incident | None] = {}
    if check.problem is not None:
        updates[UNREACHABLE] = _bad(state, UNREACHABLE, now, check.problem)
    else:
        updates[UNREACHABLE] = _good(state, UNREACHABLE, now)
        for name, healthy in check.healthy.items():
            beat = check.heartbeats.get(name)
            detail = f"last heartbeat {beat}" if beat else ""
            updates[name] = _good(state, name, now) if healthy else _bad(state, name, now, detail)
    for key, incident in updates.items():
        if incident is None:
            after.pop(key, None)
        else:
            after[key] = incident
    return after


def _what(key: str) -> str:
    return f"Airflow {COMPONENT_NAMES.get(key, key)}"


def _start_text(key: str, incident: Incident, now: datetime, url: str) -> str:
    since = f"since {incident.since:%H:%M} UTC ({format_duration((now - incident.since).total_seconds())})"
    if key == UNREACHABLE:
        checks = f"{incident.bad_checks} checks in a row"
        return f"🚨 Airflow unreachable: {url} ({incident.detail}), {since}, {checks}."
    detail = f"; {incident.detail}" if incident.detail else ""
    return f"🚨 {_what(key)} unhealthy, {since}{detail}. Reported by {url}."


def _end_text(key: str, incident: Incident, url: str) -> str:
    assert incident.ended is not None
    lasted = format_duration((incident.ended - incident.since).total_seconds())
    if key == UNREACHABLE:
        return f"✅ Airflow reachable again: {url}, after {lasted}."
    return f"✅ {_what(key)} healthy again, after {lasted}. Reported by {url}."


def messages(state: State, threshold: int, now: datetime, url: str, where: str) -> list[Message]:
    """The messages due: starts of incidents bad ``threshold`` checks in a row, ends of announced
    ones. ``url`` is shown without a password; ``where`` names the watchdog's host."""
    shown = shown_url(url)
    due: list[Message] = []
    for key, incident in sorted(state.items()):
        if incident.ended is not None:
            due.append(Message(key, False, _end_text(key, incident, shown)))
        elif not incident.announced and incident.bad_checks >= threshold:
            due.append(Message(key, True, f"{_start_text(key, incident, now, shown)} Watchdog on {where}."))
    return due


def sent(state: State, message: Message) -> State:
    """The state once ``message`` was accepted by the API."""
    after = dict(state)
    if message.start:
        after[message.key] = replace(after[message.key], announced=True)
    else:
        after.pop(message.key, None)
    return after
