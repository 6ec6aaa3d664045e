"""How dates and durations read in every message of the provider (plain Python)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def format_date(value: Any) -> str | None:
    """A date as ISO 8601 to the second; any other value as its text; ``None`` for nothing."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value) if value else None


def format_duration(seconds: float) -> str:
    """``12.5 s``, ``3 min 4 s``, ``2 h 0 min 5 s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"
