"""Import-error alerts: the decision (pure) and the metadata-database reads and writes around it.

What is known comes from two tables only, so every scheduler decides the same way and a restart
forgets nothing:

- Airflow's ``import_error`` table: one row per file that failed its last parse (the DAG
  processor deletes the row in the parse that imports the file again: that is how "fixed" is
  detected, on both lines: no listener hook fires for it);
- Airflow's audit log (the ``log`` table), where each decision is recorded as a row with event
  ``signal_import_broken`` or ``signal_import_fixed`` and, in ``extra``, the file, its bundle,
  the error's fingerprint, since when the file is broken and what became of it (queued in the
  outbox, whose rows then tell its delivery (:mod:`.file_notices`), muted or silenced).

The rules (:func:`decide`), per file:

- broken, and its last record is not "broken": news (``broken``), unless a broken message for
  it went out less than ``cooldown`` seconds ago (then it waits for the cooldown to end);
- broken with the recorded fingerprint (the error's type and last line): nothing, however
  often it is re-parsed;
- broken with another fingerprint: news (``changed``), never held back by the cooldown;
- no longer broken while its last record is "broken": news (``fixed``), unless a fixed message
  for it went out less than ``cooldown`` seconds ago.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

log = logging.getLogger(__name__)

BROKEN_EVENT = "signal_import_broken"
FIXED_EVENT = "signal_import_fixed"
IMPORT_EVENTS = (BROKEN_EVENT, FIXED_EVENT)
AUDIT_OWNER = "signal_alerts"

Kind = Literal["broken", "changed", "fixed"]
FileKey = tuple[str, str]
"""``(bundle, filename)`` as Airflow stores them: on Airflow 3 the bundle's name and the path
relative to it, on 2.11 ``""`` and the absolute path."""

_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*): (.*)$")


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def error_line(stacktrace: str) -> str:
    """The error's type and message: the last ``Type: message`` line of the trace (a time-out's
    trace ends with a sentence and a link, not with the exception), else its last line."""
    lines = [line.rstrip() for line in (stacktrace or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else "(no error text)"


def error_type(stacktrace: str) -> str | None:
    """The exception's class name (``ModuleNotFoundError``), when the trace names one."""
    match = _EXCEPTION_LINE.match(error_line(stacktrace))
    return match.group(1).rsplit(".", 1)[-1] if match else None


@dataclass(frozen=True)
class BrokenFile:
    """A row of Airflow's ``import_error`` table: a file whose last parse failed."""

    bundle: str
    filename: str
    stacktrace: str
    row_id: int | None = None

    @property
    def key(self) -> FileKey:
        return (self.bundle, self.filename)

    @property
    def fingerprint(self) -> str:
        """What makes two errors "the same": the type and last line, not the trace above it."""
        return error_line(self.stacktrace)


@dataclass(frozen=True)
class Record:
    """One message recorded in the audit log for a file."""

    log_id: int
    event: str
    bundle: str
    filename: str
    fingerprint: str
    since: datetime  # since when the file is (or was) broken
    at: datetime  # when the message was claimed

    @property
    def key(self) -> FileKey:
        return (self.bundle, self.filename)

    @property
    def broken(self) -> bool:
        return self.event == BROKEN_EVENT


@dataclass(frozen=True)
class History:
    """A file's records: the latest, and when each kind of message last went out."""

    latest: Record
    last_broken_at: datetime | None = None
    last_fixed_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """A message to send about one file."""

    kind: Kind
    bundle: str
    filename: str
    fingerprint: str
    since: datetime | None = None  # broken since (recorded; None for a new breakage: first seen)
    error: BrokenFile | None = None  # the current error (broken, changed)
    record: Record | None = None  # the record it follows (changed, fixed)

    @property
    def key(self) -> FileKey:
        return (self.bundle, self.filename)

    @property
    def pending_key(self) -> tuple[str, str, str, str]:
        """What the watcher remembers a sighting by."""
        return (self.kind, self.bundle, self.filename, self.fingerprint)


@dataclass(frozen=True)
class Held:
    """News about a file that waits for the cooldown to end."""

    kind: Kind
    key: FileKey
    until: datetime


def decide(
    history: Mapping[FileKey, History],
    current: Mapping[FileKey, BrokenFile],
    now: datetime,
    cooldown: float,
) -> tuple[list[Outcome], list[Held]]:
    """The messages due now (in file order) and the news held back by the cooldown."""
    wait = timedelta(seconds=cooldown)
    outcomes: list[Outcome] = []
    held: list[Held] = []
    for key in sorted(set(history) | set(current)):
        past = history.get(key)
        error = current.get(key)
        latest = past.latest if past else None
        if error is not None:
            if latest is not None and latest.broken:
                if latest.fingerprint != error.fingerprint:
                    outcomes.append(Outcome("changed", *key, error.fingerprint, latest.since, error, latest))
                continue
            last = past.last_broken_at if past else None
            if last is not None and now - last < wait:
                held.append(Held("broken", key, last + wait))
                continue
            outcomes.append(Outcome("broken", *key, error.fingerprint, None, error, latest))
        elif latest is not None and latest.broken:
            last = past.last_fixed_at if past else None
            if last is not None and now - last < wait:
                held.append(Held("fixed", key, last + wait))
                continue
            outcomes.append(Outcome("fixed", *key, latest.fingerprint, latest.since, None, latest))
    return outcomes, held


def due(
    outcomes: Iterable[Outcome],
    first_seen: Mapping[tuple[str, str, str, str], datetime],
    now: datetime,
    window: float,
) -> bool:
    """True when the oldest pending outcome was first seen ``window`` seconds ago (or more): then
    everything pending goes out together, so files broken by one change arrive as one message."""
    seen = [first_seen.get(outcome.pending_key, now) for outcome in outcomes]
    return bool(seen) and now - min(seen) >= timedelta(seconds=window)


def histories(records: Iterable[Record]) -> dict[FileKey, History]:
    """Each file's :class:`History` from its records (in any order)."""
    grouped: dict[FileKey, list[Record]] = {}
    for record in records:
        grouped.setdefault(record.key, []).append(record)
    result: dict[FileKey, History] = {}
    for key, rows in grouped.items():
        rows.sort(key=lambda row: (row.at, row.log_id))
        broken = [row.at for row in rows if row.broken]
        fixed = [row.at for row in rows if not row.broken]
        result[key] = History(rows[-1], broken[-1] if broken else None, fixed[-1] if fixed else None)
    return result


# -- the metadata database ----------------------------------------------------------------------


def _import_error_model() -> Any:
    try:
        from airflow.models.errors import ParseImportError
    except ImportError:  # pragma: no cover - older 2.x names it ImportError
        from airflow.models.errors import ImportError as ParseImportError  # type: ignore[attr-defined,no-redef]
    return ParseImportError


def current_errors(
    session: Any, keys: Iterable[FileKey] | None = None, lock: bool = False
) -> dict[FileKey, BrokenFile]:
    """The files whose last parse failed; with ``lock``, only those whose row this session could
    lock (``SKIP LOCKED``: a row another scheduler, or the DAG processor, holds is left for the
    next sweep)."""
    from sqlalchemy import select

    model = _import_error_model()
    bundle = getattr(model, "bundle_name", None)
    columns = [model.id, model.filename, model.stacktrace] + ([bundle] if bundle is not None else [])
    query = select(*columns)
    if keys is not None:
        wanted = {filename for _, filename in keys}
        if not wanted:
            return {}
        query = query.where(model.filename.in_(sorted(wanted)))
    if lock:
        from airflow.utils.sqlalchemy import with_row_locks

        query = with_row_locks(query, session, skip_locked=True, of=model)
    found: dict[FileKey, BrokenFile] = {}
    for row in session.execute(query):
        name = str(row.filename or "")
        bundle_name = str(getattr(row, "bundle_name", None) or "")
        found[(bundle_name, name)] = BrokenFile(bundle_name, name, str(row.stacktrace or ""), int(row.id))
    if keys is not None:
        allowed = set(keys)
        found = {key: value for key, value in found.items() if key in allowed}
    return found


def _parse_record(log_id: int, event: str, extra: str | None, dttm: datetime | None) -> Record | None:
    try:
        data = json.loads(extra or "{}")
        at = _aware(dttm) or datetime.now(timezone.utc)
        since = _aware(datetime.fromisoformat(data["since"])) if data.get("since") else at
        return Record(
            log_id,
            event,
            str(data.get("bundle") or ""),
            str(data["file"]),
            str(data.get("fingerprint") or ""),
            since or at,
            at,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("Signal import-error alerts: audit log row %s has an unreadable extra; ignored.", log_id)
        return None


def read_records(session: Any) -> list[Record]:
    """Every import-error record in the audit log."""
    from airflow.models.log import Log
    from sqlalchemy import select

    rows = session.execute(
        select(Log.id, Log.event, Log.extra, Log.dttm).where(Log.event.in_(IMPORT_EVENTS)).order_by(Log.id)
    ).all()
    records = (_parse_record(int(row.id), str(row.event), row.extra, row.dttm) for row in rows)
    return [record for record in records if record is not None]


def lock_records(session: Any, ids: Iterable[int]) -> set[int]:
    """Lock these audit-log rows (``SKIP LOCKED``); the ids this session now holds."""
    from airflow.models.log import Log
    from sqlalchemy import select

    wanted = sorted(set(ids))
    if not wanted:
        return set()
    from airflow.utils.sqlalchemy import with_row_locks

    query = with_row_locks(select(Log.id).where(Log.id.in_(wanted)), session, skip_locked=True)
    return {int(value) for value in session.scalars(query)}


@dataclass(frozen=True)
class DagInfo:
    dag_id: str
    tags: tuple[str, ...]


def dags_of_file(session: Any, key: FileKey) -> list[DagInfo]:
    """The DAGs the file defined when it last imported (their rows stay while it is broken)."""
    from airflow.models.dag import DagModel, DagTag
    from sqlalchemy import select

    bundle, filename = key
    if hasattr(DagModel, "bundle_name"):  # Airflow 3: bundle and relative path
        where = [DagModel.bundle_name == bundle, DagModel.relative_fileloc == filename]
    else:
        where = [DagModel.fileloc == filename]
    dag_ids = sorted(str(value) for value in session.scalars(select(DagModel.dag_id).where(*where)))
    if not dag_ids:
        return []
    tags: dict[str, list[str]] = {dag_id: [] for dag_id in dag_ids}
    for row in session.execute(select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(dag_ids))):
        tags[str(row.dag_id)].append(str(row.name))
    return [DagInfo(dag_id, tuple(sorted(tags[dag_id]))) for dag_id in dag_ids]


def claim(
    session: Any,
    outcome: Outcome,
    since: datetime,
    dag_ids: list[str],
    delivered: str,
    **details: Any,
) -> int:
    """Record the decision (``delivered``: ``"queued"`` with its notice in the outbox,
    ``"muted"``, ``"silenced"``), so the next sweep of any scheduler sees it: never twice; its row id.

    ``details``: what else the row keeps (the recipients, the silence).
    """
    from airflow.models.log import Log

    event = FIXED_EVENT if outcome.kind == "fixed" else BROKEN_EVENT
    extra = {
        "file": outcome.filename,
        "bundle": outcome.bundle,
        "fingerprint": outcome.fingerprint,
        "since": since.isoformat(),
        "kind": outcome.kind,
        "dags": dag_ids,
        "delivered": delivered,
        **details,
    }
    row = Log(event=event, owner=AUDIT_OWNER, extra=json.dumps(extra), dag_id=dag_ids[0] if dag_ids else None)
    session.add(row)
    session.flush()
    return int(row.id)
