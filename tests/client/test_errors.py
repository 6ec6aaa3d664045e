"""Errors by kind, each raised for its cause over real HTTP; all still ``SignalAPIError``."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from airflow_provider_signal import client, errors
from airflow_provider_signal.errors import (
    SignalAPIError,
    SignalAuthenticationError,
    SignalConnectionError,
    SignalMaybeDeliveredError,
    SignalNotSentError,
    SignalRateLimitError,
    SignalRejectedError,
    SignalUnavailableError,
)
from tls_support import TLSServer, self_signed_localhost

DEST = "447700900123"
PAYLOAD = {"destination": DEST, "text": "hi"}
KINDS = [
    SignalAuthenticationError,
    SignalUnavailableError,
    SignalRateLimitError,
    SignalRejectedError,
    SignalNotSentError,
    SignalConnectionError,
    SignalMaybeDeliveredError,
]


def post_failing(sender: Any) -> SignalAPIError:
    with pytest.raises(SignalAPIError) as caught:
        sender.post(dict(PAYLOAD), destination=DEST)
    return caught.value


def test_every_kind_is_a_signal_api_error_exported_from_both_modules() -> None:
    for kind in KINDS:
        assert issubclass(kind, SignalAPIError) and kind.__doc__
        assert getattr(errors, kind.__name__) is kind and getattr(client, kind.__name__) is kind
    assert issubclass(SignalRateLimitError, SignalUnavailableError)
    assert issubclass(SignalConnectionError, SignalNotSentError)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_an_authentication_error(
    signal_api: Any, make_client: Any, status: int
) -> None:
    signal_api.fail_next(1, status=status, body={"error": "Bad credentials"})
    error = post_failing(make_client(retries=2))

    assert type(error) is SignalAuthenticationError
    assert (error.status_code, error.api_message, error.maybe_delivered) == (status, "Bad credentials", False)
    assert signal_api.request_count == 1  # never retried


def test_wrong_credentials_against_the_emulator_are_an_authentication_error(signal_api: Any) -> None:
    from airflow_provider_signal.client import SignalClient, SignalClientSettings

    with SignalClient(SignalClientSettings("who", "wrong", api_url=signal_api.url)) as sender:
        error = post_failing(sender)
    assert type(error) is SignalAuthenticationError and "wrong" not in str(error)


def test_429_after_every_retry_is_a_rate_limit_error(signal_api: Any, make_client: Any) -> None:
    signal_api.fail_next(3, status=429, body={"error": "Slow down"})
    error = post_failing(make_client(retries=1))

    assert type(error) is SignalRateLimitError and isinstance(error, SignalUnavailableError)
    assert (error.status_code, error.maybe_delivered) == (429, False)
    assert "after 2 attempts" in str(error) and signal_api.request_count == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_after_every_retry_is_unavailable(
    signal_api: Any, make_client: Any, status: int
) -> None:
    signal_api.fail_next(3, status=status)
    error = post_failing(make_client(retries=1))

    assert type(error) is SignalUnavailableError and error.status_code == status
    assert signal_api.request_count == 2


def test_an_invalid_message_is_rejected(signal_api: Any, make_client: Any) -> None:
    signal_api.fail_next(1, status=400, body={"error": "destination invalid"})
    error = post_failing(make_client())
    assert type(error) is SignalRejectedError and error.status_code == 400


def test_a_2xx_without_a_message_id_is_a_rejected_destination(signal_api: Any, make_client: Any) -> None:
    signal_api.fail_next(1, status=200, body={"transactionID": "t1", "messageID": [""]})
    error = post_failing(make_client())
    assert type(error) is SignalRejectedError and error.api_message == "empty messageID"


def test_a_500_is_the_plain_api_error(signal_api: Any, make_client: Any) -> None:
    signal_api.fail_next(1, status=500, body={"error": "oops"})
    error = post_failing(make_client())
    assert type(error) is SignalAPIError and error.maybe_delivered is False


def test_a_refused_connection_is_a_connection_error_nothing_sent(ports: Any, make_client: Any) -> None:
    error = post_failing(make_client(api_url=f"http://127.0.0.1:{ports['closed']}", retries=1))

    assert type(error) is SignalConnectionError and isinstance(error, SignalNotSentError)
    assert error.maybe_delivered is False and error.status_code is None
    assert "could not connect" in str(error)


def test_an_unreachable_host_is_a_connection_error(ports: Any, make_client: Any) -> None:
    error = post_failing(
        make_client(api_url=f"http://127.0.0.1:{ports['unreachable']}", timeout=0.3, retries=0)
    )
    assert type(error) is SignalConnectionError and "could not connect within 0.3 s" in str(error)


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "hang", "hang_seconds": 3},
        {"action": "drop"},
        {"action": "raw", "body": b'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"trans'},
    ],
    ids=["read-time-out", "dropped-after-send", "2xx-body-broke-off"],
)
def test_an_answer_lost_after_the_request_went_out_may_have_been_delivered(
    signal_api: Any, make_client: Any, fault: dict[str, Any]
) -> None:
    signal_api.fail_next(1, deliver=True, **fault)
    error = post_failing(make_client(timeout=0.5, retries=2))

    assert type(error) is SignalMaybeDeliveredError and error.maybe_delivered is True
    assert "may or may not have been delivered" in str(error)
    assert signal_api.request_count == 1 and len(signal_api.messages) == 1  # never re-sent


def test_each_kind_survives_pickle_and_copy_with_its_attributes(signal_api: Any, make_client: Any) -> None:
    signal_api.fail_next(1, status=429, body={"error": "Slow down"})
    error = post_failing(make_client(retries=0))
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error), copy.deepcopy(error)):  # noqa: S301
        assert type(clone) is SignalRateLimitError and str(clone) == str(error)
        assert vars(clone) == vars(error)
    for kind in KINDS:
        made = kind("m", destination=DEST, status_code=1, api_message="a", maybe_delivered=True)
        again = pickle.loads(pickle.dumps(made))  # noqa: S301 - our own bytes
        assert type(again) is kind and vars(again) == vars(made)


def test_a_tls_error_after_the_request_is_never_could_not_connect(
    signal_api: Any, make_client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests.adapters

    cert, key = self_signed_localhost(tmp_path)
    server = TLSServer(cert, key)
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", cert)
    try:
        error = post_failing(make_client(api_url=f"https://127.0.0.1:{server.port}", timeout=2, retries=2))
    finally:
        server.close()

    assert type(error) is SignalMaybeDeliveredError and error.maybe_delivered is True
    assert "could not connect" not in str(error) and "may or may not have been delivered" in str(error)
    assert server.connections == 1


def test_could_not_connect_says_the_attempts_really_made(
    signal_api: Any, make_client: Any, tmp_path: Any
) -> None:
    server = TLSServer(*self_signed_localhost(tmp_path))  # its certificate is not trusted here
    try:
        error = post_failing(make_client(api_url=f"https://127.0.0.1:{server.port}", timeout=2, retries=2))
    finally:
        server.close()

    assert type(error) is SignalConnectionError and error.maybe_delivered is False
    assert "after 1 attempt(s)" in str(error) and "after 3 attempt(s)" not in str(error)
