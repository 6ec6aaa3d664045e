"""The reliability guarantees, proven over real HTTP against the emulator's fault injection.

Every case checks both sides: what the caller sees (result or error, its text, how long it
took) and what the emulator received (requests, TCP connections, messages delivered).

- transient faults (429, 502, 503, 504) are retried within the bound and deliver exactly once;
- permanent faults (4xx, 500, 3xx) are not retried and the error carries the API's text;
- ambiguous faults (read time-out, connection dropped after the request) are never re-sent
  and say the message may or may not have been delivered;
- unreachable APIs fail clearly within ``settings.time_budget``;
- odd 2xx answers count as sent; input is refused before any request, or arrives intact;
- alerts are shortened rather than dropped, and a failing alert never raises.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_signal.client import transport as client_transport
from airflow_provider_signal.errors import SignalAPIError, SignalDeliveryError, SignalInputError
from airflow_provider_signal.notifications.alert_text import SHORTENED_MARKER
from signal_log_capture import all_logs_at_debug, messages_from
from tls_support import self_signed_localhost

DEST = "447700900123"
NOTIFIER_LOGGER = "airflow_provider_signal.notifications.signal.SignalNotifier"
HTML_502 = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def send_failing(hook: Any, text: str = "hello", destinations: Any = DEST) -> SignalAPIError:
    """Send to one destination, expect it to fail, return that destination's error."""
    with pytest.raises(SignalDeliveryError) as caught:
        hook.send_message(text, destinations)
    [failure] = caught.value.failures
    assert caught.value.results == []
    assert str(failure) in str(caught.value)
    return failure


@pytest.fixture
def closed_port(ports: Any) -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused)."""
    return int(ports["closed"])


@pytest.fixture
def unreachable_port(ports: Any) -> int:
    """A port whose listen queue is full: connects time out, as to an unreachable host."""
    return int(ports["unreachable"])


# -- transient: retried, delivered exactly once --------------------------------------------


def test_503_twice_then_ok_is_delivered_exactly_once(signal_api: Any, make_hook: Any) -> None:
    signal_api.fail_next(2, status=503, body={"error": "Service busy"})
    results = make_hook().send_message("retry me", DEST)

    [message] = signal_api.messages
    assert signal_api.request_count == 3
    assert [r.status for r in signal_api.requests] == [503, 503, 200]
    assert signal_api.connection_count == 1  # the answers were read, so the connection was reused
    assert [r["transaction_id"] for r in results] == [message.transaction_id]
    assert message.text == "retry me"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_then_delivered_once(signal_api: Any, make_hook: Any, status: int) -> None:
    signal_api.fail_next(1, status=status, body={"error": "Too many requests"}, headers={"Retry-After": "1"})
    started = time.monotonic()
    make_hook().send_message("after the pause", DEST)  # backoff_factor=0: the only wait is Retry-After
    elapsed = time.monotonic() - started

    assert 0.95 <= elapsed < 3.0
    assert signal_api.request_count == 2
    assert len(signal_api.messages) == 1


@pytest.mark.parametrize("retry_after", ["6", "http-date"])
def test_a_long_retry_after_is_cut_to_the_maximum(
    signal_api: Any, make_hook: Any, monkeypatch: pytest.MonkeyPatch, retry_after: str
) -> None:
    monkeypatch.setattr(client_transport, "RETRY_AFTER_MAX", 1)  # 10 s in production; 1 s keeps this fast
    if retry_after == "http-date":
        retry_after = formatdate(time.time() + 7, usegmt=True)
    signal_api.fail_next(1, status=429, headers={"Retry-After": retry_after})
    started = time.monotonic()
    make_hook().send_message("capped", DEST)
    elapsed = time.monotonic() - started

    assert 0.95 <= elapsed < 3.0
    assert len(signal_api.messages) == 1


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [(502, HTML_502, "text/html"), (504, "", "text/plain"), (502, '{"error": ', "application/json")],
    ids=["502-html", "504-empty", "502-unreadable-json"],
)
def test_gateway_errors_with_any_body_are_retried_and_delivered_once(
    signal_api: Any, make_hook: Any, status: int, body: str, content_type: str
) -> None:
    signal_api.fail_next(1, status=status, body=body, content_type=content_type)
    results = make_hook().send_message("through the gateway", DEST)

    assert signal_api.request_count == 2
    [message] = signal_api.messages
    assert results[0]["message_ids"] == [message.message_id]


# -- permanent: not retried, the API's text surfaces ---------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "content_type", "api_text"),
    [
        (
            500,
            {"error": "Internal error while queueing"},
            "application/json",
            "Internal error while queueing",
        ),
        (400, {"error": "Invalid destination"}, "application/json", "Invalid destination"),
        (401, {"message": "Unauthorized"}, "application/json", "Unauthorized"),
        (403, {"message": "Forbidden"}, "application/json", "Forbidden"),
        (
            404,
            "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
            "text/html",
            "404 Not Found",
        ),
        (422, "destination is not registered on Signal", "text/plain", "destination is not registered"),
    ],
)
def test_permanent_errors_are_not_retried_and_carry_the_status_and_the_api_text(
    signal_api: Any, make_hook: Any, status: int, body: Any, content_type: str, api_text: str
) -> None:
    signal_api.fail_next(1, status=status, body=body, content_type=content_type)
    failure = send_failing(make_hook())

    assert signal_api.request_count == 1
    assert signal_api.messages == []
    assert failure.status_code == status
    assert failure.api_message is not None and api_text in failure.api_message
    assert f"HTTP {status}" in str(failure) and api_text in str(failure)
    assert failure.destination == DEST and DEST in str(failure)
    assert failure.maybe_delivered is False


@pytest.mark.parametrize("status", [500, 413])
def test_retry_after_on_a_status_that_is_not_retried_is_ignored(
    signal_api: Any, make_hook: Any, status: int
) -> None:
    signal_api.fail_next(1, status=status, headers={"Retry-After": "2"})
    started = time.monotonic()
    failure = send_failing(make_hook())

    assert time.monotonic() - started < 1.5
    assert signal_api.request_count == 1
    assert failure.status_code == status


def test_a_redirect_is_not_followed(signal_api: Any, make_hook: Any, closed_port: int) -> None:
    elsewhere = f"http://127.0.0.1:{closed_port}/signal/message"
    signal_api.fail_next(1, status=307, headers={"Location": elsewhere})
    failure = send_failing(make_hook())

    assert signal_api.request_count == 1
    assert failure.status_code == 307
    assert "redirected" in str(failure) and elsewhere in str(failure)


@pytest.mark.parametrize("retries", [0, 2])
def test_503_forever_gives_up_after_retries_plus_one_requests(
    signal_api: Any, make_hook: Any, retries: int
) -> None:
    signal_api.fail_next(10, status=503, body={"error": "Down for maintenance"})
    hook = make_hook(retries=retries)
    started = time.monotonic()
    failure = send_failing(hook)
    elapsed = time.monotonic() - started

    assert signal_api.request_count == retries + 1
    assert signal_api.pending_faults == 10 - (retries + 1)
    assert signal_api.messages == []
    assert failure.status_code == 503 and failure.api_message == "Down for maintenance"
    if retries:
        assert f"after {retries + 1} attempts" in str(failure)
    assert elapsed < hook.settings.time_budget
    assert elapsed < 2.0  # backoff_factor=0, no Retry-After: nothing to wait for


def test_503_forever_with_backoff_waits_and_stays_within_the_time_budget(
    signal_api: Any, make_hook: Any
) -> None:
    signal_api.fail_next(3, status=503)
    hook = make_hook(retries=2, backoff_factor=0.25)  # urllib3: no wait, then 0.25 * 2 = 0.5 s
    started = time.monotonic()
    send_failing(hook)
    elapsed = time.monotonic() - started

    assert signal_api.request_count == 3
    assert 0.45 <= elapsed < hook.settings.time_budget


# -- ambiguous: never re-sent, reported as "may or may not have been delivered" ------------


@pytest.mark.parametrize("processed", [False, True], ids=["lost-before-processing", "processed"])
def test_a_read_time_out_is_not_resent(
    signal_api: Any, set_connection: Any, make_hook: Any, processed: bool
) -> None:
    set_connection(extra={"timeout": 1})
    signal_api.fail_next(1, action="hang", hang_seconds=5, deliver=processed)
    signal_api.fail_next(5)  # anything re-sent would be answered (and counted) normally
    hook = make_hook()
    started = time.monotonic()
    failure = send_failing(hook)
    elapsed = time.monotonic() - started

    assert failure.maybe_delivered is True and failure.status_code is None
    assert "may or may not have been delivered" in str(failure) and "not re-sent" in str(failure)
    assert "within 1 s" in str(failure)
    assert 0.9 <= elapsed < 2.0  # one time-out, not one per retry
    assert signal_api.request_count == 1
    assert len(signal_api.messages) == int(processed)  # the caller cannot tell these two apart


def test_an_answer_slower_than_the_time_out_is_not_resent(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    set_connection(extra={"timeout": 0.5})
    signal_api.fail_next(1, delay=1.0)  # processed, answered too late
    failure = send_failing(make_hook())

    assert failure.maybe_delivered is True
    assert signal_api.request_count == 1
    assert len(signal_api.messages) == 1


@pytest.mark.parametrize("processed", [False, True], ids=["lost-before-processing", "processed"])
def test_a_connection_dropped_after_the_request_is_not_resent(
    signal_api: Any, make_hook: Any, processed: bool
) -> None:
    signal_api.fail_next(1, action="drop", deliver=processed)
    failure = send_failing(make_hook())

    assert failure.maybe_delivered is True and failure.status_code is None
    assert "connection closed before the API answered" in str(failure)
    assert "not re-sent" in str(failure)
    assert signal_api.request_count == 1
    assert len(signal_api.messages) == int(processed)


def test_a_drop_on_a_reused_connection_is_not_resent_and_the_hook_recovers(
    signal_api: Any, make_hook: Any
) -> None:
    hook = make_hook()
    hook.send_message("first", DEST)
    signal_api.fail_next(1, action="drop")
    failure = send_failing(hook, "second")
    hook.send_message("third", DEST)

    assert failure.maybe_delivered is True
    assert [r.fault for r in signal_api.requests] == [None, "drop", None]
    assert [m.text for m in signal_api.messages] == ["first", "third"]
    assert signal_api.connection_count == 2


def test_a_keep_alive_connection_closed_by_the_server_while_idle_is_replaced_before_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API (or a load balancer) closes an idle keep-alive connection between two sends.

    Decision: the second message is delivered exactly once, on a new connection. urllib3
    checks whether a pooled connection was dropped by the server before reusing it, so a
    connection closed while idle is replaced before the request goes out; nothing is
    re-sent. A close that races the send itself (the request is on the wire when the
    server closes) is an ambiguous failure like a dropped answer: reported as "may or may
    not have been delivered" and not retried (see the drop tests above).
    """
    from airflow_provider_signal.hooks.signal import SignalHook
    from airflow_provider_signal.testing import SignalAPIEmulator

    with SignalAPIEmulator(system_id="ka", password="ka-password", keepalive_timeout=0.3) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_KEEPALIVE", emulator.connection_json(retries=0))
        hook = SignalHook("signal_keepalive", backoff_factor=0)
        try:
            hook.send_message("before the idle close", DEST)
            time.sleep(0.8)  # well past the server's keep-alive time-out
            hook.send_message("after the idle close", DEST)
        finally:
            hook.close()

        assert [m.text for m in emulator.messages] == ["before the idle close", "after the idle close"]
        assert emulator.request_count == 2
        assert emulator.connection_count == 2


# -- unreachable: a clear error within the time budget -------------------------------------


def test_connection_refused_is_retried_then_reported_within_the_time_budget(
    set_connection: Any, make_hook: Any, closed_port: int
) -> None:
    set_connection(host=f"http://127.0.0.1:{closed_port}", extra={"retries": 2, "timeout": 2})
    hook = make_hook()
    started = time.monotonic()
    failure = send_failing(hook)
    elapsed = time.monotonic() - started

    assert "could not connect to the Signal API after 3 attempt(s)" in str(failure)
    assert "Check the API URL" in str(failure)
    assert failure.maybe_delivered is False and failure.status_code is None
    assert elapsed < hook.settings.time_budget


def test_an_unreachable_host_times_out_within_the_time_budget(
    set_connection: Any, make_hook: Any, unreachable_port: int
) -> None:
    set_connection(host=f"http://127.0.0.1:{unreachable_port}", extra={"retries": 1, "timeout": 0.5})
    hook = make_hook()
    started = time.monotonic()
    failure = send_failing(hook)
    elapsed = time.monotonic() - started

    assert "could not connect within 0.5 s after 2 attempt(s)" in str(failure)
    assert "reachable" in str(failure)
    assert failure.maybe_delivered is False
    assert 0.9 <= elapsed < hook.settings.time_budget  # two connect time-outs, then give up


def test_a_host_name_that_does_not_resolve_is_a_clear_error(
    set_connection: Any, make_hook: Any, invalid_names_do_not_resolve: list[str]
) -> None:
    """DNS failure. The name lookup is answered here (``socket.getaddrinfo`` refuses the
    reserved ``.invalid`` name itself), so no query leaves this machine."""
    looked_up = invalid_names_do_not_resolve
    set_connection(host="https://signal-api.invalid", extra={"retries": 1, "timeout": 1})
    hook = make_hook()
    started = time.monotonic()
    failure = send_failing(hook)

    assert looked_up == ["signal-api.invalid", "signal-api.invalid"]  # retried once
    assert "could not connect to the Signal API after 2 attempt(s)" in str(failure)
    assert "signal-api.invalid" in str(failure) and "DNS" in str(failure)
    assert failure.maybe_delivered is False
    assert time.monotonic() - started < hook.settings.time_budget


# -- odd answers: a 2xx counts as sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, None, "application/json"),
        (200, "<html><body>Message queued</body></html>", "text/html"),
        (200, '{"transactionID": "abc", "messageID": [', "application/json"),
        (202, "", "text/plain"),
    ],
    ids=["empty", "html", "unreadable-json", "202-empty"],
)
def test_a_2xx_with_an_unreadable_body_counts_as_sent_and_is_not_resent(
    signal_api: Any, make_hook: Any, status: int, body: Any, content_type: str
) -> None:
    signal_api.fail_next(1, status=status, body=body, content_type=content_type, deliver=True)
    [result] = make_hook().send_message("odd answer", DEST)

    assert signal_api.request_count == 1
    assert len(signal_api.messages) == 1
    assert result["status_code"] == status
    assert result["response_readable"] is False
    assert (result["transaction_id"], result["message_ids"]) == (None, [])
    assert result["response"] == " ".join((body or "").split())


@pytest.mark.parametrize(
    ("body", "transaction_id", "message_ids"),
    [
        ({"transactionID": "t-1", "messageID": ["m-1", "m-2"]}, "t-1", ["m-1", "m-2"]),
        ({"transactionId": "t-2", "messageId": "m-3"}, "t-2", ["m-3"]),
        ({"transaction_id": "t-3", "message_id": ["m-4"]}, "t-3", ["m-4"]),
        ({"transactionID": 42, "messageID": [7, None]}, "42", ["7"]),
        ({"transactionID": "t-4", "messageID": None}, "t-4", []),
        ({"status": "queued"}, None, []),
        ([{"messageID": "m-5"}], None, []),
    ],
    ids=["list", "camel-string", "snake-list", "numbers", "null-ids", "no-ids", "json-list"],
)
def test_success_bodies_of_every_known_shape_are_parsed_tolerantly(
    signal_api: Any, make_hook: Any, body: Any, transaction_id: str | None, message_ids: list[str]
) -> None:
    signal_api.fail_next(1, status=200, body=body, deliver=True)
    [result] = make_hook().send_message("shapes", DEST)

    assert (result["transaction_id"], result["message_ids"]) == (transaction_id, message_ids)
    assert result["response"] == body and result["response_readable"] is True
    assert signal_api.request_count == 1


# -- inputs --------------------------------------------------------------------------------

UNICODE_TEXTS = {
    "emoji": "🚨 Pipeline failed 🔥 👩🏽‍💻 on-call 🇬🇧",
    "right-to-left": "فشل خط الأنابيب — הצינור נכשל (DAG ‏etl‏)",
    "newlines-and-tabs": "line one\nline two\r\nline three\ttabbed\n\n",
    "braces": "{{ ds }} {% raw %} {#comment#} {} {{",
    "quotes": "\"double\" 'single' `back` \\backslash\\ “curly” «guillemets»",
    "mixed-scripts": "Ελληνικά 中文 日本語 한국어 Ünïcödé — NUL→\u0000←",
}


@pytest.mark.parametrize("text", list(UNICODE_TEXTS.values()), ids=list(UNICODE_TEXTS))
def test_unicode_text_arrives_intact(signal_api: Any, make_hook: Any, text: str) -> None:
    make_hook().send_message(text, DEST)

    [message] = signal_api.messages
    assert message.text == text
    [request] = signal_api.requests
    assert json.loads(request.body)["text"] == text
    assert request.headers["Content-Type"] == "application/json"


def test_non_ascii_text_is_sent_as_utf8_not_escaped(signal_api: Any, make_hook: Any) -> None:
    make_hook().send_message("Grüße 🚀", DEST)
    assert "Grüße 🚀".encode() in signal_api.requests[0].body


def test_the_same_person_written_several_ways_gets_one_message(signal_api: Any, make_hook: Any) -> None:
    results = make_hook().send_message(
        "dedup",
        ["+44 7700 900123", "447700900123", "0044-7700-900123", "+1 202 555 0100", "+44 (7700) 900123"],
    )
    assert [r["destination"] for r in results] == ["447700900123", "12025550100"]
    assert sorted(m.destination for m in signal_api.messages) == ["12025550100", "447700900123"]
    assert signal_api.request_count == 2


def test_the_text_limit_counts_characters_and_refuses_before_any_request(
    signal_api: Any, make_hook: Any
) -> None:
    hook = make_hook()
    with pytest.raises(SignalInputError, match="2001 characters, over the limit of 2000"):
        hook.send_message("🙂" * 2001, [DEST, "12025550100"])
    assert signal_api.request_count == 0
    assert signal_api.connection_count == 0

    hook.send_message("🙂" * 2000, DEST)  # 8,000 bytes of UTF-8, but 2,000 characters
    assert signal_api.messages[0].text == "🙂" * 2000


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
def test_any_unicode_text_round_trips_over_http(signal_api: Any, make_hook: Any, text: str) -> None:
    before = signal_api.request_count
    make_hook().send_message(text, DEST)
    assert signal_api.request_count == before + 1
    assert signal_api.messages[-1].text == text


# -- alerts --------------------------------------------------------------------------------


def alert_context(**extra: Any) -> dict[str, Any]:
    """A callback context as Airflow gives it (Airflow 2 needs the DAG to render templates)."""
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG
    dag = DAG(dag_id="fault_alerts", schedule=None, start_date=datetime(2026, 1, 1))
    return {"dag": dag, "run_id": "manual__1", **extra}


def test_a_failure_alert_with_a_huge_exception_is_shortened_and_delivered(signal_api: Any) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    huge = RuntimeError("disk full " + "x" * 100_000 + "\n" + "stack frame line\n" * 5_000)
    SignalNotifier(destinations=DEST, kind="failure")(alert_context(exception=huge))

    [message] = signal_api.messages
    assert message.text.startswith("❌ Airflow")
    assert "Error: RuntimeError: disk full xxx" in message.text
    assert SHORTENED_MARKER in message.text
    assert "stack frame line" not in message.text
    assert "Run: manual__1" in message.text
    assert len(message.text) <= 2000
    assert signal_api.request_count == 1


def test_an_alert_text_over_the_limit_is_cut_with_the_marker_not_dropped(signal_api: Any) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    long_text = "\n".join(f"line {n}: " + "y" * 90 for n in range(1_000))  # ~100 KB
    SignalNotifier(text=long_text, destinations=DEST)(alert_context())

    [message] = signal_api.messages
    assert len(message.text) == 2000
    assert message.text.endswith(SHORTENED_MARKER)
    assert message.text.startswith("line 0: yyy")


@pytest.mark.parametrize("fault", ["http-500", "api-down", "api-hangs"])
@pytest.mark.parametrize("form", ["called", "uncalled"])
def test_a_failing_alert_never_raises_and_logs_its_cause(
    signal_api: Any,
    set_connection: Any,
    caplog: pytest.LogCaptureFixture,
    closed_port: int,
    fault: str,
    form: str,
) -> None:
    from airflow_provider_signal.callbacks import signal_failure_callback

    host: dict[str, Any] = {}
    if fault == "http-500":
        signal_api.fail_next(1, status=500, body={"error": "queue unavailable"})
        cause, requests_seen = "HTTP 500 (queue unavailable)", 1
    elif fault == "api-down":
        host = {"host": f"http://127.0.0.1:{closed_port}"}
        cause, requests_seen = "could not connect", 0
    else:
        signal_api.fail_next(1, action="hang", hang_seconds=5)
        cause, requests_seen = "may or may not have been delivered", 1
    set_connection(**host, extra={"destinations": DEST, "retries": 0, "timeout": 0.5})
    context = alert_context(exception=ValueError("the task broke"))

    with all_logs_at_debug(caplog):
        started = time.monotonic()
        if form == "called":
            assert signal_failure_callback(destinations=DEST)(context) is None
        else:  # on_failure_callback=signal_failure_callback: Airflow passes the context directly
            assert signal_failure_callback(context) is None
        elapsed = time.monotonic() - started

    assert elapsed < 2.0
    [logged] = messages_from(caplog, NOTIFIER_LOGGER, logging.ERROR)
    assert "Signal alert via connection 'signal_default' was not sent" in logged
    assert "outcome is unchanged" in logged
    assert cause in logged and DEST in logged
    assert signal_api.request_count == requests_seen
    assert signal_api.messages == []


def test_an_empty_message_id_is_a_rejected_destination_not_a_delivery(
    signal_api: Any, make_hook: Any
) -> None:
    """The sibling APIs answer ``messageID: [""]`` for a destination they reject."""
    signal_api.fail_next(1, status=200, body={"transactionID": "t-9", "messageID": [""]})
    hook = make_hook()
    hook.fanout_workers = 1  # one at a time, so the fault meets the first destination
    with pytest.raises(SignalDeliveryError) as caught:
        hook.send_message("hi", [DEST, "447700900456"])
    [failure] = caught.value.failures
    assert (failure.destination, failure.status_code) == (DEST, 200)
    assert "rejected destination" in str(failure) and "t-9" in str(failure)
    assert [r["destination"] for r in caught.value.results] == ["447700900456"]
    assert signal_api.request_count == 2  # not re-sent


# -- broken answers: the status came, the body did not (issue 13) ---------------------------

OK_JSON = b'{"transactionID": "t-1", "messageID": ["m-1"]}'


def raw_answer(head: str, body: bytes = b"") -> bytes:
    """An HTTP/1.1 answer, byte for byte, for the emulator's ``raw`` faults."""
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


BROKEN_2XX = {
    "truncated": (
        "raw",
        raw_answer("HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 200\n", OK_JSON),
    ),
    "bad-chunking": (
        "raw",
        raw_answer(
            "HTTP/1.1 200 OK\nContent-Type: application/json\nTransfer-Encoding: chunked\n", b"zz\r\n{}\r\n"
        ),
    ),
    "bad-gzip": (
        "raw",
        raw_answer(
            "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Encoding: gzip\nContent-Length: 20\n",
            b"this is not gzip....",
        ),
    ),
    "stalls-past-the-time-out": (
        "raw-hang",
        raw_answer("HTTP/1.1 202 Accepted\nContent-Type: application/json\nContent-Length: 200\n", OK_JSON),
    ),
}


@pytest.mark.parametrize("processed", [False, True], ids=["lost", "processed"])
@pytest.mark.parametrize("case", list(BROKEN_2XX))
def test_a_2xx_whose_body_breaks_off_may_have_been_delivered_and_is_not_resent(
    signal_api: Any, set_connection: Any, make_hook: Any, case: str, processed: bool
) -> None:
    action, answer = BROKEN_2XX[case]
    set_connection(extra={"timeout": 0.5, "retries": 2})
    signal_api.fail_next(1, action=action, body=answer, hang_seconds=5, deliver=processed)
    hook = make_hook()
    started = time.monotonic()
    failure = send_failing(hook)
    elapsed = time.monotonic() - started

    assert failure.maybe_delivered is True
    assert failure.status_code == (202 if case.startswith("stalls") else 200)
    assert "may or may not have been delivered" in str(failure) and "not re-sent" in str(failure)
    assert f"HTTP {failure.status_code}" in str(failure)
    assert signal_api.request_count == 1
    assert len(signal_api.messages) == int(processed)
    assert elapsed < hook.settings.time_budget


def test_a_refusal_whose_body_breaks_off_is_still_reported_by_its_status(
    signal_api: Any, make_hook: Any
) -> None:
    answer = raw_answer(
        "HTTP/1.1 401 Unauthorized\nContent-Type: application/json\nContent-Length: 99\n", b"{"
    )
    signal_api.fail_next(1, action="raw", body=answer)
    failure = send_failing(make_hook())

    assert (failure.status_code, failure.maybe_delivered) == (401, False)
    assert "Check the System ID and password" in str(failure)
    assert signal_api.request_count == 1


# -- a TLS handshake that fails is a connect failure (issue 13) -----------------------------


class TLSStandIn:
    """A TCP listener on 127.0.0.1 that never completes a TLS handshake: it either stays
    silent (``stall``) or resets each connection after reading the ClientHello (``reset``).
    Counts the TCP connections made to it."""

    def __init__(self, mode: str) -> None:
        import socket
        import threading

        self.mode = mode
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(32)
        self.port = self.server.getsockname()[1]
        self.accepted: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket
        import struct

        self.server.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                continue
            self.accepted.append(conn)
            if self.mode == "reset":
                conn.settimeout(2)
                try:
                    conn.recv(4096)  # the ClientHello
                finally:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()  # an RST, not a FIN

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.server.close()


@pytest.mark.parametrize("mode", ["stall", "reset"])
def test_a_tls_handshake_that_stalls_or_is_reset_is_retried_as_a_connect_failure(
    signal_api: Any, set_connection: Any, make_hook: Any, mode: str
) -> None:
    stand_in = TLSStandIn(mode)
    try:
        set_connection(host=f"https://127.0.0.1:{stand_in.port}", extra={"timeout": 0.5, "retries": 2})
        hook = make_hook()
        started = time.monotonic()
        failure = send_failing(hook)
        elapsed = time.monotonic() - started
        time.sleep(0.2)  # let the stand-in accept the last connection
        connections = len(stand_in.accepted)
    finally:
        stand_in.close()

    assert failure.maybe_delivered is False and failure.status_code is None
    assert "could not connect" in str(failure) and "after 3 attempt(s)" in str(failure)
    assert "may or may not" not in str(failure)
    assert connections == 3  # retried, as nothing can have been sent
    assert elapsed < hook.settings.time_budget


# -- a malformed Retry-After is as if absent (issue 13) -------------------------------------


@pytest.mark.parametrize(
    "retry_after", ["soon", "-5", "1.5", "Infinity", "Thu, 99 Foo 2026 00:00:00 GMT", "1e3"]
)
@pytest.mark.parametrize("status", [429, 503])
def test_a_malformed_retry_after_is_ignored_and_the_retry_goes_on(
    signal_api: Any, make_hook: Any, status: int, retry_after: str
) -> None:
    signal_api.fail_next(1, status=status, body={"error": "busy"}, headers={"Retry-After": retry_after})
    started = time.monotonic()
    [result] = make_hook().send_message("retried", DEST)  # backoff_factor=0: no wait at all

    assert time.monotonic() - started < 2.0
    assert signal_api.request_count == 2
    [message] = signal_api.messages
    assert result["transaction_id"] == message.transaction_id


def test_a_malformed_retry_after_every_time_keeps_the_status_and_the_api_text(
    signal_api: Any, make_hook: Any
) -> None:
    signal_api.fail_next(5, status=503, body={"error": "Down"}, headers={"Retry-After": "later"})
    failure = send_failing(make_hook(retries=1))

    assert (failure.status_code, failure.api_message) == (503, "Down")
    assert "InvalidHeader" not in str(failure)
    assert signal_api.request_count == 2


# -- pathological 2xx bodies: read capped in size and time (issue 13) -----------------------


def test_a_deeply_nested_2xx_body_is_unreadable_not_a_crash(signal_api: Any, make_hook: Any) -> None:
    deep = "[" * 30_000 + "]" * 30_000  # 60 KB, within the cap, deeper than Python recurses
    signal_api.fail_next(1, status=200, body=deep, deliver=True)
    hook = make_hook()
    hook.fanout_workers = 1  # one at a time, so the deep body meets the first destination
    results = hook.send_message("deep", [DEST, "447700900456"])

    assert [r["destination"] for r in results] == [DEST, "447700900456"]
    assert results[0]["response_readable"] is False and results[0]["status_code"] == 200
    assert results[1]["response_readable"] is True
    assert len(signal_api.messages) == 2


@pytest.mark.parametrize("kind", ["50-mb-body", "gzip-bomb"])
def test_a_huge_or_inflating_2xx_body_is_read_only_up_to_the_cap(
    signal_api: Any, make_hook: Any, kind: str
) -> None:
    import gzip
    import tracemalloc

    if kind == "gzip-bomb":
        body = gzip.compress(b" " * 100_000_000, 9)  # about 100 KB that inflates to 100 MB
        headers = {"Content-Encoding": "gzip"}
    else:
        body = b'{"transactionID": "t-big", "pad": "' + b"x" * 50_000_000 + b'"}'
        headers = {}
    signal_api.fail_next(1, status=200, body=body, headers=headers, deliver=True)
    hook = make_hook()
    _ = hook.client  # settings and session built before measuring
    tracemalloc.start()
    try:
        started = time.monotonic()
        [result] = hook.send_message("big answer", DEST)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result["status_code"] == 200 and result["response_readable"] is False
    assert len(result["response"]) <= 500
    assert peak < 5_000_000, f"{peak:,} bytes allocated while reading the answer"
    assert elapsed < 2.0
    assert len(signal_api.messages) == 1 and signal_api.request_count == 1


# -- text the UTF-8 codec refuses, and alerts whose exception cannot be printed (issue 13) ---


def test_a_lone_surrogate_is_sent_replaced_to_every_recipient(signal_api: Any, make_hook: Any) -> None:
    text = "disk \udcff full \ud83d\ude42"  # a lone surrogate, then a pair as JSON can leave it
    results = make_hook().send_message(text, [DEST, "447700900456"])

    assert len(results) == 2
    assert [m.text for m in signal_api.messages] == ["disk \ufffd full 🙂"] * 2


def test_the_client_itself_sends_a_lone_surrogate_replaced(signal_api: Any) -> None:
    """Also when called directly, without the hook's validation."""
    from airflow_provider_signal.client import SignalClient, SignalClientSettings

    settings = SignalClientSettings(signal_api.system_id, signal_api.password, api_url=signal_api.url)
    with SignalClient(settings) as client:
        result = client.post({"destination": DEST, "text": "half \ud83d pair"}, destination=DEST)
    assert result["status_code"] == 200
    assert [m.text for m in signal_api.messages] == ["half \ufffd pair"]


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


@pytest.mark.parametrize(
    "exception",
    [UnprintableError("x"), ValueError("bad byte \udc80 from a decoder")],
    ids=["str-raises", "surrogate"],
)
def test_a_failure_alert_goes_out_whatever_the_exception(signal_api: Any, exception: Exception) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    SignalNotifier(destinations=DEST, kind="failure")(alert_context(exception=exception))

    [message] = signal_api.messages
    assert message.text.startswith("❌ Airflow")
    assert f"Error: {type(exception).__name__}" in message.text
    assert "Run: manual__1" in message.text


# -- errors survive pickling and copying (issue 13) -----------------------------------------


def _raise_a_delivery_error(port: int) -> None:
    from airflow_provider_signal.client import SignalClient, SignalClientSettings

    settings = SignalClientSettings("id", "pw", api_url=f"http://127.0.0.1:{port}", retries=0)
    with SignalClient(settings) as client:
        try:
            client.post({"destination": DEST, "text": "t"}, destination=DEST)
        except SignalAPIError as failure:
            raise SignalDeliveryError(
                "all failed", failures=[failure], results=[{"destination": "x"}]
            ) from None


def test_errors_survive_pickle_copy_and_a_process_pool(signal_api: Any, make_hook: Any) -> None:
    import copy
    import multiprocessing
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    signal_api.fail_next(1, status=503, body={"error": "Busy"})
    with pytest.raises(SignalDeliveryError) as caught:
        make_hook(retries=0).send_message("hi", [DEST, "447700900456"])
    error = caught.value
    unpickled = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    for clone in (unpickled, copy.copy(error), copy.deepcopy(error)):
        assert type(clone) is SignalDeliveryError and str(clone) == str(error)
        assert clone.results == error.results
        [failure] = clone.failures
        assert vars(failure) == vars(error.failures[0]) and str(failure) == str(error.failures[0])
        assert failure.status_code == 503 and failure.api_message == "Busy"
    copied = pickle.loads(pickle.dumps(SignalInputError("bad number")))  # noqa: S301 - our own bytes
    assert str(copied) == "bad number"

    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    with pool, pytest.raises(SignalDeliveryError) as remote:
        pool.submit(_raise_a_delivery_error, signal_api.port).result(timeout=60)
    assert remote.value.results == [{"destination": "x"}]
    assert remote.value.failures[0].status_code == 401  # the emulator refused the client's credentials


# -- every spelling of "no destination" means the default recipients (issue 13) ---------------


@pytest.mark.parametrize("destinations", [None, "", " ", ",", " ; ", [], ["", " "], ("",)])
def test_every_spelling_of_no_destination_goes_to_the_default_recipients(
    signal_api: Any, set_connection: Any, make_hook: Any, destinations: Any
) -> None:
    set_connection(extra={"destinations": DEST})
    [result] = make_hook().send_message("to the defaults", destinations)

    assert result["destination"] == DEST
    assert [m.destination for m in signal_api.messages] == [DEST]


@pytest.mark.parametrize("destinations", [None, "", " ", ",", []])
def test_no_destination_and_no_default_recipients_is_refused_before_any_request(
    signal_api: Any, make_hook: Any, destinations: Any
) -> None:
    with pytest.raises(SignalInputError, match="No Signal destination"):
        make_hook().send_message("to nobody", destinations)
    assert signal_api.request_count == 0


@pytest.mark.parametrize("template", ["{{ '' }}", " {{ '' }} ", "{{ ',' }}"])
def test_a_notifier_whose_destinations_render_empty_alerts_the_default_recipients(
    signal_api: Any, set_connection: Any, template: str
) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    set_connection(extra={"destinations": DEST})
    SignalNotifier(text="fell back", destinations=template)(alert_context())
    assert [(m.destination, m.text) for m in signal_api.messages] == [(DEST, "fell back")]


# -- a TLS stream broken after the request was sent (issue 13) --------------------------------


def test_a_2xx_whose_tls_stream_breaks_mid_body_may_have_been_delivered(
    signal_api: Any, set_connection: Any, make_hook: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A real TLS server answers 200 with half a body, then garbage in place of the next TLS
    record: the client sees a broken TLS stream after the request was processed."""
    import os
    import socket
    import ssl
    import threading

    import requests.adapters

    cert, key = self_signed_localhost(tmp_path)
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", cert)  # trust this test's certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(10)
    received: list[bytes] = []

    def serve() -> None:
        with server.accept()[0] as raw, context.wrap_socket(raw, server_side=True) as tls:
            tls.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                data += tls.recv(65536)
            received.append(data)
            tls.sendall(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{"messa'
            )
            os.write(tls.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # not a record this session wrote
            time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        set_connection(
            host=f"https://127.0.0.1:{server.getsockname()[1]}", extra={"timeout": 2, "retries": 2}
        )
        failure = send_failing(make_hook())
    finally:
        thread.join(10)
        server.close()

    assert len(received) == 1 and b'"destination": "447700900123"' in received[0]
    assert failure.maybe_delivered is True and failure.status_code == 200
    assert "may or may not have been delivered" in str(failure) and "HTTP 200" in str(failure)
    assert "SSL" in str(failure) or "TLS" in str(failure)
