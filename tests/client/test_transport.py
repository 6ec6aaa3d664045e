"""``client/transport.py`` over real HTTP against the emulator: what comes back for each fault."""

from __future__ import annotations

import ast
import pathlib
import time
from typing import Any

import pytest

from airflow_provider_signal.client import transport
from airflow_provider_signal.client.settings import SignalClientSettings
from airflow_provider_signal.client.transport import MAX_ANSWER_BYTES, Answer, Transport, TransportFailure
from tls_support import TLSServer, self_signed_localhost

BODY = b'{"destination": "447700900123", "text": "hi"}'
CLIENT_PACKAGE = pathlib.Path(transport.__file__).parent


@pytest.fixture
def make_transport(signal_api: Any) -> Any:
    made: list[Transport] = []

    def build(**fields: Any) -> Transport:
        fields.setdefault("api_url", signal_api.url)
        fields.setdefault("backoff_factor", 0)
        made.append(Transport(SignalClientSettings(signal_api.system_id, signal_api.password, **fields)))
        return made[-1]

    yield build
    for each in made:
        each.close()


def test_only_the_transport_imports_requests_or_urllib3() -> None:
    importers = set()
    for path in CLIENT_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in ("requests", "urllib3") for name in names):
                importers.add(path.name)
    assert importers == {"transport.py"}


def test_an_answer_comes_back_whole_and_the_connection_is_reused(
    signal_api: Any, make_transport: Any
) -> None:
    sender = make_transport()
    first, second = sender.post(BODY), sender.post(BODY)

    assert isinstance(first, Answer) and isinstance(second, Answer)
    assert (first.status, first.complete, first.broken, first.attempts) == (200, True, None, 1)
    assert b"transactionID" in first.raw
    assert signal_api.connection_count == 1 and len(signal_api.messages) == 2


def test_a_503_is_retried_and_the_attempts_are_counted(signal_api: Any, make_transport: Any) -> None:
    signal_api.fail_next(2, status=503, body={"error": "busy"})
    answer = make_transport(retries=3).post(BODY)

    assert isinstance(answer, Answer) and (answer.status, answer.attempts) == (200, 3)
    assert signal_api.request_count == 3


def test_a_503_every_time_hands_back_the_last_answer(signal_api: Any, make_transport: Any) -> None:
    signal_api.fail_next(5, status=503, body={"error": "still busy"})
    answer = make_transport(retries=1).post(BODY)

    assert isinstance(answer, Answer) and (answer.status, answer.attempts) == (503, 2)
    assert b"still busy" in answer.raw and signal_api.request_count == 2


def test_a_refused_connection_is_a_connect_failure(ports: Any, make_transport: Any) -> None:
    failure = make_transport(api_url=f"http://127.0.0.1:{ports['closed']}", retries=1).post(BODY)

    assert isinstance(failure, TransportFailure) and failure.kind == "connect_failed"
    assert "NewConnectionError" in failure.cause or "ConnectionError" in failure.cause


def test_no_answer_in_time_is_a_read_time_out_never_retried(signal_api: Any, make_transport: Any) -> None:
    signal_api.fail_next(1, action="hang", hang_seconds=3)
    started = time.monotonic()
    failure = make_transport(timeout=0.3, retries=2).post(BODY)

    assert isinstance(failure, TransportFailure) and failure.kind == "read_timeout"
    assert time.monotonic() - started < 2.0
    assert signal_api.request_count == 1


def test_a_connection_dropped_after_the_request_is_an_answer_lost(
    signal_api: Any, make_transport: Any
) -> None:
    signal_api.fail_next(1, action="drop", deliver=True)
    failure = make_transport(retries=2).post(BODY)

    assert isinstance(failure, TransportFailure) and failure.kind == "answer_lost"
    assert signal_api.request_count == 1 and len(signal_api.messages) == 1


def test_a_body_that_breaks_off_comes_back_incomplete_with_its_cause(
    signal_api: Any, make_transport: Any
) -> None:
    truncated = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"transac'
    signal_api.fail_next(1, action="raw", body=truncated, deliver=True)
    answer = make_transport().post(BODY)

    assert isinstance(answer, Answer) and answer.status == 200
    assert answer.complete is False and answer.broken is not None and "IncompleteRead" in answer.broken


def test_a_body_that_stalls_is_cut_at_the_read_time_out(signal_api: Any, make_transport: Any) -> None:
    stalled = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"tra'
    signal_api.fail_next(1, action="raw-hang", body=stalled, hang_seconds=5, deliver=True)
    started = time.monotonic()
    answer = make_transport(timeout=0.5, retries=0).post(BODY)

    assert time.monotonic() - started < 2.0
    assert isinstance(answer, Answer) and answer.complete is False and answer.broken is not None


def test_a_huge_body_is_read_only_up_to_the_cap(signal_api: Any, make_transport: Any) -> None:
    signal_api.fail_next(1, status=200, body=b"x" * (MAX_ANSWER_BYTES * 4), deliver=True)
    answer = make_transport().post(BODY)

    assert isinstance(answer, Answer) and len(answer.raw) == MAX_ANSWER_BYTES
    assert answer.complete is False and answer.broken is None


def test_limited_to_applies_fewer_retries_then_restores_them(signal_api: Any, make_transport: Any) -> None:
    sender = make_transport(retries=3)
    fewer = SignalClientSettings(
        signal_api.system_id, signal_api.password, api_url=signal_api.url, backoff_factor=0, retries=0
    )
    signal_api.fail_next(1, status=503)
    with sender.limited_to(fewer):
        limited = sender.post(BODY)
        assert sender.settings is fewer
    assert isinstance(limited, Answer) and limited.status == 503
    signal_api.fail_next(1, status=503)
    again = sender.post(BODY)
    assert isinstance(again, Answer) and again.status == 200 and sender.settings.retries == 3
    assert signal_api.request_count == 3


def test_basic_auth_is_the_settings_token_and_a_loopback_session_ignores_proxies(
    signal_api: Any, make_transport: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # would refuse: the send must not use it
    sender = make_transport()
    answer = sender.post(BODY)

    assert isinstance(answer, Answer) and answer.status == 200
    [request] = signal_api.requests
    assert request.headers["Authorization"] == f"Basic {sender.settings.basic_token}"
    assert sender.session.trust_env is False


# -- classified by whether the request went out; attempts counted, not assumed (issue 19 item 8) --


@pytest.fixture
def tls_server(tmp_path: Any) -> Any:
    cert, key = self_signed_localhost(tmp_path)
    server = TLSServer(cert, key)
    server.cert = cert  # type: ignore[attr-defined]
    yield server
    server.close()


def test_a_tls_error_while_awaiting_the_answer_may_have_been_delivered(
    tls_server: Any, make_transport: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests.adapters

    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", tls_server.cert)
    failure = make_transport(api_url=f"https://127.0.0.1:{tls_server.port}", timeout=2, retries=2).post(BODY)

    assert isinstance(failure, TransportFailure)
    assert failure.kind == "answer_lost"  # not "connect_failed": the request had gone out
    assert (failure.attempts, tls_server.connections) == (1, 1)  # and it was not re-sent
    assert len(tls_server.received) == 1 and b"447700900123" in tls_server.received[0]
    assert "SSL" in failure.cause


def test_an_untrusted_certificate_is_a_connect_failure_after_the_attempts_really_made(
    tls_server: Any, make_transport: Any
) -> None:
    failure = make_transport(api_url=f"https://127.0.0.1:{tls_server.port}", timeout=2, retries=2).post(BODY)

    assert isinstance(failure, TransportFailure) and failure.kind == "connect_failed"
    assert failure.attempts == 1  # urllib3 does not retry a certificate error; 3 were allowed
    assert tls_server.received == [] and "CERTIFICATE_VERIFY_FAILED" in failure.cause


def test_refused_connections_count_every_attempt(ports: Any, make_transport: Any) -> None:
    failure = make_transport(api_url=f"http://127.0.0.1:{ports['closed']}", retries=2).post(BODY)
    assert isinstance(failure, TransportFailure) and (failure.kind, failure.attempts) == ("connect_failed", 3)
