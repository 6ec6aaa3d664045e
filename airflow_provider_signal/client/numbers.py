"""Number checks shared by every reader of a setting: the client, the hook, the alert config.

One rule everywhere: a number is a real ``int`` or ``float`` (a string of one, where the
setting comes from text), never a bool, never NaN or infinite, and within its range.
Plain Python, no import beyond the standard library.
"""

from __future__ import annotations

import math

from airflow_provider_signal.errors import SignalInputError


class SignalNumberError(SignalInputError):
    """A setting that is not a number in its range. ``name``, ``value`` and ``reason`` let a
    caller phrase the error its own way (``str()`` is ``"<name> <value!r> <reason>"``)."""

    def __init__(self, name: str, value: object, reason: str) -> None:
        super().__init__(f"{name} {value!r} {reason}")
        self.name = name
        self.value = value
        self.reason = reason


def is_number(value: object, low: float, high: float, *, above_low: bool = False) -> bool:
    """A real int or float (not a bool, not NaN or infinite) within ``[low, high]``
    (``(low, high]`` with ``above_low``)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
        and not (above_low and value == low)
    )


def is_whole(value: object, low: int, high: int) -> bool:
    """A real int (not a bool) within ``[low, high]``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def parse_number(value: object, *, whole: bool = False) -> int | float:
    """``value`` (a number, or a string of one) as a float, or an int when ``whole``.

    Raises ``ValueError`` whose text is the reason: "is not a number", "is not a finite
    number" or "is not a whole number". A bool is not a number (JSON ``true`` is not 1).
    """
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError("is not a number")
    if not math.isfinite(number):
        raise ValueError("is not a finite number")
    if whole:
        if not number.is_integer():
            raise ValueError("is not a whole number")
        return int(number)
    return number


def check_number(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    whole: bool = False,
    above_low: bool = False,
) -> int | float:
    """``value`` parsed (:func:`parse_number`) and checked to lie in its range, or
    :class:`SignalNumberError` naming ``name`` and saying what is allowed."""
    try:
        number = parse_number(value, whole=whole)
    except ValueError as error:
        raise SignalNumberError(name, value, str(error)) from None
    if not low <= number <= high or (above_low and number == low):
        kind = "a whole number" if whole else "a number"
        bounds = f"above {low:g}" if above_low else f"from {low:g}"
        raise SignalNumberError(name, value, f"is out of range: give {kind} {bounds} to {high:g}")
    return number
