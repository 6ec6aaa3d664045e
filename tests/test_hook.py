"""SignalHook against the local emulator over real HTTP, with connections from AIRFLOW_CONN_* JSON."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_signal.errors import SignalDeliveryError, SignalInputError


def test_basic_auth_sends_credentials_in_the_header_only(signal_api: Any, make_hook: Any) -> None:
    results = make_hook().send_message("Hello world!", "+44 7700 900123")

    [request] = signal_api.requests
    token = base64.b64encode(f"{signal_api.system_id}:{signal_api.password}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert json.loads(request.body) == {"destination": "447700900123", "text": "Hello world!"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    [message] = signal_api.messages
    assert (message.destination, message.text, message.auth) == ("447700900123", "Hello world!", "basic")
    assert results == [
        {
            "destination": "447700900123",
            "transaction_id": message.transaction_id,
            "message_ids": [message.message_id],
            "status_code": 200,
            "response": {"transactionID": message.transaction_id, "messageID": [message.message_id]},
            "response_readable": True,
        }
    ]


def test_payload_auth_sends_credentials_in_the_body_only(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    set_connection(extra={"auth": "payload"})
    make_hook().send_message("Hi", ["447700900123"])

    [request] = signal_api.requests
    assert "Authorization" not in request.headers
    assert json.loads(request.body) == {
        "destination": "447700900123",
        "text": "Hi",
        "systemid": signal_api.system_id,
        "password": signal_api.password,
    }
    assert signal_api.messages[0].auth == "payload"


@pytest.mark.parametrize("prefix", ["", "extra__signal__"])
def test_defaults_come_from_extras_under_plain_or_prefixed_names(
    signal_api: Any, set_connection: Any, make_hook: Any, prefix: str
) -> None:
    set_connection(
        extra={
            f"{prefix}destinations": "+44 7700 900123, 0044 7700-900123, +1 202 555 0100",
            f"{prefix}auth": "payload",
            f"{prefix}timeout": "7.5",
            f"{prefix}retries": "2",
        }
    )
    hook = make_hook()
    results = hook.send_message("defaults")

    assert [r["destination"] for r in results] == ["447700900123", "12025550100"]
    assert sorted(m.destination for m in signal_api.messages) == ["12025550100", "447700900123"]
    assert {m.auth for m in signal_api.messages} == {"payload"}
    assert (hook.settings.timeout, hook.settings.retries, hook.settings.auth) == (7.5, 2, "payload")


def test_hook_arguments_override_extras(signal_api: Any, set_connection: Any, make_hook: Any) -> None:
    set_connection(extra={"auth": "payload", "timeout": 3, "destinations": ["447700900123"]})
    hook = make_hook(auth="basic", timeout=4, destinations="447700900999")
    hook.send_message("override")

    assert (hook.settings.auth, hook.settings.timeout) == ("basic", 4)
    assert [(m.destination, m.auth) for m in signal_api.messages] == [("447700900999", "basic")]


def test_explicit_destinations_replace_the_connection_defaults(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    set_connection(extra={"destinations": "447700900123"})
    make_hook().send_message("explicit", ["+49 151 23456789"])
    assert [m.destination for m in signal_api.messages] == ["4915123456789"]


def test_a_megabyte_of_destinations_given_to_a_send_is_refused_naming_the_argument(
    signal_api: Any, make_hook: Any
) -> None:
    with pytest.raises(SignalInputError) as refused:
        make_hook().send_message("hello", "4" * 1_000_000)
    message = str(refused.value)
    assert "destinations of a send on Signal connection" in message and "(1,000,000 characters)" in message
    assert len(message) < 500
    assert signal_api.messages == []


def test_a_megabyte_of_default_destinations_is_refused_naming_the_connection(
    signal_api: Any, tmp_path: Path
) -> None:
    """In a process of its own: Airflow masks a connection's whole extra as a secret, so a 1 MB
    extra would slow every later log line's redaction in this test process. The connection is
    handed over in a file (an environment variable of 1 MB is over the kernel's limit)."""
    connection = tmp_path / "connection.json"
    connection.write_text(signal_api.connection_json(destinations="4" * 1_000_000))
    script = (
        "import os, sys\n"
        "os.environ['AIRFLOW_CONN_SIGNAL_DEFAULT'] = open(sys.argv[1]).read()\n"
        "from airflow_provider_signal.hooks.signal import SignalHook\n"
        "try:\n    SignalHook().send_message('hello')\nexcept Exception as error:\n    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(connection)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    message = (done.stdout.strip().splitlines() or [done.stderr[-500:]])[-1]
    assert "Default recipients ('destinations') of Signal connection 'signal_default'" in message
    assert "(1,000,000 characters)" in message and len(message) < 500
    assert signal_api.messages == []


@pytest.mark.parametrize(
    ("text", "destinations", "fragment"),
    [
        ("", ["447700900123"], "text is empty"),
        ("   ", ["447700900123"], "text is empty"),
        (None, ["447700900123"], "must be a string"),
        ("ok", ["447700900123", "07700900123"], "national number"),
        ("ok", ["12345"], "international form"),
        ("ok", [None], "not a phone number"),
        ("ok", [], "No Signal destination"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    signal_api: Any, make_hook: Any, text: Any, destinations: Any, fragment: str
) -> None:
    with pytest.raises(SignalInputError, match=fragment):
        make_hook().send_message(text, destinations)
    assert signal_api.request_count == 0
    assert signal_api.connection_count == 0


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"extra": {"auth": "oauth"}}, "auth mode 'oauth' is not known"),
        ({"extra": {"timeout": "soon"}}, "timeout 'soon' is not a number"),
        ({"extra": {"timeout": 0}}, "timeout 0.0 is out of range"),
        ({"extra": {"retries": 2.5}}, "retries 2.5 is not a whole number"),
        ({"extra": {"retries": 99}}, "retries 99 is out of range"),
        ({"password": ""}, "credentials are missing"),
        ({"login": None}, "credentials are missing"),
        ({"host": "http://api.example.com"}, "plain http"),
        ({"host": "ftp://api.example.com"}, "not an http"),
    ],
)
def test_bad_settings_are_refused_before_any_request_naming_the_connection(
    signal_api: Any, set_connection: Any, make_hook: Any, fields: dict[str, Any], fragment: str
) -> None:
    set_connection("signal_broken", **fields)
    with pytest.raises(SignalInputError, match=fragment) as caught:
        make_hook("signal_broken").send_message("hi", ["447700900123"])
    assert "signal_broken" in str(caught.value)
    assert signal_api.request_count == 0


def test_the_text_limit_can_be_raised_on_the_connection(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    set_connection(extra={"max_text_length": 3000})
    make_hook().send_message("y" * 2500, ["447700900123"])
    assert len(signal_api.messages[0].text) == 2500


def test_a_text_masked_down_to_the_limit_is_sent_and_one_far_over_it_is_refused_unmasked(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    set_connection(extra={"max_text_length": 100})
    hook = make_hook()
    url = "postgresql://etl:" + "p" * 200 + "@db.internal/warehouse"  # over the limit until masked
    hook.send_message(f"down: {url}", ["447700900123"])
    assert signal_api.messages[0].text == "down: postgresql://etl:***@db.internal/warehouse"
    with pytest.raises(SignalInputError, match="10000006 characters, over the limit of 100"):
        hook.send_message("token=" + "x" * 10_000_000, ["447700900123"])  # 10 MB: not masked first
    assert signal_api.request_count == 1


def test_partial_failure_tries_every_destination_then_names_each_failure(
    signal_api: Any, make_hook: Any
) -> None:
    signal_api.fail_next(1, status=400, body={"error": "Destination not on Signal"})
    hook = make_hook()
    hook.fanout_workers = 1  # one at a time, so the fault meets the first destination
    with pytest.raises(SignalDeliveryError) as caught:
        hook.send_message("fan-out", ["447700900001", "447700900002", "447700900003"])

    error = caught.value
    assert [m.destination for m in signal_api.messages] == ["447700900002", "447700900003"]
    assert [r["destination"] for r in error.results] == ["447700900002", "447700900003"]
    [failure] = error.failures
    assert (failure.destination, failure.status_code) == ("447700900001", 400)
    assert failure.api_message == "Destination not on Signal"
    assert "1 of 3 destination(s)" in str(error)
    assert "447700900001" in str(error) and "Destination not on Signal" in str(error)
    assert "'signal_default'" in str(error)


def test_fan_out_uses_one_connection_per_worker(signal_api: Any, make_hook: Any) -> None:
    hook = make_hook()
    hook.send_message("many", [f"4477009{n:05d}" for n in range(10)])
    assert len(signal_api.messages) == 10
    assert 1 <= signal_api.connection_count <= hook.fanout_workers == 4


def test_wrong_password_is_a_clear_error_not_retried_and_never_shows_the_password(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    wrong = "definitely-wrong-pw-1234"
    set_connection(password=wrong)
    with pytest.raises(SignalDeliveryError) as caught:
        make_hook().send_message("hi", ["447700900123"])

    text = str(caught.value)
    assert "HTTP 401" in text and "Check the System ID and password" in text
    assert "'signal_default'" in text and "447700900123" in text
    token = base64.b64encode(f"{signal_api.system_id}:{wrong}".encode()).decode()
    assert wrong not in text and token not in text and wrong not in repr(caught.value.failures)
    assert signal_api.request_count == 1
    assert signal_api.messages == []


@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_test_connection_succeeds_and_delivers_nothing(
    signal_api: Any, set_connection: Any, make_hook: Any, auth: str
) -> None:
    set_connection(extra={"auth": auth})
    ok, message = make_hook().test_connection()
    assert ok, message
    assert "accepted the credentials" in message
    assert signal_api.request_count == 1
    assert signal_api.messages == []


@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_test_connection_fails_clearly_on_a_wrong_password(
    signal_api: Any, set_connection: Any, make_hook: Any, auth: str
) -> None:
    set_connection(password="not-the-password-42", extra={"auth": auth})
    ok, message = make_hook().test_connection()
    assert not ok
    assert "HTTP 401" in message and "Check the System ID and password" in message
    assert "not-the-password-42" not in message
    assert signal_api.messages == []


def test_test_connection_reports_an_unreachable_api(set_connection: Any, make_hook: Any) -> None:
    set_connection(host="http://127.0.0.1:9", extra={"retries": 0})
    ok, message = make_hook().test_connection()
    assert not ok
    assert "could not connect" in message


def test_repr_and_results_never_show_the_password(signal_api: Any, make_hook: Any) -> None:
    hook = make_hook()
    results = hook.send_message("hi", ["447700900123"])
    for shown in (repr(hook), repr(hook.client), repr(hook.settings), json.dumps(results)):
        assert signal_api.password not in shown


@pytest.mark.parametrize(
    ("host", "port"),
    [("127.0.0.1", True), ("http://127.0.0.1:{port}", False), ("http://127.0.0.1:{port}/", False)],
)
def test_api_url_from_host_and_port(
    signal_api: Any, set_connection: Any, make_hook: Any, host: str, port: bool
) -> None:
    fields: dict[str, Any] = {"host": host.format(port=signal_api.port)}
    if port:
        fields["port"] = signal_api.port
    set_connection(**fields)
    hook = make_hook()
    expected_scheme = "https" if port else "http"
    assert hook.settings.message_url == f"{expected_scheme}://127.0.0.1:{signal_api.port}/signal/message"
    if not port:
        hook.send_message("via url", ["447700900123"])
        assert len(signal_api.messages) == 1


# -- settings are checked when the connection is read, or honoured (issue 13) -----------------


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"port": 70000}, "Port 70000 is outside 1-65535"),
        ({"port": -1}, "Port -1 is not a whole number"),
        ({"host": "http://127.0.0.1:99999"}, "port 99999, outside 1-65535"),
        ({"host": "http://127.0.0.1:8080", "port": 8081}, "has port 8080 but the Port field says 8081"),
        ({"host": "", "port": 8080}, "no API URL"),
        ({"extra": {"retries": float("inf")}}, "retries inf is not a finite number"),
        ({"extra": {"max_text_length": float("inf")}}, "max_text_length inf is not a finite number"),
        ({"extra": {"timeout": float("nan")}}, "timeout nan is not a finite number"),
        ({"extra": {"timeout": "Infinity"}}, "timeout 'Infinity' is not a finite number"),
        ({"extra": {"retries": "NaN"}}, "retries 'NaN' is not a finite number"),
        ({"extra": {"retries": True}}, "retries True is not a number"),
        ({"extra": {"timeout": True}}, "timeout True is not a number"),
        ({"extra": {"max_text_length": False}}, "max_text_length False is not a number"),
        ({"extra": {"retries": "true"}}, "retries 'true' is not a number"),
        ({"extra": {"retries": [1]}}, "retries [1] is not a number"),
        ({"extra": {"backoff_factor": -1}}, "backoff_factor -1.0 is out of range"),
        ({"extra": {"backoff_factor": 1e308}}, "backoff_factor 1e+308 is out of range"),
        ({"extra": {"retries": 1e300}}, "retries 10000"),
    ],
)
def test_bad_settings_are_refused_when_the_connection_is_read(
    signal_api: Any, set_connection: Any, make_hook: Any, fields: dict[str, Any], fragment: str
) -> None:
    set_connection("signal_odd", **fields)
    hook = make_hook("signal_odd", backoff_factor=None)
    with pytest.raises(SignalInputError, match=re.escape(fragment)) as caught:
        _ = hook.settings  # read, not sent: nothing reaches the network
    assert "signal_odd" in str(caught.value)
    assert signal_api.request_count == 0


@pytest.mark.parametrize("form", ["json-scheme-in-host", "airflow-uri-with-protocol"])
def test_the_port_field_is_honoured_when_the_host_has_a_scheme(
    signal_api: Any, set_connection: Any, make_hook: Any, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    if form == "json-scheme-in-host":
        set_connection(host="http://127.0.0.1", port=signal_api.port)
    else:  # Airflow's URI form: host "http://127.0.0.1", port from the URI
        monkeypatch.setenv(
            "AIRFLOW_CONN_SIGNAL_DEFAULT",
            f"signal://http://{signal_api.system_id}:{signal_api.password}@127.0.0.1:{signal_api.port}",
        )
    hook = make_hook()
    hook.send_message("port kept", ["447700900123"])

    assert hook.settings.message_url == f"http://127.0.0.1:{signal_api.port}/signal/message"
    assert [m.text for m in signal_api.messages] == ["port kept"]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("signal://id:pw@[::1]:8443", "https://[::1]:8443/signal/message"),
        ("signal://http://id:pw@[::1]:8080", "http://[::1]:8080/signal/message"),
        ("signal://id:pw@api.signal.invalid:8443", "https://api.signal.invalid:8443/signal/message"),
    ],
)
def test_the_port_of_an_airflow_uri_is_honoured_also_for_ipv6(
    monkeypatch: pytest.MonkeyPatch, make_hook: Any, uri: str, expected: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_URI", uri)
    assert make_hook("signal_uri").settings.message_url == expected


def test_a_port_field_that_is_not_a_number_is_refused() -> None:
    from airflow_provider_signal.client import api_url_with_port

    for port in ("abc", "8o8o", "١٢٣", 80.5, True):
        with pytest.raises(SignalInputError, match="is not a whole number") as caught:
            api_url_with_port("127.0.0.1", port, "connection 'x'")
        assert "connection 'x'" in str(caught.value)
    assert api_url_with_port("127.0.0.1", "8080", "connection 'x'") == "https://127.0.0.1:8080"


@pytest.mark.parametrize("conn_type", ["postgres", "http", "SIGNALS", None])
def test_a_connection_of_another_type_is_refused_before_any_request(
    signal_api: Any, monkeypatch: pytest.MonkeyPatch, make_hook: Any, conn_type: str | None
) -> None:
    import json

    conn = json.loads(signal_api.connection_json())  # the emulator's own credentials: it would accept them
    conn["conn_type"] = conn_type
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(conn))
    hook = make_hook("warehouse")
    with pytest.raises(SignalInputError) as raised:
        hook.send_message("hello", "447700900123")
    message = str(raised.value)
    shown = f"'{conn_type.lower()}'" if conn_type else "no type"
    assert f"Connection 'warehouse' is of type {shown}, not 'signal'" in message
    assert signal_api.password not in message
    ok, why = hook.test_connection()
    assert not ok and "'warehouse'" in why
    assert signal_api.request_count == 0
