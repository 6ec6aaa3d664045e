"""Errors raised by the Signal client and hook.

Plain Python (no Airflow import) so the client can raise them too. Every message
says what failed, for which destination and connection, and what to do next; none
ever contains a password.

A failed request raises a :class:`SignalAPIError`, of the kind that says what a caller
can do (catch the base class to handle them all):

- :class:`SignalAuthenticationError`: credentials refused (401/403): fix the connection;
- :class:`SignalUnavailableError` (and :class:`SignalRateLimitError` for 429): overloaded
  or unavailable after every retry: try again later;
- :class:`SignalRejectedError`: this message refused (400, or no message id): fix it;
- :class:`SignalNotSentError` (and :class:`SignalConnectionError`, could not connect):
  nothing was sent: safe to send again;
- :class:`SignalMaybeDeliveredError`: may have been delivered: do not send again blindly.
"""

from __future__ import annotations

from typing import Any


def _rebuild(cls: type[SignalError], args: tuple[Any, ...], state: dict[str, Any]) -> SignalError:
    """Unpickle (or copy) an error without calling its ``__init__`` (keyword-only arguments)."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class SignalError(Exception):
    """Base class of every error this provider raises.

    Survives ``pickle`` and ``copy`` with its message and attributes: Airflow, executors
    and process pools may pickle an exception to hand it to another process.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, dict(self.__dict__))


class SignalInputError(SignalError, ValueError):
    """Bad input (destination, text or setting), refused before any HTTP request."""


class SignalAPIError(SignalError):
    """One request to the Signal API failed.

    :param message: what failed and what to do next.
    :param destination: the normalised destination the request was for, if any.
    :param status_code: the HTTP status, or ``None`` when no answer arrived.
    :param api_message: the text the API (or a gateway in front of it) gave, if any.
    :param maybe_delivered: ``True`` when the request may have reached the API before
        the answer was lost (read time-out, dropped connection): it was not re-sent,
        and the message may or may not have been delivered.
    """

    def __init__(
        self,
        message: str,
        *,
        destination: str | None = None,
        status_code: int | None = None,
        api_message: str | None = None,
        maybe_delivered: bool = False,
    ) -> None:
        super().__init__(message)
        self.destination = destination
        self.status_code = status_code
        self.api_message = api_message
        self.maybe_delivered = maybe_delivered


class SignalAuthenticationError(SignalAPIError):
    """The API refused the credentials (HTTP 401 or 403). Nothing was delivered.

    Catch it to tell whoever runs the connection: sending again will not help until the
    System ID, Password or auth mode is fixed.
    """


class SignalUnavailableError(SignalAPIError):
    """The API stayed overloaded or unavailable (HTTP 429, 502, 503 or 504) through every
    retry. ``status_code`` says which; the message was not accepted.

    Catch it to try again later (a queue, a later task retry).
    """


class SignalRateLimitError(SignalUnavailableError):
    """The API asked us to slow down (HTTP 429) through every retry. Send less often, or later."""


class SignalRejectedError(SignalAPIError):
    """The API refused this message (HTTP 400, or a 2xx without a message id: a destination
    that is not a Signal user). Sending it again unchanged will not help: fix the
    destination or the text."""


class SignalNotSentError(SignalAPIError):
    """No request went out, so nothing was delivered (``maybe_delivered`` is ``False``).

    Catch it where sending again is safe: it cannot make a duplicate.
    """


class SignalConnectionError(SignalNotSentError):
    """Could not connect to the API (refused, DNS, connect time-out, TLS handshake) after
    every attempt. Nothing was sent; check the API URL, DNS and firewall, or send again."""


class SignalMaybeDeliveredError(SignalAPIError):
    """The request went out but no complete answer came back (a read time-out, the
    connection dropped after the request was sent, a 2xx whose body broke off): the
    message may or may not have been delivered (``maybe_delivered`` is ``True``).

    Catch it where a duplicate matters: do not send it again blindly.
    """


class SignalDeliveryError(SignalError):
    """A send to one or more destinations ended with at least one failure.

    Raised after every destination was tried. ``failures`` holds one
    :class:`SignalAPIError` per failed destination, ``results`` the result dicts of
    the destinations that were accepted.
    """

    def __init__(
        self, message: str, *, failures: list[SignalAPIError], results: list[dict[str, Any]]
    ) -> None:
        super().__init__(message)
        self.failures = failures
        self.results = results
