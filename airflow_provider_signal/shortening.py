"""Fitting a message into ``max_text_length`` without losing what the reader acts on.

The one shortening of the provider (plain Python). A message is a list of :class:`Line`;
when it is too long, :func:`fit` first shortens the lines that may be cut, all to the
same length (the middle parts, not the headline or the link), then leaves out whole
lines, least needed first, and only as a last resort cuts the whole text. A link is
never cut: it is kept whole or left out. A count ("and 3 more", "Also: 2 earlier failed
runs") is never cut off: a line carrying one offers complete shorter forms instead
(:attr:`Line.shorter`), or keeps its count at the front where a cut cannot reach.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

SHORTENED_MARKER = "… [shortened]"
"""Where text was cut: always visible, so a reader knows there was more."""

LINE_FLOOR = 32
"""A cut line keeps at least this many characters (its label, the start of its value, the marker)."""

_SCHEME_MAX = 32
_URL = re.compile(rf"[A-Za-z][A-Za-z0-9+.-]{{0,{_SCHEME_MAX - 1}}}://\S+")
"""A URL as :func:`cut` protects it. The scheme is bounded (real ones are a few letters), so no
search backtracks further than that over a long word: every scan is linear in the text's length."""
_URL_REACH = _SCHEME_MAX + len("://") + 1
"""How far past a cut a URL's start must be seen to know that the cut falls inside it."""

REDACT_MARGIN = 65_536
"""Of a text to be cut to ``limit`` characters, only the first ``limit + REDACT_MARGIN`` are
redacted: a 10 MB rendered template costs what a short one does, and a cut can only split a
secret longer than this margin (none is)."""


@dataclass(frozen=True)
class Line:
    """One part of a message: usually one line (a body may span several)."""

    text: str
    shorter: tuple[str, ...] = ()
    """Complete, truthful shorter forms, longest first (e.g. fewer tasks named and
    "and N more"): used before any cut."""
    cut: bool = True
    """May be cut (with :data:`SHORTENED_MARKER`) when no shorter form fits."""
    link: bool = False
    """A URL: kept whole or left out, never cut."""
    rank: int = 1
    """When shortening is not enough, whole lines are left out, lowest rank first (ties: the
    later line first); rank 0 is never left out."""


def cut(text: str, limit: int, marker: str = SHORTENED_MARKER) -> str:
    """``text`` in at most ``limit`` characters, ending with ``marker`` if it was cut.

    A URL in the text is never cut in half: the cut moves to before it. Short fields (an
    option) pass ``"…"`` as the marker, so the marker does not take their place.
    """
    if len(text) <= limit:
        return text
    end = max(0, limit - len(marker))
    # Only the text up to just past the cut can decide where it goes: the time is the limit's, not
    # the text's (a 10 MB text costs what a 2 KB one does).
    for match in _URL.finditer(text, 0, end + _URL_REACH):
        if match.start() >= end:
            break
        if end < match.end():
            end = match.start()
            break
    return (text[:end].rstrip() + marker)[: max(0, limit)]


def redacted_start(text: str, limit: int, redact: Callable[[str], str]) -> str:
    """``redact(text)``, for a text about to be cut to ``limit`` characters.

    A text longer than ``limit`` by more than :data:`REDACT_MARGIN` has only its start redacted,
    followed by :data:`SHORTENED_MARKER`: the rest would be cut away in any case, and the
    redacted start is still longer than the limit (so the cut that follows puts its own
    marker), unless masking shortened it below, where the marker says it was cut.
    """
    if len(text) <= limit + REDACT_MARGIN:
        return redact(text)
    return redact(text[: limit + REDACT_MARGIN]) + SHORTENED_MARKER


def _form(line: Line, cap: int) -> str:
    """The longest form of ``line`` within ``cap`` characters (or its shortest, if none is)."""
    if len(line.text) <= cap or line.link:
        return line.text
    for shorter in line.shorter:
        if len(shorter) <= cap:
            return shorter
    if line.cut:
        return cut(line.text, max(cap, LINE_FLOOR))
    return line.shorter[-1] if line.shorter else line.text


def _joined(lines: Sequence[Line], cap: int) -> str:
    return "\n".join(_form(line, cap) for line in lines)


def _fit_by_cap(lines: Sequence[Line], limit: int) -> str | None:
    """The lines with every cuttable line held to the largest common cap that fits, or ``None``."""
    if len(_joined(lines, LINE_FLOOR)) > limit:
        return None
    low, high = LINE_FLOOR, max(len(line.text) for line in lines)
    while low < high:  # the largest cap whose text fits
        middle = (low + high + 1) // 2
        if len(_joined(lines, middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    return _joined(lines, low)


def fit(lines: Sequence[Line], limit: int, redact: Callable[[str], str] | None = None) -> str:
    """The message of ``lines`` in at most ``limit`` characters (see the module docstring).

    ``redact`` is applied to every part first, so a cut can never leave half a secret (to the
    start of a part far longer than ``limit``: :func:`redacted_start`).
    """
    if redact is not None:
        clean = redact

        def redacted(text: str) -> str:
            return redacted_start(text, limit, clean)

        lines = [
            replace(line, text=redacted(line.text), shorter=tuple(redacted(form) for form in line.shorter))
            for line in lines
        ]
    kept = [line for line in lines if line.text]
    if not kept:
        return ""
    whole = "\n".join(line.text for line in kept)
    if len(whole) <= limit:
        return whole
    order = sorted(
        (index for index, line in enumerate(kept) if line.rank > 0),
        key=lambda index: (kept[index].rank, -index),
    )
    left_out: set[int] = set()
    for index in [None, *order]:
        if index is not None:
            left_out.add(index)
        remaining = [line for position, line in enumerate(kept) if position not in left_out]
        text = _fit_by_cap(remaining, limit)
        if text is not None:
            return text
    remaining = [line for position, line in enumerate(kept) if position not in left_out and not line.link]
    return cut(_joined(remaining, LINE_FLOOR), limit)


def fit_text(text: str, limit: int, redact: Callable[[str], str] | None = None) -> str:
    """A free text (one the DAG author wrote) in ``limit`` characters: cut at the end, never
    inside a URL; ``redact`` masks secrets first (:func:`redacted_start`), so no cut leaves half
    of one."""
    return cut(redacted_start(text, limit, redact) if redact is not None else text, limit)


def flatten(value: object) -> str:
    """``value`` as one line: every line break and run of spaces made one space.

    For fields shown after a label (a subject, an option, a run id): a line break in them
    could otherwise start a line that looks like one of the message's own.
    """
    return " ".join(str(value).split())


def quoted(body: str) -> str:
    """A multi-line text a user wrote, each line behind ``"> "``: no line of it can look like
    one of the message's own labelled lines (``Respond: ...``)."""
    return "\n".join(f"> {line}".rstrip() for line in body.strip().splitlines())
