"""What the emulator can be told to do wrong (:class:`Fault`), and what it records.

Plain data with validation: a fault spec that makes no sense is refused with a clear reason
(the control endpoint answers 400), so a test cannot silently ask for nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

FAULT_ACTIONS = ("respond", "hang", "drop", "raw", "raw-hang")
MAX_FAULT_COUNT = 1000
"""At most this many requests can be made to misbehave by one call."""
MAX_FAULT_SECONDS = 3600.0
"""The longest ``delay`` or ``hang_seconds`` a fault may ask for."""
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


def is_whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_seconds(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_FAULT_SECONDS
    )


@dataclass
class Fault:
    """What to do instead of (or before) the normal answer, for one request.

    :param status: answer with this HTTP status (``None``: answer normally).
    :param body: the body: a dict or list is sent as JSON, a str or bytes as is.
    :param content_type: the ``Content-Type`` of ``body``.
    :param headers: extra answer headers, e.g. ``{"Retry-After": "1"}``.
    :param delay: seconds to wait before answering (or before hanging or dropping).
        The request is counted on arrival, before the wait.
    :param action: ``respond``; ``hang`` (read the request, never answer, until the
        emulator stops or ``hang_seconds`` pass); ``drop`` (read the request, close
        the connection without an answer); ``raw`` (write ``body`` as the whole answer,
        status line and headers included, byte for byte, then close: for broken
        answers such as a truncated body, bad chunking or bad gzip); ``raw-hang`` (write
        ``body`` the same way, then send nothing more until ``hang_seconds`` pass: an
        answer that stalls half-way).
    :param deliver: record the message as delivered although the answer is a fault
        (models "processed, but the answer was lost").
    """

    status: int | None = None
    body: Any = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: str = "respond"
    hang_seconds: float = 300.0
    deliver: bool = False

    def __post_init__(self) -> None:
        """Refuse a fault the emulator could not act on, now rather than at the next request."""
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"fault action must be one of {FAULT_ACTIONS}, not {self.action!r}")
        if self.status is not None and not is_whole(self.status, 100, 599):
            raise ValueError(
                f"fault status must be an HTTP status from 100 to 599 or null, not {self.status!r}"
            )
        for name in ("delay", "hang_seconds"):
            value = getattr(self, name)
            if not _is_seconds(value):
                raise ValueError(
                    f"fault {name} must be seconds from 0 to {MAX_FAULT_SECONDS:g}, not {value!r}"
                )
        if not isinstance(self.content_type, str) or not _HEADER_VALUE.fullmatch(self.content_type):
            raise ValueError(f"fault content_type must be a header value, not {self.content_type!r}")
        if not isinstance(self.headers, dict) or not all(
            isinstance(k, str)
            and _HEADER_NAME.fullmatch(k)
            and isinstance(v, str)
            and _HEADER_VALUE.fullmatch(v)
            for k, v in self.headers.items()
        ):
            raise ValueError(f"fault headers must map header names to header values, not {self.headers!r}")
        if not isinstance(self.deliver, bool):
            raise ValueError(f"fault deliver must be true or false, not {self.deliver!r}")
        if not isinstance(self.body, (type(None), str, bytes, dict, list)):
            raise ValueError(f"fault body must be null, a string or JSON, not {type(self.body).__name__}")


@dataclass(frozen=True)
class ReceivedMessage:
    """A message the emulator accepted (answered 2xx, or a fault with ``deliver``)."""

    destination: str
    text: str
    system_id: str
    auth: str
    transaction_id: str
    message_id: str
    received_at: float


@dataclass(frozen=True)
class ReceivedRequest:
    """Any request to the message endpoint, accepted or not, with what was answered."""

    body: bytes
    headers: dict[str, str]
    status: int | None
    fault: str | None
