"""When a silence ends, one message per route says what it kept quiet: a source of the pipeline
(:mod:`.pipeline`), run by every scheduler's sweep.

What a silence kept quiet is read from the rows that recorded each silenced notice: runs
(``signal_alert_silenced``), DAG files (the import watcher's decisions) and health incidents
(the health watcher's), each naming the silence. Each DAG's share goes to the recipients its
tags route to (health to ``health_destinations``), so each team hears only of its own DAGs.

Exactly once: under the decision lock (:mod:`.decision_lock`), a scheduler finds the silences that
ended within ``max_delivery_age`` and have no ``signal_silence_summary`` row yet, and records one
row per route with its notice in the outbox (or one row saying nothing was kept quiet), in one
transaction. From there the outbox's guarantees hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_signal.alerts import decision_lock, outbox, records, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.health_store import DECISIONS as HEALTH_DECISIONS
from airflow_provider_signal.alerts.import_errors import IMPORT_EVENTS
from airflow_provider_signal.alerts.silences import Silence
from airflow_provider_signal.alerts.summary_text import SilenceSummary, subject

SUMMARY = "signal_silence_summary"
STILL_FAILING_CHECKED = 500
"""DAGs whose latest run is read for "still failing"; more are left out of that count."""


@dataclass
class _Share:
    runs: int = 0
    recoveries: int = 0
    dags: dict[str, None] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)
    health: int = 0


def _silenced_rows(session: Any, silence: Silence) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(event, dag id, extra) of every row that recorded a notice silenced by ``silence``."""
    from airflow.models.log import Log
    from sqlalchemy import select

    events = (records.SILENCED, *IMPORT_EVENTS, *HEALTH_DECISIONS.values())
    query = select(Log.event, Log.dag_id, Log.extra).where(
        Log.event.in_(events),
        Log.dttm >= silence.starts_at - timedelta(minutes=1),
        Log.dttm <= silence.end + timedelta(minutes=1),
    )
    found = []
    for row in session.execute(query):
        extra = records.parse_extra(row.extra)
        if extra.get("silence") == silence.id and (
            row.event == records.SILENCED or extra.get("delivered") == "silenced"
        ):
            found.append((str(row.event), row.dag_id, extra))
    return found


def _tags(session: Any, dag_ids: Iterable[str]) -> dict[str, list[str]]:
    from airflow.models.dag import DagTag
    from sqlalchemy import select

    wanted = sorted(set(dag_ids))
    tags: dict[str, list[str]] = {dag_id: [] for dag_id in wanted}
    for start in range(0, len(wanted), 500):
        query = select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(wanted[start : start + 500]))
        for row in session.execute(query):
            tags[str(row.dag_id)].append(str(row.name))
    return tags


def _still_failing(session: Any, dag_ids: list[str]) -> set[str]:
    """Those of ``dag_ids`` whose latest run (by start) failed."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    failing = set()
    for dag_id in dag_ids[:STILL_FAILING_CHECKED]:
        query = select(DagRun.state).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        if session.scalar(query) == "failed":
            failing.add(dag_id)
    return failing


def kept_quiet(
    session: Any, settings: AlertSettings, silence: Silence
) -> dict[tuple[str, ...], SilenceSummary]:
    """What ``silence`` kept quiet, by the recipients it would have gone to."""
    rows = _silenced_rows(session, silence)
    dag_ids = [
        dag
        for _, dag_id, extra in rows
        for dag in ([dag_id] if dag_id else []) + list(extra.get("dags") or [])
    ]
    tags = _tags(session, [d for d in dag_ids if isinstance(d, str)])
    shares: dict[tuple[str, ...], _Share] = {}

    def share(dags: list[str]) -> _Share:
        route = tuple(settings.recipients_for(t for d in dags for t in tags.get(d, [])))
        return shares.setdefault(route, _Share())

    for event, dag_id, extra in rows:
        if event == records.SILENCED and dag_id:
            part = share([dag_id])
            if extra.get("kind") == "recovery":
                part.recoveries += 1
            else:
                part.runs += 1
                part.dags.setdefault(dag_id, None)
        elif event in IMPORT_EVENTS and extra.get("kind") != "fixed":
            dags = [d for d in extra.get("dags") or [] if isinstance(d, str)]
            share(dags).files.add(str(extra.get("file") or ""))
        elif event == HEALTH_DECISIONS["open"]:
            shares.setdefault(tuple(settings.health_recipients()), _Share()).health += 1
    base = SilenceSummary(
        silence.id, silence.reason, silence.author, silence.starts_at, silence.end, silence.ended_by
    )
    failing = _still_failing(session, sorted({d for part in shares.values() for d in part.dags}))
    return {
        route: replace(
            base,
            failed_runs=part.runs,
            dags=tuple(part.dags),
            still_failing=tuple(d for d in part.dags if d in failing),
            recoveries=part.recoveries,
            files=len(part.files),
            health=part.health,
        )
        for route, part in shares.items()
    }


def _summarized(session: Any, since: datetime) -> set[str]:
    from airflow.models.log import Log
    from sqlalchemy import select

    query = select(Log.extra).where(Log.event == SUMMARY, Log.dttm >= since)
    return {str(records.parse_extra(extra).get("silence")) for extra in session.scalars(query)}


def _ended(silences: list[Silence], now: datetime, max_age: float) -> list[Silence]:
    oldest = now - timedelta(seconds=max_age)
    return [s for s in silences if s.starts_at < s.end <= now and s.end >= oldest]


def summarize_ended(session: Any, settings: AlertSettings, now: datetime) -> int:
    """Queue the summary of every silence that ended and has none yet; how many notices."""
    since = now - timedelta(seconds=settings.max_delivery_age + 3600)
    if not [
        s
        for s in _ended(silence_store.load(session), now, settings.max_delivery_age)
        if s.id not in _summarized(session, since)
    ]:
        return 0  # the usual case: no lock taken
    decision_lock.take(session)
    done = _summarized(session, since)
    queued = 0
    for silence in _ended(silence_store.load(session), now, settings.max_delivery_age):
        if silence.id in done:
            continue
        summaries = {route: s for route, s in kept_quiet(session, settings, silence).items() if not s.empty}
        if not summaries:
            _record(session, now, silence.id, None)
            continue
        for route, summary in sorted(summaries.items()):
            decision_id = _record(session, now, silence.id, route)
            outbox.queue(
                session,
                subject(decision_id, now),
                now,
                recipients=route,
                due=now,
                reason="FIRST_ALERT",
                summary=summary,
            )
            queued += 1
    return queued


def _record(session: Any, now: datetime, silence_id: str, route: tuple[str, ...] | None) -> int:
    from airflow.models.log import Log

    body = {
        "silence": silence_id,
        "recipients": list(route) if route is not None else None,
        "at": now.isoformat(),
    }
    row = Log(event=SUMMARY, owner=records.AUDIT_OWNER, extra=json.dumps(body))
    row.dttm = now
    session.add(row)
    session.flush()
    return int(row.id)


__all__ = ["SUMMARY", "SilenceSummary", "kept_quiet", "summarize_ended"]
