"""Public types: what a send returns, and the closed sets of setting values.

Plain Python (only ``typing``), so the client, the hook and DAG authors can all import
it at no cost::

    from airflow_provider_signal.types import SignalSendResult
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, get_args

AuthMode = Literal["basic", "payload"]
"""How the credentials travel: HTTP Basic auth, or ``systemid``/``password`` in the JSON body."""

AUTH_MODES: tuple[AuthMode, ...] = get_args(AuthMode)


class SignalSendResult(TypedDict):
    """One destination's accepted message, as ``SignalHook.send_message`` and the operator return it."""

    destination: str | None
    """The normalised number (digits only, international form)."""
    transaction_id: str | None
    """The API's ``transactionID``; ``None`` when the answer did not carry one."""
    message_ids: list[str]
    """The API's ``messageID`` values (one per message part); may be empty."""
    status_code: int
    """The HTTP status of the answer (2xx)."""
    response: Any
    """The answer's JSON body, or its text (shortened) when it was not JSON."""
    response_readable: bool
    """``False`` when the 2xx answer was empty, HTML or otherwise not JSON."""


__all__ = ["AUTH_MODES", "AuthMode", "SignalSendResult"]
