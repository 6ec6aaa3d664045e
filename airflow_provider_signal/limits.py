"""The ranges of a send's ``timeout`` and ``retries``, checked where a DAG file sets them.

Plain Python and cheap to import: the notifier and the callbacks check their arguments
when the DAG is parsed, before any connection is read. The client's settings
(``SignalClientSettings``) hold the same ranges; ``tests/test_notifier.py`` proves the two
agree on every edge.
"""

from __future__ import annotations

import math

TIMEOUT_MAX = 300.0
"""Seconds; a time-out must be above 0 and at most this."""
RETRIES_MAX = 10
"""A whole number from 0 to this."""

TIMEOUT_RULE = f"give seconds, above 0 and at most {TIMEOUT_MAX:g}"
RETRIES_RULE = f"give a whole number from 0 to {RETRIES_MAX}"


def is_timeout(value: object) -> bool:
    """A real int or float (not a bool, not NaN or infinite) above 0 and at most :data:`TIMEOUT_MAX`."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= TIMEOUT_MAX
    )


def is_retries(value: object) -> bool:
    """A real int (not a bool) from 0 to :data:`RETRIES_MAX`."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= RETRIES_MAX


def is_template(value: object) -> bool:
    """A string Airflow will render with Jinja (it holds ``{{`` or ``{%``)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def number_from_text(value: str) -> float | int | None:
    """A rendered template's text as a number (``"30"`` -> 30, ``"2.5"`` -> 2.5), else ``None``."""
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
