"""The ranges of a send's ``timeout`` and ``retries``, checked where a DAG file sets them.

Plain Python and cheap to import: the notifier and the callbacks check their arguments
when the DAG is parsed, before any connection is read. The client's settings
(``SignalClientSettings``) hold the same ranges; ``tests/test_notifier.py`` proves the two
agree on every edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

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


def checked_limit(
    name: str,
    value: Any,
    owner: str,
    template: Any,
    valid: Callable[[Any], bool],
    rule: str,
    kind: type[float] | type[int],
) -> Any:
    """``value`` as a ``timeout``/``retries`` argument of ``owner``, or a
    :class:`~airflow_provider_signal.errors.SignalInputError` naming the argument and the rule.

    ``template`` is the original when ``value`` was rendered from it: a rendered text is read
    as a number, an empty one means the connection's setting; a template not yet rendered is
    returned as it is, to be checked once rendered.
    """
    rendered = template is not None and is_template(template)
    if rendered and isinstance(value, str) and not value.strip():
        return None  # the connection's own setting
    if not rendered and is_template(value):
        return value  # checked once rendered
    number = number_from_text(value) if rendered and isinstance(value, str) else value
    if kind is float and isinstance(number, int) and not isinstance(number, bool):
        number = float(number)
    if valid(number):
        return number
    shown = f"{template!r} rendered to {value!r}" if rendered else repr(value)
    why = (
        "is a string, not a number (or a Jinja template)"
        if isinstance(value, str) and not rendered
        else "is not valid"
    )
    from airflow_provider_signal.errors import SignalInputError  # only a bad value needs it

    raise SignalInputError(
        f"{owner} argument {name!r}: {shown} {why}: {rule}"
        + (" (fix the template or what it reads)." if rendered else ", or None for the connection's setting.")
    )
