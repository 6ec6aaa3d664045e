"""``client/answers.py``: one table from failure kind to error, and success parsing, on their own."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from airflow_provider_signal.client.answers import (
    FAILURES,
    Call,
    FailureKind,
    error_for,
    extract_error_text,
    http_failure_kind,
    parse_success,
    result_or_error,
    transport_error,
)
from airflow_provider_signal.client.redaction import Redactor
from airflow_provider_signal.client.settings import SignalClientSettings
from airflow_provider_signal.client.transport import Answer, TransportFailure
from airflow_provider_signal.errors import SignalAPIError

SETTINGS = SignalClientSettings(
    "id", "hunter2", api_url="http://127.0.0.1:9", timeout=2, retries=1, source="unit"
)
CALL = Call(SETTINGS, Redactor((SETTINGS.password, SETTINGS.basic_token)), "447700900123")


def answer(status: int, raw: bytes = b"", **fields: Any) -> Answer:
    values: dict[str, Any] = {
        "reason": "",
        "headers": {},
        "encoding": "utf-8",
        "complete": True,
        "broken": None,
        "attempts": 1,
    }
    values.update(fields)
    return Answer(status=status, raw=raw, **values)


def test_every_kind_has_one_row_of_the_table() -> None:
    assert set(FAILURES) == set(get_args(FailureKind))
    for kind, failure in FAILURES.items():
        assert issubclass(failure.error, SignalAPIError), kind


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, "credentials_refused"),
        (403, "credentials_refused"),
        (301, "redirected"),
        (400, "invalid"),
        (429, "rate_limited"),
        (502, "unavailable"),
        (503, "unavailable"),
        (504, "unavailable"),
        (500, "http_error"),
        (404, "http_error"),
    ],
)
def test_each_status_has_its_kind(status: int, kind: str) -> None:
    assert http_failure_kind(status) == kind


def test_an_error_names_the_destination_the_source_and_the_cause_never_the_password() -> None:
    failure = TransportFailure("connect_failed", "NewConnectionError: refused, password hunter2", 2)
    error = transport_error(failure, CALL)
    text = str(error)
    assert text.startswith(
        "Signal message to 447700900123 failed: could not connect to the Signal API after 2 attempt(s)"
    )
    assert "(unit, http://127.0.0.1:9/signal/message)" in text
    assert "Check the API URL, DNS and firewall." in text
    assert text.endswith("Cause: NewConnectionError: refused, password ***")
    assert (error.destination, error.status_code, error.maybe_delivered) == ("447700900123", None, False)


def test_a_connection_test_is_named_as_such() -> None:
    error = transport_error(
        TransportFailure("read_timeout", "ReadTimeout: x"), Call(SETTINGS, CALL.redactor, None)
    )
    assert str(error).startswith("Signal connection test may or may not have been delivered")
    assert "within 2 s" in str(error) and error.maybe_delivered is True


def test_error_for_builds_any_kind_from_its_row() -> None:
    error = error_for("invalid", CALL, status_code=400, tries="", api_text=" (bad)")
    assert str(error).endswith(
        "HTTP 400 (bad) [unit, http://127.0.0.1:9/signal/message]. "
        "The API refused the message as invalid: check the destination and text."
    )


def test_a_2xx_is_a_result_with_the_ids_and_the_redacted_body() -> None:
    result = result_or_error(
        answer(200, b'{"transactionID": "t1", "messageID": ["m1"], "echo": "hunter2"}'), CALL
    )
    assert result == {
        "destination": "447700900123",
        "transaction_id": "t1",
        "message_ids": ["m1"],
        "status_code": 200,
        "response": {"transactionID": "t1", "messageID": ["m1"], "echo": "***"},
        "response_readable": True,
    }


def test_a_2xx_without_json_counts_as_sent_and_keeps_its_text_short() -> None:
    result = result_or_error(answer(202, b"<html>" + b"ok " * 400 + b"</html>"), CALL)
    assert isinstance(result, dict) and result["response_readable"] is False
    assert len(result["response"]) <= 500 and result["transaction_id"] is None


def test_a_2xx_with_only_empty_message_ids_is_a_rejected_destination() -> None:
    error = result_or_error(answer(200, b'{"transactionID": "t9", "messageID": [""]}'), CALL)
    assert isinstance(error, SignalAPIError)
    assert "transaction t9" in str(error) and "Check that the number is a Signal user." in str(error)
    assert (error.status_code, error.api_message, error.maybe_delivered) == (200, "empty messageID", False)


def test_a_2xx_whose_body_broke_off_may_have_been_delivered() -> None:
    error = result_or_error(answer(200, complete=False, broken="ProtocolError: IncompleteRead"), CALL)
    assert isinstance(error, SignalAPIError) and error.maybe_delivered is True
    assert "answered HTTP 200, but its answer broke off" in str(error)
    assert str(error).endswith("Cause: ProtocolError: IncompleteRead")


def test_a_refusal_whose_body_broke_off_is_mapped_from_its_status() -> None:
    error = result_or_error(answer(503, complete=False, broken="ProtocolError: x", reason="Busy"), CALL)
    assert isinstance(error, SignalAPIError) and error.maybe_delivered is False
    assert (error.status_code, error.api_message) == (503, "Busy")


@pytest.mark.parametrize(
    ("status", "raw", "fields", "expected"),
    [
        (
            503,
            b'{"error": "Service busy"}',
            {"attempts": 2},
            "failed: HTTP 503 after 2 attempts (Service busy) [unit, http://127.0.0.1:9/signal/message]. "
            "The API is overloaded or unavailable: try again later.",
        ),
        (
            401,
            b'{"message": "Forbidden hunter2"}',
            {},
            "failed: HTTP 401 (Forbidden ***) [unit, http://127.0.0.1:9/signal/message]. "
            "Check the System ID and password of the connection, and the auth mode.",
        ),
        (
            302,
            b"",
            {"headers": {"Location": "https://elsewhere/"}, "reason": "Found"},
            "failed: HTTP 302 (Found) [unit, http://127.0.0.1:9/signal/message]. "
            "The API redirected to 'https://elsewhere/': set the API URL to the final address.",
        ),
    ],
)
def test_an_http_failure_reads_status_attempts_api_text_and_advice(
    status: int, raw: bytes, fields: dict[str, Any], expected: str
) -> None:
    error = result_or_error(answer(status, raw, **fields), CALL)
    assert isinstance(error, SignalAPIError)
    assert str(error) == f"Signal message to 447700900123 {expected}"
    assert error.status_code == status


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"transactionID": "t", "messageID": "m"}, ("t", ["m"])),
        ({"transactionId": 7, "messageId": ["a", None, "b"]}, ("7", ["a", "b"])),
        ({"transaction_id": "t", "message_id": None}, ("t", [])),
        (["not", "a", "dict"], (None, [])),
    ],
)
def test_parse_success_takes_any_shape(body: Any, ids: tuple[Any, list[str]]) -> None:
    assert parse_success(body) == ids


def test_extract_error_text_prefers_fields_then_an_html_title() -> None:
    assert extract_error_text({"detail": {"code": 1}}, "") == '{"code": 1}'
    assert extract_error_text(None, "<html><title>502 Bad Gateway</title></html>") == "502 Bad Gateway"
    assert extract_error_text(None, "  plain\n text ") == "plain text"
