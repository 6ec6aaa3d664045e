"""Silences: time-bounded mutes for planned work, with a reason and an author (plain Python).

A silence matches alerts by DAG id pattern (``fnmatch``, as ``mute_dag_ids``), DAG tag and kind,
from its start to its end (at most :data:`MAX_LENGTH`), unless ended early. Every field is
checked when the silence is made, so a silence that is stored is one that can be matched. Where
silences are kept is :mod:`.silence_store`; this module only says what one means.
"""

from __future__ import annotations

import fnmatch
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_signal.errors import SignalInputError

SILENCEABLE = ("failure", "recovery", "import_error", "health")
"""The kinds of alert a silence can match (none given: all of them)."""
MAX_LENGTH = timedelta(days=30)
MAX_REASON = 500
MAX_PATTERN = 250  # Airflow's longest DAG id
MAX_TAG = 100  # Airflow's longest tag
_DURATION = re.compile(r"([0-9]{1,6})\s*(s|m|min|h|d|w)", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Silence:
    id: str
    reason: str
    author: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime
    dag_id_pattern: str = ""  # empty: every DAG
    tag: str = ""  # empty: any tags
    kinds: tuple[str, ...] = ()  # empty: every kind
    ended_at: datetime | None = None  # ended early, by whom
    ended_by: str = ""

    @property
    def end(self) -> datetime:
        """When it stops muting: its end, or earlier when it was ended early."""
        return min(self.ends_at, self.ended_at) if self.ended_at else self.ends_at

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.end

    def state(self, now: datetime) -> str:
        """``upcoming``, ``active`` or ``ended``."""
        if now < self.starts_at:
            return "upcoming"
        return "active" if now < self.end else "ended"

    def matches(self, kind: str, dag_ids: Sequence[str], tags: Iterable[str], now: datetime) -> bool:
        """Whether an alert of ``kind`` about ``dag_ids`` (one for a run, a file's DAGs for an import
        error) with ``tags`` is silenced now. A silence naming a DAG pattern or a
        tag matches only alerts about DAGs."""
        if not self.active(now) or (self.kinds and kind not in self.kinds):
            return False
        if self.dag_id_pattern and not any(fnmatch.fnmatchcase(d, self.dag_id_pattern) for d in dag_ids):
            return False
        return not self.tag or self.tag in set(tags)

    def describe(self) -> str:
        """What it matches, in words: ``DAGs warehouse_*, tag team-data, failure alerts``."""
        parts = [f"DAGs {self.dag_id_pattern}" if self.dag_id_pattern else "every DAG"]
        if self.tag:
            parts.append(f"tag {self.tag}")
        parts.append(f"{', '.join(self.kinds)} alerts" if self.kinds else "every alert")
        return ", ".join(parts)

    def to_json(self) -> str:
        body: dict[str, Any] = asdict(self)
        for name in ("starts_at", "ends_at", "created_at", "ended_at"):
            body[name] = body[name].isoformat() if body[name] else None
        body["kinds"] = list(self.kinds)
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Silence:
        """A stored silence; ``ValueError`` when the text is not one."""
        try:
            body = json.loads(text)
            times = {
                n: _aware(datetime.fromisoformat(body[n])) for n in ("starts_at", "ends_at", "created_at")
            }
            ended = body.get("ended_at")
            return cls(
                id=str(body["id"]),
                reason=str(body["reason"]),
                author=str(body["author"]),
                dag_id_pattern=str(body.get("dag_id_pattern") or ""),
                tag=str(body.get("tag") or ""),
                kinds=tuple(str(k) for k in body.get("kinds") or ()),
                ended_at=_aware(datetime.fromisoformat(ended)) if ended else None,
                ended_by=str(body.get("ended_by") or ""),
                **times,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a silence ({type(error).__name__}: {error})") from None

    def ended_early(self, now: datetime, by: str) -> Silence:
        return replace(self, ended_at=now, ended_by=by)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``4h``, ``1d``, ``2w``, or several (``1h30m``)."""
    compact = text.strip().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or len(compact) > 40 or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise SignalInputError(f"{text[:40]!r} is not a duration: give it as 90s, 30m, 4h, 1d or 1h30m.")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts))


def new_silence(
    *,
    reason: str,
    author: str,
    now: datetime,
    ends_at: datetime,
    starts_at: datetime | None = None,
    dag_id_pattern: str = "",
    tag: str = "",
    kinds: Sequence[str] = (),
) -> Silence:
    """A checked silence with a new id; :class:`SignalInputError` naming the field that is wrong."""
    starts = _aware(starts_at or now)
    ends = _aware(ends_at)
    reason = reason.strip()
    if not reason:
        raise SignalInputError("reason: say why alerts are silenced (it is shown with every summary).")
    if len(reason) > MAX_REASON:
        raise SignalInputError(f"reason: at most {MAX_REASON} characters ({len(reason):,} given).")
    if not author.strip():
        raise SignalInputError("author: unknown; a silence needs the user who made it.")
    if ends <= starts:
        raise SignalInputError(f"end: {ends.isoformat()} is not after the start, {starts.isoformat()}.")
    if ends <= now:
        raise SignalInputError(f"end: {ends.isoformat()} has passed already.")
    if ends - starts > MAX_LENGTH:
        raise SignalInputError(
            f"end: a silence lasts at most {MAX_LENGTH.days} days; make another one after it."
        )
    if len(dag_id_pattern) > MAX_PATTERN or len(tag) > MAX_TAG:
        raise SignalInputError(
            f"dag_id / tag: at most {MAX_PATTERN} / {MAX_TAG} characters, as Airflow's DAG ids and tags."
        )
    unknown = sorted(set(kinds) - set(SILENCEABLE))
    if unknown:
        raise SignalInputError(f"kind: {', '.join(unknown)} is not one of {', '.join(SILENCEABLE)}.")
    return Silence(
        id=uuid.uuid4().hex[:12],
        reason=reason,
        author=author.strip(),
        starts_at=starts,
        ends_at=ends,
        created_at=now,
        dag_id_pattern=dag_id_pattern.strip(),
        tag=tag.strip(),
        kinds=tuple(k for k in SILENCEABLE if k in set(kinds)),
    )


def matching(
    silences: Iterable[Silence], kind: str, dag_ids: Sequence[str], tags: Iterable[str], now: datetime
) -> Silence | None:
    """The silence that silences this alert now (the one ending last), or ``None``."""
    tags = tuple(tags)
    found = [s for s in silences if s.matches(kind, dag_ids, tags, now)]
    return max(found, key=lambda s: (s.end, s.id)) if found else None
