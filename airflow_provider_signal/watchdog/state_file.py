"""The watchdog's state between runs: a small JSON file, replaced atomically, so a restart or the
next cron run of ``--once`` neither repeats an announced incident nor forgets a bad check."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_signal.watchdog.incidents import Incident, State

FORMAT = 1


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def load(path: Path) -> tuple[State, str | None]:
    """The incidents and the health URL that answered last; empty when the file is missing.
    An unreadable file raises ``ValueError`` naming it (a typo must not silently reset it)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as error:
        raise ValueError(f"state file {str(path)!r} cannot be read ({error}): fix or delete it.") from None
    state: State = {}
    for key, entry in (raw.get("incidents") or {}).items() if isinstance(raw, dict) else ():
        since = _time(entry.get("since")) if isinstance(entry, dict) else None
        if since is None:
            continue
        state[str(key)] = Incident(
            since=since,
            bad_checks=int(entry.get("bad_checks") or 0),
            detail=str(entry.get("detail") or ""),
            announced=entry.get("announced") is True,
            ended=_time(entry.get("ended")),
        )
    health_url = raw.get("health_url") if isinstance(raw, dict) else None
    return state, health_url if isinstance(health_url, str) else None


def save(path: Path, state: State, health_url: str | None) -> None:
    """Write the state: a temporary file beside ``path``, then one rename."""
    body = {
        "format": FORMAT,
        "health_url": health_url,
        "incidents": {
            key: {
                "since": incident.since.isoformat(),
                "bad_checks": incident.bad_checks,
                "detail": incident.detail,
                "announced": incident.announced,
                "ended": incident.ended.isoformat() if incident.ended else None,
            }
            for key, incident in state.items()
        },
    }
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(body, file, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
