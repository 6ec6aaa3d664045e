"""Secrets stay secret: the password and the Basic token never show, on success or on any fault.

Every logger runs at DEBUG (root, urllib3, requests, airflow, the provider), in both auth
modes. After each send the test looks everywhere a secret could surface: every log
record (formatted text, raw message, each argument's ``str`` and ``repr``, traceback text,
extra attributes), the error (``str``, ``repr``, formatted traceback) and each per-destination
failure (also its ``api_message``), every string inside the results, and the ``repr`` of
the hook, client and settings. It also checks the secret was really on the wire, so there
was something to leak.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import socket
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_signal.errors import SignalDeliveryError
from local_network import Ports
from signal_log_capture import all_logs_at_debug, record_texts

pytestmark = pytest.mark.usefixtures("invalid_names_do_not_resolve")

DEST = "447700900123"


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside nested dicts, lists and tuples (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)
    elif value is not None:
        yield str(value)


def exception_texts(error: BaseException) -> list[str]:
    return [
        str(error),
        repr(error),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    ]


def everything_shown(caplog: pytest.LogCaptureFixture, hook: Any, outcome: Any) -> list[str]:
    texts = record_texts(caplog)
    texts += [repr(hook), str(hook), repr(hook.client), repr(hook.settings), str(hook.settings)]
    if isinstance(outcome, SignalDeliveryError):
        texts += exception_texts(outcome)
        for failure in outcome.failures:
            texts += exception_texts(failure)
            texts += [str(failure.api_message), str(failure.destination)]
        texts += list(strings_in(outcome.results))
    else:
        texts += list(strings_in(outcome))
        texts.append(repr(outcome))
    return texts


def assert_nothing_shows(texts: list[str], *secret_values: str) -> None:
    for secret in secret_values:
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"secret shown in {len(leaks)} place(s), e.g. {leaks[0][:300]!r}"


def basic_token(system_id: str, password: str) -> str:
    return base64.b64encode(f"{system_id}:{password}".encode()).decode()


def _echo(emulator: Any) -> str:
    """What a careless API or gateway might say: the request, credentials included, echoed back."""
    token = basic_token(emulator.system_id, emulator.password)
    request = {
        "destination": DEST,
        "text": "t",
        "systemid": emulator.system_id,
        "password": emulator.password,
    }
    return f"Rejected {json.dumps(request)} with Authorization: Basic {token} password={emulator.password}"


@dataclass(frozen=True)
class Case:
    """One fault: what to arrange, then what the emulator and the caller see."""

    arrange: Callable[[Any, Ports], None]
    requests: int
    """requests the emulator receives"""
    caller_ok: bool
    """the caller gets results (a 2xx came back), not an error"""
    delivered: int = 0
    """messages the emulator recorded as delivered"""
    extra: dict[str, Any] = field(default_factory=dict)
    """connection extras; ``host`` is a template filled with the ports"""


def _fail(**fault: Any) -> Callable[[Any, Ports], None]:
    count = fault.pop("count", 1)
    return lambda emulator, ports: emulator.fail_next(count, **fault)


def _echo_fault(status: int, html: bool = False, **fault: Any) -> Callable[[Any, Ports], None]:
    def arrange(emulator: Any, ports: Ports) -> None:
        if html:
            body: Any = f"<html><head><title>{_echo(emulator)}</title></head></html>"
        elif status < 300:
            body = {"messageID": ["m"], "note": _echo(emulator)}
        else:
            body = {"error": _echo(emulator)}
        emulator.fail_next(
            1, status=status, body=body, content_type="text/html" if html else "application/json", **fault
        )

    return arrange


def _nothing(emulator: Any, ports: Ports) -> None:
    pass


CASES: dict[str, Case] = {
    "success": Case(_nothing, 1, True, 1),
    "503-503-ok": Case(_fail(count=2, status=503), 3, True, 1),
    "429-retry-after": Case(_fail(status=429, headers={"Retry-After": "0"}), 2, True, 1),
    "502-html": Case(
        _fail(status=502, body="<title>Bad Gateway</title>", content_type="text/html"), 2, True, 1
    ),
    "500": Case(_fail(status=500, body={"error": "boom"}), 1, False),
    "400-echoing-credentials": Case(_echo_fault(400), 1, False),
    "401": Case(_fail(status=401, body={"message": "Unauthorized"}), 1, False),
    "403-html-echoing-credentials": Case(_echo_fault(403, html=True), 1, False),
    "404": Case(_fail(status=404, body="Not Found", content_type="text/plain"), 1, False),
    "503-forever": Case(_fail(count=5, status=503), 3, False),
    "307-redirect": Case(
        lambda e, p: e.fail_next(1, status=307, headers={"Location": f"http://127.0.0.1:{p['closed']}/"}),
        1,
        False,
    ),
    "read-time-out": Case(_fail(action="hang", hang_seconds=5), 1, False, extra={"timeout": 0.3}),
    "answer-too-late": Case(_fail(delay=0.6), 1, False, 1, extra={"timeout": 0.3}),
    "dropped": Case(_fail(action="drop"), 1, False),
    "refused": Case(_nothing, 0, False, extra={"host": "http://127.0.0.1:{closed}"}),
    "unreachable": Case(_nothing, 0, False, extra={"host": "http://127.0.0.1:{unreachable}", "timeout": 0.3}),
    "dns-failure": Case(_nothing, 0, False, extra={"host": "https://signal-api.invalid"}),
    "2xx-empty": Case(_fail(status=200, body=None, deliver=True), 1, True, 1),
    "2xx-unreadable": Case(_fail(status=200, body="{oops", deliver=True), 1, True, 1),
    "2xx-echoing-credentials": Case(_echo_fault(200, deliver=True), 1, True, 1),
}


def arrange_case(case: Case, emulator: Any, ports: Ports, set_connection: Any, **extra: Any) -> None:
    case.arrange(emulator, ports)
    settings = {**extra, **case.extra}
    host = settings.pop("host", None)
    fields = {"host": host.format_map(ports)} if host else {}
    set_connection(**fields, extra=settings)


@pytest.mark.parametrize("fault", list(CASES))
@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_no_secret_in_logs_errors_results_or_reprs(
    signal_api: Any,
    set_connection: Any,
    make_hook: Any,
    caplog: pytest.LogCaptureFixture,
    ports: Ports,
    auth: str,
    fault: str,
) -> None:
    case = CASES[fault]
    arrange_case(case, signal_api, ports, set_connection, auth=auth, retries=2)
    password = signal_api.password
    token = basic_token(signal_api.system_id, password)

    with all_logs_at_debug(caplog):
        hook = make_hook()
        try:
            outcome: Any = hook.send_message("secret-free text", DEST)
        except SignalDeliveryError as error:
            outcome = error
        hook.close()

    assert isinstance(outcome, list) is case.caller_ok
    assert signal_api.request_count == case.requests
    assert len(signal_api.messages) == case.delivered
    if case.requests:  # the secret was on the wire, so there was something to leak
        first = signal_api.requests[0]
        if auth == "basic":
            assert first.headers["Authorization"] == f"Basic {token}"
        else:
            assert json.loads(first.body)["password"] == password
    assert any(r.levelno <= 10 for r in caplog.records), "DEBUG records were expected"
    assert_nothing_shows(everything_shown(caplog, hook, outcome), password, token)
    if "echoing" in fault:  # the echo reached the caller, with the secrets masked
        shown = str(outcome) if isinstance(outcome, SignalDeliveryError) else json.dumps(outcome)
        assert "***" in shown


NASTY_PASSWORD = 'pw"quote\\back/slash-é-ü-🙂-'


@pytest.mark.parametrize("status", [400, 200])
@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_a_password_echoed_in_json_escaped_form_is_masked_too(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, auth: str, status: int
) -> None:
    """A password with characters JSON escapes (quote, backslash, non-ASCII) is masked in
    every form an answer can carry it: escaped in the raw text, plain once parsed."""
    from airflow_provider_signal.hooks.signal import SignalHook
    from airflow_provider_signal.testing import SignalAPIEmulator

    password = NASTY_PASSWORD + secrets.token_hex(4)
    token = basic_token("nasty", password)
    escaped = {"password": password, "token": token}
    echo = f"ascii-escaped {json.dumps(escaped)} raw-escaped {json.dumps(escaped, ensure_ascii=False)}"
    with SignalAPIEmulator(system_id="nasty", password=password) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_NASTY", emulator.connection_json(auth=auth, retries=0))
        body = {"messageID": ["m"], "detail": echo} if status == 200 else {"error": echo}
        emulator.fail_next(1, status=status, body=body)
        with all_logs_at_debug(caplog):
            hook = SignalHook("signal_nasty", backoff_factor=0)
            try:
                outcome: Any = hook.send_message("hi", DEST)
            except SignalDeliveryError as error:
                outcome = error
            hook.close()
        hook = SignalHook("signal_nasty", backoff_factor=0)
        hook.send_message("the nasty password itself works", DEST)  # the emulator checks it
        hook.close()

        assert [m.text for m in emulator.messages] == ["the nasty password itself works"]
    assert isinstance(outcome, SignalDeliveryError) is (status == 400)
    texts = everything_shown(caplog, hook, outcome)
    assert_nothing_shows(texts, password, token, json.dumps(password)[1:-1], json.dumps(token)[1:-1])


def test_a_non_ascii_password_goes_out_as_the_utf8_basic_token_that_is_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Basic token the hook masks is the one on the wire (UTF-8, as RFC 7617 advises)."""
    from airflow_provider_signal.hooks.signal import SignalHook
    from airflow_provider_signal.testing import SignalAPIEmulator

    password = "pässwörd-" + secrets.token_hex(4)
    with SignalAPIEmulator(system_id="utf8", password=password) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_UTF8", emulator.connection_json(retries=0))
        hook = SignalHook("signal_utf8", backoff_factor=0)
        hook.send_message("hi", DEST)
        hook.close()

        assert emulator.requests[0].headers["Authorization"] == f"Basic {hook.settings.basic_token}"
        assert [m.auth for m in emulator.messages] == ["basic"]


@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_an_environment_proxy_never_sees_the_plain_http_loopback_request(
    signal_api: Any,
    set_connection: Any,
    make_hook: Any,
    monkeypatch: pytest.MonkeyPatch,
    auth: str,
) -> None:
    """Plain http is allowed only to loopback so the password never crosses a network
    unencrypted; an ``http_proxy`` in the environment must not carry it elsewhere."""
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    proxy.setblocking(False)
    proxy_url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy_url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    set_connection(extra={"auth": auth, "retries": 0, "timeout": 1})
    try:
        make_hook().send_message("direct, not proxied", DEST)
        with pytest.raises(BlockingIOError):
            proxy.accept()  # nobody connected to the proxy
    finally:
        proxy.close()
    assert [m.text for m in signal_api.messages] == ["direct, not proxied"]


@pytest.mark.parametrize("fault", ["success", "500", "refused"])
@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_a_notifier_never_shows_a_secret(
    signal_api: Any,
    set_connection: Any,
    caplog: pytest.LogCaptureFixture,
    ports: Ports,
    auth: str,
    fault: str,
) -> None:
    from datetime import datetime

    from airflow_provider_signal.notifications.signal import SignalNotifier

    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2.11
        from airflow import DAG
    case = CASES[fault]
    arrange_case(case, signal_api, ports, set_connection, auth=auth, retries=0)
    dag = DAG(dag_id="secret_alerts", schedule=None, start_date=datetime(2026, 1, 1))
    notifier = SignalNotifier(text="alert for {{ run_id }}", destinations=DEST)

    with all_logs_at_debug(caplog):
        notifier({"dag": dag, "run_id": "manual__1", "exception": ValueError("bad")})

    assert len(signal_api.messages) == case.delivered
    texts = [*record_texts(caplog), repr(notifier), str(vars(notifier))]
    assert any("alert" in text for text in texts)
    assert_nothing_shows(texts, signal_api.password, basic_token(signal_api.system_id, signal_api.password))


@pytest.mark.parametrize(
    "fault",
    [{"action": "hang", "hang_seconds": 3}, {"action": "drop"}, {"status": 500, "body": {"error": "x"}}],
)
def test_a_failure_keeps_no_reference_to_the_request_that_carried_the_credentials(
    signal_api: Any, set_connection: Any, make_hook: Any, fault: dict[str, Any]
) -> None:
    set_connection(extra={"timeout": 1, "retries": 0})
    signal_api.fail_next(1, **fault)
    with pytest.raises(SignalDeliveryError) as caught:
        make_hook().send_message("hi", DEST)
    for error in [caught.value, *caught.value.failures]:
        assert error.__context__ is None
        assert error.__cause__ is None
    [failure] = caught.value.failures
    assert not any(isinstance(value, BaseException) for value in vars(failure).values())


# -- one parse of the API URL for the loopback rule and the connection (issue 13) -----------

AMBIGUOUS_URLS = [
    "http://evil.example\\@127.0.0.1/",
    "http://evil.example\\\\@127.0.0.1",
    "http://127.0.0.1\\@evil.example",
    "http://evil.example%5C@127.0.0.1",
    "http://evil.example%5c%40127.0.0.1",
    "http://evil.example#@127.0.0.1",
    "http://evil.example?@127.0.0.1",
    "http://evil.example\t@127.0.0.1",
    "http://127.0.0.1 .evil.example",
    "http://127.0.0.1\x00.evil.example",
    "http://127.0.0.1\r\n.evil.example",
    "http://[::1]\\@evil.example",
    "http://localhost\\.evil.example",
    "http://evil.example／@127.0.0.1",
    "http://user:pass@127.0.0.1",
    "http://evil.example:80@127.0.0.1",
    "https://api.melroselabs.com\\@evil.example",
    "http:\\\\127.0.0.1",
    "http:/127.0.0.1",
    "127.0.0.1\\@evil.example",
]


def urllib3_target(url: str) -> tuple[str, int | None]:
    """Where urllib3 (what requests connects with) would connect for ``url``."""
    from urllib3.util import parse_url

    parsed = parse_url(url)
    return (parsed.host or "").strip("[]").lower(), parsed.port


@pytest.mark.parametrize("url", AMBIGUOUS_URLS)
def test_an_api_url_is_refused_or_means_the_same_host_to_the_check_and_to_urllib3(url: str) -> None:
    from urllib.parse import urlsplit

    from airflow_provider_signal.client import build_message_url
    from airflow_provider_signal.errors import SignalInputError

    try:
        message_url = build_message_url(url, "connection 'probe'")
    except SignalInputError as error:
        refusal = str(error)
    else:
        refusal = ""
    if refusal:
        assert "connection 'probe'" in refusal
        return
    host, _ = urllib3_target(message_url)
    assert host == (urlsplit(message_url).hostname or "").lower()
    assert host == urllib3_target(url if "://" in url else f"https://{url}")[0]
    if message_url.startswith("http://"):
        # loopback: localhost, or any address of 127.0.0.0/8 or ::1 (http://127.0.0.180 is one)
        assert host == "localhost" or ipaddress.ip_address(host).is_loopback, host


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "HTTP://", ""]),
    parts=st.lists(
        st.sampled_from(
            [
                "127.0.0.1",
                "localhost",
                "[::1]",
                "evil.example",
                "\\",
                "@",
                ":",
                "/",
                "#",
                "?",
                "%5c",
                "%40",
                " ",
                "\t",
                "\n",
                "\x00",
                ".",
                "80",
                "[",
                "]",
                "user:pw@",
                "／",
                "＼",
                "％",
            ]
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_any_api_url_the_check_accepts_is_where_urllib3_connects(scheme: str, parts: list[str]) -> None:
    """Property: an accepted URL names one host, the same to ``urllib.parse``, to urllib3 and to
    the loopback rule; plain http only to loopback; anything else is a clear refusal."""
    from urllib.parse import urlsplit

    from airflow_provider_signal.client import build_message_url
    from airflow_provider_signal.errors import SignalInputError

    url = scheme + "".join(parts)
    try:
        message_url = build_message_url(url)
    except SignalInputError:
        return
    host, port = urllib3_target(message_url)
    split = urlsplit(message_url)
    assert (host, port) == ((split.hostname or "").lower(), split.port)
    assert "@" not in message_url and "\\" not in message_url
    if message_url.startswith("http://"):
        # loopback: localhost, or any address of 127.0.0.0/8 or ::1 (http://127.0.0.180 is one)
        assert host == "localhost" or ipaddress.ip_address(host).is_loopback, host


def test_an_ambiguous_url_sends_nothing_to_the_host_urllib3_would_pick(
    signal_api: Any, set_connection: Any, make_hook: Any
) -> None:
    """The probe's attack, over real sockets: ``urllib.parse`` reads the emulator's port after the
    ``@``; urllib3 stops at the ``\\`` and would connect to another listener, with the token."""
    from airflow_provider_signal.errors import SignalInputError

    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    other.setblocking(False)
    other_port = other.getsockname()[1]
    set_connection(
        host=f"http://127.0.0.1:{other_port}\\@127.0.0.1:{signal_api.port}",
        extra={"timeout": 1, "retries": 0},
    )
    try:
        with pytest.raises(SignalInputError, match="backslash") as caught:
            make_hook().send_message("hi", DEST)
        with pytest.raises(BlockingIOError):
            other.accept()  # nobody connected to the other listener
    finally:
        other.close()
    assert "'signal_default'" in str(caught.value)
    assert signal_api.request_count == 0 and signal_api.connection_count == 0


# -- credentials in the API URL are refused, never shown (issue 13) --------------------------

URL_PASSWORD = "url-secret-Pw9"


@pytest.mark.parametrize(
    "host",
    [
        "https://user:{pw}@api.signal.invalid",
        "https://:{pw}@api.signal.invalid",
        "https://{pw}@api.signal.invalid",
        "user:{pw}@api.signal.invalid",
        "http://user:{pw}@127.0.0.1:{port}",
        "https://user:{pw}%40x@api.signal.invalid",
        "https://user:{pw}/x@api.signal.invalid",
        "https://user:{pw}@api.signal.invalid:443/signal",
    ],
)
def test_credentials_in_the_api_url_are_refused_without_showing_them(
    signal_api: Any, set_connection: Any, make_hook: Any, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    from airflow_provider_signal.errors import SignalInputError

    set_connection(host=host.format(pw=URL_PASSWORD, port=signal_api.port), extra={"retries": 0})
    with all_logs_at_debug(caplog):
        hook = make_hook()
        with pytest.raises(SignalInputError) as caught:
            hook.send_message("hi", DEST)
        ok, answer = make_hook().test_connection()

    assert not ok
    for text in (str(caught.value), repr(caught.value), answer):
        assert "user name or password" in text and "'signal_default'" in text
        assert URL_PASSWORD not in text
    assert_nothing_shows([*record_texts(caplog), repr(hook)], URL_PASSWORD)
    assert signal_api.request_count == 0 and signal_api.connection_count == 0


# -- secrets echoed back in other encodings are masked (issue 13) ----------------------------


def every_encoding(secret: str) -> dict[str, str]:
    """The forms an API or gateway could plausibly echo a secret in."""
    import html
    from urllib.parse import quote, quote_plus

    raw = secret.encode()
    return {
        "plain": secret,
        "quote": quote(secret),
        "quote-safe-empty": quote(secret, safe=""),
        "quote-plus": quote_plus(secret),
        "html": html.escape(secret),
        "html-no-quotes": html.escape(secret, quote=False),
        "base64": base64.b64encode(raw).decode(),
        "base64-urlsafe": base64.urlsafe_b64encode(raw).decode(),
        "json": json.dumps(secret)[1:-1],
        "json-raw": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-slash": json.dumps(secret)[1:-1].replace("/", "\\/"),
        "json-u00xx": "".join(
            f"\\u{ord(c):04x}" if ord(c) < 0x10000 else json.dumps(c)[1:-1] for c in secret
        ),
        "json-U00XX": "".join(
            f"\\u{ord(c):04X}" if ord(c) < 0x10000 else json.dumps(c)[1:-1] for c in secret
        ),
        "json-twice": json.dumps(json.dumps(secret))[1:-1],
    }


ECHO_PASSWORD = 'p/w "q" \\b &<>\'+é🙂 ~'


def password_with_a_slash_in_its_token(system_id: str) -> str:
    """The echo password plus a suffix that puts a ``/`` in the Basic token (JSON writes it ``\\/``)."""
    for first in "?>~ÿ_-":
        for second in "?>~ÿ_-0123456789":
            candidate = f"{ECHO_PASSWORD}{first}{second}"
            if "/" in basic_token(system_id, candidate):
                return candidate
    raise AssertionError("no password found whose Basic token holds a '/'")


@pytest.mark.parametrize("status", [400, 200])
@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_a_secret_echoed_in_any_encoding_is_masked_everywhere(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    auth: str,
    status: int,
) -> None:
    """Every form of the password and the Basic token (URL-encoded both ways, HTML-escaped,
    base64 of the password alone, JSON with ``\\/`` or ``\\u00XX`` escapes) is masked in the
    error text, ``api_message``, the WARNING line and a 2xx result's ``response`` (XCom)."""
    from airflow_provider_signal.hooks.signal import SignalHook
    from airflow_provider_signal.testing import SignalAPIEmulator

    password = password_with_a_slash_in_its_token("echo")
    token = basic_token("echo", password)
    forms = {f"password-{k}": v for k, v in every_encoding(password).items()}
    forms.update({f"token-{k}": v for k, v in every_encoding(token).items()})
    echo = " | ".join(f"{name}={form}" for name, form in forms.items())
    with SignalAPIEmulator(system_id="echo", password=password) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_ECHO", emulator.connection_json(auth=auth, retries=0))
        body = {"messageID": ["m"], "detail": echo} if status == 200 else {"error": echo}
        emulator.fail_next(1, status=status, body=body, deliver=True)
        with all_logs_at_debug(caplog):
            hook = SignalHook("signal_echo", backoff_factor=0)
            try:
                outcome: Any = hook.send_message("hi", DEST)
            except SignalDeliveryError as error:
                outcome = error
            hook.close()
        assert len(emulator.messages) == 1  # the password is the one the emulator checks

    if status == 200:
        [result] = outcome
        shown = [json.dumps(result, ensure_ascii=False), str(result["response"])]
    else:
        [failure] = outcome.failures
        # The WARNING line: a log record, or printed by Airflow 3's own logging when it was
        # set up after the capture began (the first test of a session).
        printed = capsys.readouterr()
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        warnings += [line for line in (printed.out + printed.err).splitlines() if "failed: HTTP 400" in line]
        assert any("failed: HTTP 400" in line for line in warnings), "the failure was expected to be logged"
        shown = [str(outcome), str(failure), str(failure.api_message), *warnings]
    for text in shown:
        assert "***" in text
    for name, form in forms.items():
        leaks = [text for text in shown + record_texts(caplog) if form in text]
        assert not leaks, f"{name} ({form!r}) shown: {leaks[0][:200]!r}"


@settings(max_examples=60, deadline=None)
@given(password=st.text(min_size=4, max_size=24).filter(lambda p: p.strip()))
def test_any_password_in_any_encoding_is_redacted(password: str) -> None:
    from airflow_provider_signal.client import SignalClient, SignalClientSettings

    client = SignalClient(SignalClientSettings("sys", password, api_url="http://127.0.0.1:9"))
    for name, form in {**every_encoding(password), **every_encoding(client.settings.basic_token)}.items():
        redacted = client.redact(f"<<{form}>>")
        assert form not in redacted or form in "<<***>>", f"{name}: {form!r} -> {redacted!r}"


@pytest.mark.parametrize("auth", ["basic", "payload"])
def test_a_text_quoting_a_secret_is_sent_redacted_by_the_client_and_airflows_masker(
    signal_api: Any, set_connection: Any, make_hook: Any, monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    from airflow_provider_signal import _compat

    warehouse_password = "wh-Secret-4471"
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", f"postgres://etl:{warehouse_password}@db.invalid:5432/etl")
    set_connection(extra={"auth": auth})
    warehouse = _compat.BaseHook.get_connection("warehouse")  # Airflow's masker learns its password
    _compat.mask_secret("api-key-Zq81xw")  # and a value a task registered
    token = basic_token(signal_api.system_id, signal_api.password)
    error = (
        f"login refused: password={signal_api.password} token={token} "
        f"url=postgres://etl:{warehouse.password}@db key=api-key-Zq81xw"
    )

    make_hook().send_message(f"Error: {error}", DEST)

    [message] = signal_api.messages
    assert message.auth == auth
    assert message.text == "Error: login refused: password=*** token=*** url=postgres://etl:***@db key=***"
    assert_nothing_shows([message.text], signal_api.password, token, warehouse_password, "api-key-Zq81xw")


def test_a_default_alert_is_redacted_before_it_is_shortened(
    signal_api: Any, set_connection: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A cut must not leave the start of a secret: redaction comes first."""
    from airflow_provider_signal.notifications.signal import SignalNotifier

    set_connection(extra={"max_text_length": 120})
    secret = signal_api.password
    error = RuntimeError("x" * 20 + secret * 3)  # the limit falls inside the secrets
    SignalNotifier(destinations=DEST, kind="failure")({"run_id": "r1", "exception": error})
    [message] = signal_api.messages
    assert len(message.text) <= 120
    for size in range(6, len(secret) + 1):
        assert secret[:size] not in message.text
