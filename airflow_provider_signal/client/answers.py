"""Answers: a success turned into a result, every failure into one error, from one table.

:data:`FAILURES` maps each kind of failure (no answer, a broken answer, an HTTP status) to
its message, its advice, whether the message may have been delivered, and the error class
raised. Nothing here does HTTP: it reads what the transport hands back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from airflow_provider_signal.client.redaction import Redactor
from airflow_provider_signal.client.settings import SignalClientSettings
from airflow_provider_signal.client.transport import Answer, TransportFailure
from airflow_provider_signal.errors import SignalAPIError
from airflow_provider_signal.types import SignalSendResult

_MAX_ERROR_TEXT = 300
_MAX_CAUSE_TEXT = 200
_MAX_RESPONSE_TEXT = 500

FailureKind = Literal[
    # no answer (the transport's kinds)
    "connect_timeout",
    "connect_failed",
    "read_timeout",
    "answer_lost",
    "other",
    # an answer
    "body_broken",
    "no_message_id",
    "credentials_refused",
    "redirected",
    "invalid",
    "rate_limited",
    "unavailable",
    "http_error",
]


@dataclass(frozen=True)
class Failure:
    """How one kind of failure is reported.

    ``summary`` and ``advice`` are ``str.format`` templates over the fields of
    :func:`error_for` (``who``, ``where``, ``status``, ...). The message reads
    ``Signal <who> <summary>. <advice> Cause: <cause>``.
    """

    summary: str
    advice: str
    maybe_delivered: bool = False
    error: type[SignalAPIError] = SignalAPIError


_NOT_RESENT = "It was not re-sent, to avoid a duplicate."
_HTTP = "failed: HTTP {status}{tries}{api_text} [{where}]"

FAILURES: dict[FailureKind, Failure] = {
    "connect_timeout": Failure(
        "failed: could not connect within {connect:g} s {attempts} ({where})",
        "Check the API URL and that the host is reachable.",
    ),
    "connect_failed": Failure(
        "failed: could not connect to the Signal API {attempts} ({where})",
        "Check the API URL, DNS and firewall.",
    ),
    "read_timeout": Failure(
        "may or may not have been delivered: the API did not answer within {timeout:g} s ({where})",
        "It was not re-sent, to avoid a duplicate; raise the connection's timeout if the API is slow.",
        maybe_delivered=True,
    ),
    "answer_lost": Failure(
        "may or may not have been delivered: the connection closed before the API answered ({where})",
        _NOT_RESENT,
        maybe_delivered=True,
    ),
    "other": Failure("failed ({where})", "", maybe_delivered=True),
    "body_broken": Failure(
        "may or may not have been delivered: the API answered HTTP {status}, but its answer broke "
        "off before it was complete ({where})",
        _NOT_RESENT,
        maybe_delivered=True,
    ),
    "no_message_id": Failure(
        # The sibling Melrose Labs APIs answer an empty message id for a rejected destination.
        "failed: the API accepted the request (HTTP {status}, transaction {transaction_id}) but gave "
        "no message id, its sign of a rejected destination [{where}]",
        "Check that the number is a Signal user.",
    ),
    "credentials_refused": Failure(
        _HTTP, "Check the System ID and password of the connection, and the auth mode."
    ),
    "redirected": Failure(_HTTP, "The API redirected to {location!r}: set the API URL to the final address."),
    "invalid": Failure(_HTTP, "The API refused the message as invalid: check the destination and text."),
    "rate_limited": Failure(_HTTP, "The API is overloaded or unavailable: try again later."),
    "unavailable": Failure(_HTTP, "The API is overloaded or unavailable: try again later."),
    "http_error": Failure(_HTTP, "Check the Melrose Labs service status; the message was not re-sent."),
}


def http_failure_kind(status: int) -> FailureKind:
    """The kind of a non-2xx answer."""
    if status in (401, 403):
        return "credentials_refused"
    if 300 <= status < 400:
        return "redirected"
    if status == 400:
        return "invalid"
    if status == 429:
        return "rate_limited"
    if status in (502, 503, 504):
        return "unavailable"
    return "http_error"


@dataclass(frozen=True)
class Call:
    """One request, as its errors name it."""

    settings: SignalClientSettings
    redactor: Redactor
    destination: str | None

    @property
    def who(self) -> str:
        return f"message to {self.destination}" if self.destination else "connection test"

    @property
    def where(self) -> str:
        return f"{self.settings.source}, {self.settings.message_url}"


def error_for(
    kind: FailureKind,
    call: Call,
    *,
    cause: str = "",
    status_code: int | None = None,
    api_message: str | None = None,
    **fields: Any,
) -> SignalAPIError:
    """The error of ``kind`` for ``call``, from :data:`FAILURES`, redacted."""
    failure = FAILURES[kind]
    settings = call.settings
    values = {
        "who": call.who,
        "where": call.where,
        "connect": settings.connect_timeout,
        "timeout": settings.timeout,
        "attempts": f"after {settings.retries + 1} attempt(s)",
        "status": status_code,
        **fields,
    }
    message = f"Signal {call.who} {failure.summary.format(**values)}."
    if failure.advice:
        message += " " + failure.advice.format(**values)
    if cause:
        message += f" Cause: {short(call.redactor.redact(cause), _MAX_CAUSE_TEXT)}"
    return failure.error(
        call.redactor.redact(message),
        destination=call.destination,
        status_code=status_code,
        api_message=api_message,
        maybe_delivered=failure.maybe_delivered,
    )


def transport_error(failure: TransportFailure, call: Call) -> SignalAPIError:
    """The error of a send that got no answer."""
    return error_for(failure.kind, call, cause=failure.cause)


def result_or_error(answer: Answer, call: Call) -> SignalSendResult | SignalAPIError:
    """The result of an accepted message, or the error the answer means."""
    status = answer.status
    if answer.broken is not None and 200 <= status < 300:
        return error_for("body_broken", call, cause=answer.broken, status_code=status)
    # A refusal or overload whose body broke off is clear from its status: mapped without a body.
    body, readable, raw_text = parse_body(answer, call.redactor)
    if 200 <= status < 300:
        transaction_id, message_ids = parse_success(body)
        if message_ids and not any(message_ids):
            return error_for(
                "no_message_id",
                call,
                status_code=status,
                api_message="empty messageID",
                transaction_id=transaction_id,
            )
        return {
            "destination": call.destination,
            "transaction_id": transaction_id,
            "message_ids": message_ids,
            "status_code": status,
            "response": body if readable else short(raw_text, _MAX_RESPONSE_TEXT),
            "response_readable": readable,
        }
    api_text = call.redactor.redact(extract_error_text(body, raw_text) or answer.reason)
    return error_for(
        http_failure_kind(status),
        call,
        status_code=status,
        api_message=api_text or None,
        tries=f" after {answer.attempts} attempts" if answer.attempts > 1 else "",
        api_text=f" ({api_text})" if api_text else "",
        location=answer.headers.get("Location", ""),
    )


def parse_body(answer: Answer, redactor: Redactor) -> tuple[Any, bool, str]:
    """The answer's JSON (redacted), whether it was readable, and its redacted text."""
    encoding = answer.encoding or "utf-8"
    try:
        text = answer.raw.decode(encoding, errors="replace")
    except LookupError:
        text = answer.raw.decode("utf-8", errors="replace")
    body: Any = None
    readable = False
    if answer.complete and text.strip():
        try:
            # Redact after parsing too: JSON may spell a secret with escapes the raw text hides.
            body = redactor.redact_value(json.loads(text))
            readable = True
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
            body = None
    return body, readable, redactor.redact(text)


def short(text: str, limit: int = _MAX_ERROR_TEXT) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_id_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item is not None]
    return [str(value)]


def parse_success(body: Any) -> tuple[str | None, list[str]]:
    """Pull the transaction id and message ids out of a success body of unknown shape."""
    if not isinstance(body, dict):
        return None, []
    transaction = next(
        (body[key] for key in ("transactionID", "transactionId", "transaction_id") if key in body), None
    )
    ids = next((body[key] for key in ("messageID", "messageId", "message_id") if key in body), None)
    return (str(transaction) if transaction is not None else None), _as_id_list(ids)


def extract_error_text(body: Any, raw_text: str) -> str:
    """Whatever text an error answer carries: ``error``, ``message``, or the raw body."""
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "errorMessage", "description"):
            value = body.get(key)
            if value:
                return short(value if isinstance(value, str) else json.dumps(value))
    if raw_text.lstrip().startswith("<"):
        title = re.search(r"<title>(.*?)</title>", raw_text, re.IGNORECASE | re.DOTALL)
        stripped = re.sub(r"<[^>]+>", " ", title.group(1) if title else raw_text)
        return short(stripped)
    return short(raw_text)
