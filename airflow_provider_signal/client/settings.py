"""``SignalClientSettings``: everything a client needs, checked when made, before any request.

The retry policy's numbers live in :mod:`.retry_policy` (importable from here too, as before).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from airflow_provider_signal.client.numbers import is_number, is_whole
from airflow_provider_signal.client.retry_policy import BACKOFF_MAX as BACKOFF_MAX
from airflow_provider_signal.client.retry_policy import RETRY_AFTER_MAX as RETRY_AFTER_MAX
from airflow_provider_signal.client.retry_policy import RETRY_STATUSES as RETRY_STATUSES
from airflow_provider_signal.client.urls import ApiUrl, parse_api_url
from airflow_provider_signal.defaults import (
    CONNECT_TIMEOUT_MAX,
    DEFAULT_API_URL,
    DEFAULT_MAX_TEXT_LENGTH,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
)
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.types import AUTH_MODES, AuthMode

DEFAULT_BACKOFF_FACTOR = 0.5
TIMEOUT_MAX = 300
RETRIES_MAX = 10


@dataclass(frozen=True)
class SignalClientSettings:
    """Everything the client needs; the hook builds it from an Airflow connection."""

    system_id: str
    password: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    auth: AuthMode = "basic"
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    source: str = "Signal client"
    """Named in error messages, e.g. "connection 'signal_default'"."""
    endpoint: ApiUrl = field(init=False, repr=False, compare=False)
    """The message endpoint, parsed once from ``api_url`` when the settings are made; the
    message URL, the loopback rule and the HTTP session all read this one parse."""

    def __post_init__(self) -> None:
        where = f" ({self.source})"
        if not self.system_id or not self.password:
            raise SignalInputError(
                f"Signal credentials are missing{where}: set the System ID (login) and Password."
            )
        if self.auth not in AUTH_MODES:
            raise SignalInputError(
                f"Signal auth mode {self.auth!r} is not known{where}: use 'basic' or 'payload'."
            )
        if not is_number(self.timeout, 0, TIMEOUT_MAX, above_low=True):
            raise SignalInputError(
                f"Signal timeout {self.timeout!r} is out of range{where}: give seconds, above 0 and "
                f"at most {TIMEOUT_MAX}."
            )
        if not is_whole(self.retries, 0, RETRIES_MAX):
            raise SignalInputError(
                f"Signal retries {self.retries!r} is out of range{where}: give a whole number from 0 "
                f"to {RETRIES_MAX}."
            )
        if not is_number(self.backoff_factor, 0, BACKOFF_MAX):
            raise SignalInputError(
                f"Signal backoff_factor {self.backoff_factor!r} is out of range{where}: give seconds "
                f"from 0 to {BACKOFF_MAX:g}."
            )
        if not is_whole(self.max_text_length, 1, 10**9):
            raise SignalInputError(
                f"Signal max_text_length {self.max_text_length!r} is not a positive whole number{where}."
            )
        # A bad URL is refused here, before any request; the parse is kept for every later use.
        object.__setattr__(self, "endpoint", parse_api_url(self.api_url, self.source).message_endpoint())

    @property
    def message_url(self) -> str:
        """The message endpoint every request goes to."""
        return str(self.endpoint)

    @property
    def basic_token(self) -> str:
        """The base64 ``systemid:password`` of the Basic ``Authorization`` header: a secret too."""
        return base64.b64encode(f"{self.system_id}:{self.password}".encode()).decode()

    @property
    def connect_timeout(self) -> float:
        return min(self.timeout, CONNECT_TIMEOUT_MAX)

    @property
    def time_budget(self) -> float:
        """Upper bound, in seconds, of one destination's send with these settings.

        Reading the answer's body is held within it too (see :meth:`SignalClient.post`).
        """
        connect = self.connect_timeout
        attempts = self.retries + 1
        waits = self.retries * max(BACKOFF_MAX, RETRY_AFTER_MAX)
        return attempts * (connect + self.timeout) + waits
