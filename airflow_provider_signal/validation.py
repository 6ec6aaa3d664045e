"""Destination and text checks, done before any HTTP request (plain Python).

No destination: ``None``, an empty or blank string, a string of only separators
(``","``, ``" ; "``) and a list holding nothing but such strings all mean the same,
"no destination given", and the send goes to the connection's default recipients
(:func:`destinations_or_default`). A value naming at least one destination is used as
given (blank parts are skipped); anything that is not a number is refused.

Text: a lone surrogate (half of a UTF-16 pair, which can come from JSON or an exception
message) cannot be encoded as UTF-8; it is replaced by U+FFFD "�" rather than refusing
the whole text, so an alert carrying such a character still goes out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from airflow_provider_signal.defaults import DEFAULT_MAX_TEXT_LENGTH
from airflow_provider_signal.errors import SignalInputError

_SEPARATORS = re.compile(r"[\s\-.()/]")
_DIGITS = re.compile(r"[0-9]{8,15}")


def normalise_destination(raw: object) -> str:
    """Return ``raw`` as the API wants it: international form, digits only, no ``+``.

    ``"+44 7700-900123"`` and ``"0044 7700 900123"`` both become ``"447700900123"``.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise SignalInputError(
            f"Signal destination {raw!r} is a {type(raw).__name__}, not a phone number: "
            "give it as a string in international form, e.g. '+447700900123'."
        )
    number = _SEPARATORS.sub("", raw)
    if number.startswith("+"):
        number = number[1:]
    elif number.startswith("00"):
        number = number[2:]
    if not _DIGITS.fullmatch(number):
        raise SignalInputError(
            f"Signal destination {raw!r} is not a mobile number in international form "
            "(8 to 15 digits with the country code, e.g. '+447700900123')."
        )
    if number.startswith("0"):
        raise SignalInputError(
            f"Signal destination {raw!r} looks like a national number: "
            "add the country code, e.g. '+447700900123' rather than '07700900123'."
        )
    return number


def split_destinations(value: object) -> list[object]:
    """Turn a list, tuple or comma/semicolon-separated string into raw destinations."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, dict)):
        items: list[object] = []
        for item in value:
            items.extend(split_destinations(item) if isinstance(item, str) else [item])
        return items
    return [value]  # refused with a clear error by normalise_destination


def normalise_destinations(value: object) -> list[str]:
    """Normalise every destination and fold duplicates, keeping the first order."""
    seen: dict[str, None] = {}
    for raw in split_destinations(value):
        seen.setdefault(normalise_destination(raw), None)
    return list(seen)


def destinations_or_default(value: object, default: Callable[[], list[str]]) -> list[str]:
    """The normalised destinations in ``value``, or ``default()`` when it names none.

    One rule for every spelling of "no destination" (see the module docstring): ``None``,
    ``""``, ``" "``, ``","``, ``[]`` and ``["", " "]`` all fall back to the default.
    """
    numbers = normalise_destinations(value)
    return numbers if numbers else default()


def clean_text(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def validate_text(text: object, max_length: int = DEFAULT_MAX_TEXT_LENGTH) -> str:
    """Return ``text`` if it is a non-blank string of at most ``max_length`` characters.

    The text returned is the one to send: lone surrogates replaced (see :func:`clean_text`).
    """
    if not isinstance(text, str):
        raise SignalInputError(
            f"Signal message text must be a string, not {type(text).__name__}: convert it first."
        )
    text = clean_text(text)
    if not text.strip():
        raise SignalInputError("Signal message text is empty: give the text to send.")
    if len(text) > max_length:
        raise SignalInputError(
            f"Signal message text is {len(text)} characters, over the limit of {max_length}: "
            "shorten it, or raise max_text_length on the hook or connection."
        )
    return text
