"""``SignalClient``: one message body in, a result or one :class:`SignalAPIError` out.

It joins the parts: settings, a :class:`~.transport.Transport` (HTTP), a
:class:`~.redaction.Redactor` (secrets) and the answers table (:mod:`.answers`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_provider_signal.client.answers import Call, result_or_error, transport_error
from airflow_provider_signal.client.redaction import Redactor
from airflow_provider_signal.client.settings import SignalClientSettings
from airflow_provider_signal.client.transport import Transport, TransportFailure
from airflow_provider_signal.types import SignalSendResult
from airflow_provider_signal.validation import clean_text

if TYPE_CHECKING:
    from airflow_provider_signal.client.transport import Session


class SignalClient:
    """Sends messages to the Signal API over one reused HTTP session.

    Not thread-safe; use one client per thread. Call :meth:`close` (or use it as a
    context manager) to release the connection.
    """

    def __init__(self, settings: SignalClientSettings) -> None:
        self.transport = Transport(settings)
        self.redactor = Redactor((settings.password, settings.basic_token))

    @property
    def settings(self) -> SignalClientSettings:
        """The settings in force (those of :meth:`limited_to` inside it)."""
        return self.transport.settings

    def __repr__(self) -> str:
        return f"SignalClient(url={self.settings.message_url!r}, system_id={self.settings.system_id!r})"

    def __enter__(self) -> SignalClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password and the Basic token: what must never be shown."""
        return self.redactor.secrets

    def redact(self, text: str) -> str:
        """Replace any secret in ``text``, in any plausible encoding, by ``***``."""
        return self.redactor.redact(text)

    @property
    def session(self) -> Session:
        """The ``requests`` session (built on first use)."""
        return self.transport.session

    @contextmanager
    def limited_to(self, settings: SignalClientSettings) -> Iterator[None]:
        """For the sends inside, use the time-out and retries of ``settings`` over this same
        session and connection (a new client would open a new connection).

        Safe because a client is used by one thread only. Its error messages then state the
        time-out and attempts that really applied.
        """
        with self.transport.limited_to(settings):
            yield

    def close(self) -> None:
        self.transport.close()

    def post(self, payload: dict[str, Any], *, destination: str | None) -> SignalSendResult:
        """POST one message body; input must already be valid.

        The whole send, answer included, stays within ``settings.time_budget``. Raises
        :class:`~airflow_provider_signal.errors.SignalAPIError` (of the kind the failure is).
        """
        settings = self.settings
        body = dict(payload)
        if settings.auth == "payload":
            body["systemid"] = settings.system_id
            body["password"] = settings.password
        # clean_text: a lone surrogate becomes U+FFFD, not a UnicodeEncodeError.
        data = clean_text(json.dumps(body, ensure_ascii=False)).encode("utf-8")
        answer = self.transport.post(data)
        call = Call(settings, self.redactor, destination)
        if isinstance(answer, TransportFailure):
            raise transport_error(answer, call)
        outcome = result_or_error(answer, call)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
