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

_SEPARATORS = re.compile(r"[\s\-./]")
_DIGITS = re.compile(r"[0-9]{8,15}")
_BRACKETED = re.compile(r"(?P<before>[^()]*)\((?P<inside>[^()]*)\)(?P<after>[^()]*)")
_COUNTRY_CODE = re.compile(r"(?:\+|00)[0-9]{1,3}")

MAX_DESTINATIONS = 1000
"""Recipients of one send at most: the API takes one destination per request, so a list longer
than this (a mistake: a table pasted in) would hold a task or an alert for hours."""
MAX_DESTINATION_LENGTH = 64
"""Characters of one written number at most, separators and brackets included; longer is refused
before it is parsed, so a huge value costs nothing."""
_SHOWN_LENGTH = 40


def shown(value: object) -> str:
    """``repr(value)`` for an error message, cut to about 40 characters with the full length.

    A megabyte pasted into a setting is named, not echoed: ``'4444…' (1,000,000 characters)``.
    """
    if isinstance(value, (str, bytes)) and len(value) > _SHOWN_LENGTH:
        return f"{value[:_SHOWN_LENGTH]!r}… ({len(value):,} characters)"
    text = repr(value)
    return (
        text if len(text) <= _SHOWN_LENGTH * 2 else f"{text[: _SHOWN_LENGTH * 2]}… ({len(text):,} characters)"
    )


def _without_brackets(raw: str) -> str:
    """``raw`` with its one pair of brackets resolved, or a :class:`SignalInputError`.

    Brackets are read in two written forms only, right after the country code: the trunk
    prefix ``+44 (0)7700 900123`` (the ``(0)`` is dropped: it is dialled only inside the
    country) and an area code ``+1 (415) 555 2671`` (kept). Anything else (brackets with
    no country code before them, elsewhere in the number, more than one pair, a bracketed
    group that starts with 0 but is not ``(0)``) could mean more than one number, so it is
    refused rather than guessed.
    """
    match = _BRACKETED.fullmatch(raw)
    before = _SEPARATORS.sub("", match["before"]) if match else ""
    inside = _SEPARATORS.sub("", match["inside"]) if match else ""
    if match is None or not _COUNTRY_CODE.fullmatch(before) or not inside.isdigit() or not inside.isascii():
        raise SignalInputError(
            f"Signal destination {shown(raw)} has brackets that cannot be read with confidence: brackets "
            "are read only right after the country code, as '+44 (0)7700 900123' or "
            "'+1 (415) 555 2671'; give the number without them, e.g. '+447700900123'."
        )
    if inside == "0":
        return before + match["after"]  # the trunk prefix, not part of the international number
    if inside.startswith("0"):
        raise SignalInputError(
            f"Signal destination {shown(raw)} has a bracketed group starting with 0 after the country "
            "code: it is unclear which digits are dialled internationally. Give the number without "
            "brackets, e.g. '+447700900123'."
        )
    return before + inside + match["after"]


def normalise_destination(raw: object) -> str:
    """Return ``raw`` as the API wants it: international form, digits only, no ``+``.

    ``"+44 7700-900123"``, ``"0044 7700 900123"`` and ``"+44 (0)7700 900123"`` all become
    ``"447700900123"``; what cannot be read with confidence (letters, a second ``+``,
    brackets anywhere but right after the country code) is refused, never guessed.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise SignalInputError(
            f"Signal destination {shown(raw)} is a {type(raw).__name__}, not a phone number: "
            "give it as a string in international form, e.g. '+447700900123'."
        )
    number = raw.strip()
    if len(number) > MAX_DESTINATION_LENGTH:
        raise SignalInputError(
            f"Signal destination {shown(raw)} is not a phone number: a number in international "
            f"form is at most {MAX_DESTINATION_LENGTH} characters as written, e.g. '+447700900123'. "
            "Separate several numbers with commas."
        )
    if "(" in number or ")" in number:
        number = _without_brackets(number)
    number = _SEPARATORS.sub("", number)
    if number.startswith("+"):
        number = number[1:]
    elif number.startswith("00"):
        number = number[2:]
    if not _DIGITS.fullmatch(number):
        raise SignalInputError(
            f"Signal destination {shown(raw)} is not a mobile number in international form "
            "(8 to 15 digits with the country code, e.g. '+447700900123')."
        )
    if number.startswith("0"):
        raise SignalInputError(
            f"Signal destination {shown(raw)} looks like a national number: "
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
    raws = split_destinations(value)
    if len(raws) > MAX_DESTINATIONS:
        raise SignalInputError(
            f"{len(raws):,} Signal destinations given, over the limit of {MAX_DESTINATIONS:,} for one "
            "send (one request each): split it into several sends."
        )
    for raw in raws:
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
