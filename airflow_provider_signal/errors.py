"""Errors raised by the Signal client and hook.

Plain Python (no Airflow import) so the client can raise them too. Every message
says what failed, for which destination and connection, and what to do next; none
ever contains a password.
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
