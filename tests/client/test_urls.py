"""``client/urls.py``: one parse of the API URL, the loopback rule, masking."""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_provider_signal.client import urls
from airflow_provider_signal.client.urls import (
    ApiUrl,
    api_url_with_port,
    build_message_url,
    is_loopback,
    parse_api_url,
    shown_url,
)
from airflow_provider_signal.errors import SignalInputError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, ApiUrl("https", "api.melroselabs.com", None, "")),
        ("  ", ApiUrl("https", "api.melroselabs.com", None, "")),
        ("api.example.com", ApiUrl("https", "api.example.com", None, "")),
        ("HTTPS://api.example.com:8443/base/", ApiUrl("https", "api.example.com", 8443, "/base")),
        ("http://127.0.0.1:9000", ApiUrl("http", "127.0.0.1", 9000, "")),
        ("http://[::1]:9000", ApiUrl("http", "[::1]", 9000, "")),
    ],
)
def test_a_url_is_parsed_into_its_parts(given: str | None, expected: ApiUrl) -> None:
    assert parse_api_url(given) == expected


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("https://user:secret@api.example.com", "user name or password"),
        ("https://api.example.com\\@evil.example", "backslash"),
        ("https://api.example.com?x=1", "query or fragment"),
        ("ftp://api.example.com", "not an http(s) URL"),
        ("https://api.exa mple.com", "space"),
        ("https://api.example.com:70000", "outside 1-65535"),
        ("http://api.example.com", "plain http to a host that is not loopback"),
    ],
)
def test_an_ambiguous_or_unsafe_url_is_refused_naming_the_source(given: str, why: str) -> None:
    with pytest.raises(SignalInputError, match=re.escape(why)) as caught:
        parse_api_url(given, "connection 'x'")
    assert "(connection 'x')" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("[::1]", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("api.melroselabs.com", False),
    ],
)
def test_the_loopback_rule(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_message_endpoint_is_added_once() -> None:
    url = parse_api_url("https://api.example.com/signal/message")
    assert url.message_endpoint() == url
    assert (
        str(parse_api_url("api.example.com/v2").message_endpoint())
        == "https://api.example.com/v2/signal/message"
    )
    assert build_message_url("http://localhost:8080") == "http://localhost:8080/signal/message"


def test_shown_url_masks_everything_up_to_an_at_sign() -> None:
    assert shown_url("https://id:pw@host/x") == "https://***@host/x"
    assert shown_url("id:pw@host") == "***@host"
    assert shown_url("https://host/x") == "https://host/x"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("http://127.0.0.1", 8080, "http://127.0.0.1:8080"),
        ("::1", "9000", "https://[::1]:9000"),
        ("http://127.0.0.1:8080", 8080, "http://127.0.0.1:8080"),
        ("api.example.com", None, "api.example.com"),
    ],
)
def test_the_port_field_is_never_dropped(host: str, port: Any, expected: str) -> None:
    assert api_url_with_port(host, port, "connection 'x'") == expected


@pytest.mark.parametrize(
    ("host", "port", "why"),
    [
        ("http://127.0.0.1:8080", 9090, "has port 8080 but the Port field says 9090"),
        ("http://127.0.0.1", True, "not a whole number"),
        ("http://127.0.0.1", 0, "outside 1-65535"),
        ("", 8080, "no API URL"),
    ],
)
def test_a_port_that_disagrees_or_is_not_a_port_is_refused(host: str, port: Any, why: str) -> None:
    with pytest.raises(SignalInputError, match=why):
        api_url_with_port(host, port, "connection 'x'")


def test_the_api_url_is_parsed_once_for_the_settings_the_session_and_every_send(
    signal_api: Any, make_client: Any, mocker: Any
) -> None:
    """The settings keep their parse (``endpoint``); the session's loopback rule and each
    request read it instead of parsing the URL again."""
    spy = mocker.spy(urls, "_parsers_agree")  # one call per parse of a URL
    client = make_client()
    for _ in range(3):
        client.post({"destination": "447700900123", "text": "once"}, destination="447700900123")

    assert spy.call_count == 1
    assert isinstance(client.settings.endpoint, ApiUrl)
    assert client.settings.message_url == str(client.settings.endpoint) == f"{signal_api.url}/signal/message"
    assert client.transport.session.trust_env is False  # loopback, decided from the same parse
    assert len(signal_api.messages) == 3
