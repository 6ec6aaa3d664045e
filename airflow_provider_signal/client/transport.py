"""The transport: the only module that imports ``requests`` and ``urllib3`` (on first use).

One :class:`Transport` per client: one ``requests`` session over one connection, urllib3's
``Retry`` as the retry policy, the answer's body read within a size and time cap, and
every failure without an answer handed back as a :class:`TransportFailure` of a known kind,
with the number of attempts really made, classified by whether the request can have gone
out.

Retry policy ("never twice"): retried only where the API is not expected to have
processed the request: the connection could not be made (nothing was sent), or the
answer was 429, 502, 503 or 504 (``Retry-After`` honoured up to :data:`RETRY_AFTER_MAX`
seconds). A 429 or 503 is the API refusing the request; a 502 or 504 comes from a gateway
that could not reach it or gave up waiting, so in rare cases (a 504 after the API took
the message) a retry can deliver a copy: the design accepts that to deliver through short
outages. Never retried: a read time-out, a connection dropped after the request went out,
a 500, any 2xx.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow_provider_signal.client.retry_policy import BACKOFF_MAX, RETRY_AFTER_MAX, RETRY_STATUSES

if TYPE_CHECKING:  # the settings import the URL rules, which import this module: types only
    import requests
    from requests import Session as Session
    from requests.adapters import HTTPAdapter

    from airflow_provider_signal.client.settings import SignalClientSettings

MAX_ANSWER_BYTES = 64 * 1024
"""At most this much of an answer's body is read (decoded); the API's answers are a few
hundred bytes. A longer body is cut there (a 2xx still counts as sent), so a huge or
compressed body ("zip bomb") costs neither memory nor time."""
_READ_CHUNK = 16 * 1024

TransportKind = Literal["connect_timeout", "connect_failed", "not_sent", "read_timeout", "answer_lost"]
"""How a request failed without an answer: the first three sent nothing (safe to send
again), the last two may have been delivered."""


@dataclass
class Attempts:
    """What the transport saw of the current send: attempts made, and whether the last one
    began to send the request (a byte of it may have reached the API)."""

    made: int = 0
    sent: bool = False

    def reset(self) -> None:
        self.made, self.sent = 0, False


@dataclass(frozen=True)
class TransportFailure:
    """A send that got no answer. ``cause`` is the innermost error's text, not yet redacted."""

    kind: TransportKind
    cause: str
    attempts: int = 1
    """Attempts really made (each pass through urllib3's pool), not the number allowed."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer and as much of its body as was read."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Case-insensitive, as requests gives them."""
    encoding: str | None
    raw: bytes
    complete: bool
    """Whether the whole body was read (``False``: cut at the cap, late, or broken off)."""
    broken: str | None
    """The cause when the body broke off while being read, else ``None``."""
    attempts: int
    """Attempts made, this answer's included (urllib3's retry history)."""


def make_retry(retries: int, backoff_factor: float) -> Any:
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    class _SignalRetry(Retry):
        # 413 with Retry-After is not worth retrying; only the statuses we chose are.
        RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

        def parse_retry_after(self, retry_after: str) -> float:
            """Seconds to wait, cut to ``RETRY_AFTER_MAX``; 0 (the back-off applies) when malformed.

            A ``Retry-After`` that is neither whole seconds nor an HTTP date ("soon", "-5",
            "1.5") is treated as absent, so the retry goes on instead of failing on the header.
            """
            try:
                seconds = float(super().parse_retry_after(retry_after))
            except InvalidHeader:
                return 0.0
            return min(max(seconds, 0.0), RETRY_AFTER_MAX)

    return _SignalRetry(
        total=retries,
        connect=retries,
        read=False,  # a read error means the request may have been processed: re-raise, never re-send
        other=0,
        status=retries,
        redirect=0,
        allowed_methods=frozenset({"POST"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=BACKOFF_MAX,
        respect_retry_after_header=True,
        raise_on_status=False,  # hand back the last answer so its text reaches the error
    )


def make_adapter(retry: Any, attempts: Attempts) -> Any:
    """A requests adapter that counts attempts and knows whether the request went out.

    Each pass through the pool's ``urlopen`` is one attempt (urllib3 calls it again for a
    retry); a connection marks ``attempts.sent`` once it has connected and starts writing
    the request. Also: a failed TLS handshake is a connect failure. urllib3 reports one that
    times out as a *read* time-out, and one that is reset as a dropped answer, though no
    byte of the request can have been sent: both would be "may or may not have been
    delivered" and never retried. Here they are connect failures, retried as such.
    """
    import ssl

    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    class _HTTPConnection(HTTPConnection):
        def send(self, data: Any) -> None:
            if self.sock is None:
                self.connect()  # a failure here is a connect failure: nothing was sent
            attempts.sent = True
            super().send(data)

    class _HTTPSConnection(HTTPSConnection):
        def connect(self) -> None:
            try:
                super().connect()
            except TimeoutError as exc:  # socket.timeout: the handshake stalled
                self.close()
                raise ConnectTimeoutError(self, f"TLS handshake timed out ({exc})") from exc
            except (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
                self.close()
                raise NewConnectionError(self, f"TLS handshake broken off ({exc})") from exc

        def send(self, data: Any) -> None:
            if self.sock is None:
                self.connect()
            attempts.sent = True
            super().send(data)

    class _HTTPPool(HTTPConnectionPool):
        ConnectionCls = _HTTPConnection

        def urlopen(self, *args: Any, **kwargs: Any) -> Any:
            attempts.made += 1
            attempts.sent = False
            return super().urlopen(*args, **kwargs)

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPSConnection

        def urlopen(self, *args: Any, **kwargs: Any) -> Any:
            attempts.made += 1
            attempts.sent = False
            return super().urlopen(*args, **kwargs)

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    return _Adapter(max_retries=retry, pool_connections=1, pool_maxsize=1)


class Transport:
    """One HTTP session to the Signal API (built on first use); one thread at a time."""

    def __init__(self, settings: SignalClientSettings) -> None:
        self.settings = settings
        self.attempts = Attempts()
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._build_session()
        return self._session

    def _build_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        adapter = make_adapter(make_retry(self.settings.retries, self.settings.backoff_factor), self.attempts)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        if self.settings.auth == "basic":
            session.auth = self._add_basic_auth
        if self.settings.endpoint.is_loopback:
            # Plain http is allowed only to loopback: an http_proxy from the environment must
            # not carry the request (and the password) off this machine.
            session.trust_env = False
        return session

    def _add_basic_auth(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Basic auth with the UTF-8 token that is masked (requests would encode it as Latin-1)."""
        request.headers["Authorization"] = f"Basic {self.settings.basic_token}"
        return request

    @contextmanager
    def limited_to(self, settings: SignalClientSettings) -> Iterator[None]:
        """Within, send with the time-out and retries of ``settings``, over this same session."""
        original = self.settings
        if settings is original:
            yield
            return
        adapter = cast("HTTPAdapter", self.session.get_adapter(original.message_url))
        policy = adapter.max_retries  # the urllib3 Retry: same rules, fewer attempts
        self.settings = settings
        adapter.max_retries = policy.new(
            total=settings.retries, connect=settings.retries, status=settings.retries
        )
        try:
            yield
        finally:
            self.settings = original
            adapter.max_retries = policy

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def post(self, data: bytes) -> Answer | TransportFailure:
        """POST ``data`` to the message endpoint; the answer, or why there was none.

        The whole send, answer included, stays within ``settings.time_budget``: the body of
        the answer is read, at most :data:`MAX_ANSWER_BYTES` of it, within the read time-out.
        """
        import requests

        settings = self.settings
        started = time.monotonic()
        self.attempts.reset()
        failure: TransportFailure | None = None
        try:
            response = self.session.post(
                settings.message_url,
                data=data,
                timeout=(settings.connect_timeout, settings.timeout),
                allow_redirects=False,
                stream=True,  # the body is read below, capped in size and time
            )
        except requests.exceptions.RequestException as exc:
            made = max(self.attempts.made, 1)
            failure = TransportFailure(classify(exc, sent=self.attempts.sent), describe(exc), made)
        if failure is not None:
            # Returned outside the except block, so nothing keeps a reference to the request
            # (its headers and body hold the credentials).
            return failure
        deadline = min(started + settings.time_budget, time.monotonic() + settings.timeout)
        raw, complete, broken = read_body(response, deadline)
        if not complete:
            response.close()  # the rest of the body is left unread: this connection is not reused
        return Answer(
            status=response.status_code,
            reason=response.reason or "",
            headers=response.headers,
            encoding=response.encoding,
            raw=raw,
            complete=complete,
            broken=broken,
            attempts=attempts_made(response),
        )


def read_body(response: requests.Response, deadline: float) -> tuple[bytes, bool, str | None]:
    """Read at most :data:`MAX_ANSWER_BYTES` of the answer's body (decoded) before ``deadline``.

    Returns the bytes, whether the body was complete, and why it broke off (``None`` unless
    it did). Reading stops at the cap or the deadline (the rest is left unread: the
    connection is then closed, not reused). A body that breaks off (a read time-out, a
    broken TLS stream, a truncated or badly chunked or badly compressed body) comes back
    incomplete with its cause.
    """
    from http.client import HTTPException

    from urllib3.exceptions import HTTPError

    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read  # read1: whatever has arrived, up to the amount
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    previous_timeout = sock.gettimeout() if sock is not None else None
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_ANSWER_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                late = TimeoutError(f"the body did not arrive in time ({size} bytes read)")
                return b"", False, describe(late)
            if sock is not None:
                sock.settimeout(remaining)  # no single wait goes past the deadline
            chunk = read(min(_READ_CHUNK, MAX_ANSWER_BYTES + 1 - size), decode_content=True)
            if not chunk:
                if sock is not None:
                    sock.settimeout(previous_timeout)
                raw.release_conn()  # read to the end: the connection can be reused
                return b"".join(chunks), True, None
            chunks.append(chunk)
            size += len(chunk)
    except (HTTPError, HTTPException, OSError, ValueError) as exc:
        return b"", False, describe(exc)
    return b"".join(chunks)[:MAX_ANSWER_BYTES], False, None


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first, through requests' and urllib3's wrappers."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        reason = getattr(current, "reason", None)
        wrapped = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or wrapped or current.__context__
        )
    return chain


def root_cause(exc: BaseException) -> str:
    """The innermost text of an exception chain."""
    inner = exception_chain(exc)[-1]
    return str(inner) or type(inner).__name__


def describe(exc: BaseException) -> str:
    """``"<outer type>: <innermost text>"``, the cause an error message quotes."""
    return f"{type(exc).__name__}: {root_cause(exc)}"


def url_parts(url: str) -> tuple[str | None, str | None, int | None]:
    """Scheme, host and port of ``url`` as urllib3, the library that connects, reads them.

    Raises ``ValueError`` (urllib3's ``LocationParseError`` is one) when it cannot.
    """
    from urllib3.util import parse_url

    parsed = parse_url(url)
    return parsed.scheme, parsed.host, parsed.port


def attempts_made(response: requests.Response) -> int:
    """How many attempts led to ``response``: one, plus the retries in urllib3's history."""
    retry_state = getattr(response.raw, "retries", None)
    return 1 + (len(retry_state.history) if retry_state is not None else 0)


def classify(exc: BaseException, *, sent: bool) -> TransportKind:
    """The kind of a failure without an answer, decided first by whether the request went out.

    Once a connection began to send the request, the API may have processed it, whatever
    the error (a read time-out, a reset, a TLS error while reading the answer): may have
    been delivered. Before that, nothing was sent: a connect time-out, a connection (or
    TLS handshake) that failed, or an error before any connection.
    """
    import requests

    if sent:
        return "read_timeout" if isinstance(exc, requests.exceptions.ReadTimeout) else "answer_lost"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connect_failed"
    return "not_sent"
