"""HTTP client for the Melrose Labs Signal API.

Plain Python, no Airflow import: it builds requests, applies auth, retries, time-outs,
and turns answers into result dicts or one :class:`SignalAPIError`. ``requests`` is
imported on first use, so importing this module stays cheap at DAG parse time.

Retry policy (``Never twice``): urllib3's ``Retry`` retries only where the API cannot
have processed the request: the connection could not be made, or the answer was 429,
502, 503 or 504 (``Retry-After`` honoured up to :data:`RETRY_AFTER_MAX` seconds). It
never retries after a read time-out, a dropped answer, a 500 or any 2xx.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from airflow_provider_signal.defaults import (
    CONNECT_TIMEOUT_MAX,
    DEFAULT_API_URL,
    DEFAULT_MAX_TEXT_LENGTH,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    MESSAGE_PATH,
)
from airflow_provider_signal.errors import SignalAPIError, SignalInputError
from airflow_provider_signal.types import AUTH_MODES, AuthMode, SignalSendResult
from airflow_provider_signal.validation import clean_text

if TYPE_CHECKING:
    import requests
    from requests.adapters import HTTPAdapter

DEFAULT_BACKOFF_FACTOR = 0.5
RETRY_AFTER_MAX = 10
"""A longer ``Retry-After`` is cut to this many seconds, so a send stays bounded."""
BACKOFF_MAX = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_ERROR_TEXT = 300


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_AUTHORITY = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?"
)
"""What an API URL's authority may be: a DNS name, IPv4 or bracketed IPv6 address, and a port.
No userinfo, percent-escapes, zone ids or odd characters: nothing two URL parsers could read apart."""
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:-]*)*")
_URL_MASK = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?.*@", re.DOTALL)


def shown_url(url: str) -> str:
    """``url`` fit for an error message: anything up to an ``@`` (userinfo, credentials) masked."""
    return _URL_MASK.sub(r"\1***@", url)


@dataclass(frozen=True)
class ApiUrl:
    """An API base URL, parsed once; the loopback rule and the HTTP library see the same host."""

    scheme: str
    host: str
    """As it goes in a URL: a name, an IPv4 address or a bracketed IPv6 address."""
    port: int | None
    path: str

    def with_port(self, port: int | None) -> ApiUrl:
        return ApiUrl(self.scheme, self.host, port, self.path)

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host}{port}{self.path}"


def parse_api_url(base_url: str | None, source: str = "") -> ApiUrl:
    """Parse an API base URL given with or without a scheme, refusing anything ambiguous.

    One parse for both the loopback rule and the connection: the URL must be plain ASCII
    with a ``host[:port]`` authority and a simple path. Userinfo (``user:pass@``),
    backslashes, whitespace, control characters, percent-escapes in the host, queries and
    fragments are refused, because URL parsers disagree on them (urllib3 follows WHATWG,
    where ``\\`` ends the authority; ``urllib.parse`` does not). As a last check the URL
    built from this parse must mean the same host and port to ``urllib.parse`` and to
    urllib3, the library that connects.
    """
    where = f" ({source})" if source else ""
    raw = "" if base_url is None else str(base_url)
    base = raw.strip() or DEFAULT_API_URL
    shown = repr(shown_url(raw))

    def refuse(why: str, advice: str = "") -> SignalInputError:
        advice = advice or (
            f"set the connection's API URL to a plain https URL such as {DEFAULT_API_URL!r} "
            "(host and optional port and path, nothing else)"
        )
        return SignalInputError(f"Signal API URL {shown} {why}{where}: {advice}.")

    if any(not ("!" <= char <= "~") for char in base):
        raise refuse("contains a space, a control character or a non-ASCII character")
    if "\\" in base:
        raise refuse("contains a backslash")
    if "?" in base or "#" in base:
        raise refuse("has a query or fragment")
    if "://" not in base:
        base = f"https://{base}"
    scheme, _, rest = base.partition("://")
    scheme = scheme.lower()
    authority, slash, path = rest.partition("/")
    if "@" in base:  # in the authority it is userinfo; in the path, likely a password split by a "/"
        raise refuse(
            "contains a user name or password (user:password@)",
            "remove it, and put the System ID and Password in the connection's Login and Password fields",
        )
    if scheme not in ("http", "https"):
        raise refuse("is not an http(s) URL")
    match = _AUTHORITY.fullmatch(authority)
    if not match:
        raise refuse("does not have a valid host[:port]")
    path = slash + path
    if not _PATH.fullmatch(path):
        raise refuse("has characters its path may not have")
    port = int(match["port"]) if match["port"] is not None else None
    if port is not None and not 1 <= port <= 65535:
        raise refuse(f"has port {port}, outside 1-65535")
    url = ApiUrl(scheme, match["host"], port, path.rstrip("/"))
    if not _parsers_agree(url):
        raise refuse("is read differently by different URL parsers")
    if scheme == "http" and not _is_loopback(url.host):
        raise SignalInputError(
            f"Signal API URL {shown} uses plain http to a host that is not loopback{where}: "
            "use https:// so the password is not sent unencrypted."
        )
    return url


def _parsers_agree(url: ApiUrl) -> bool:
    """Whether ``urllib.parse`` and urllib3 (which connects) read the same host and port."""
    from urllib3.util import parse_url

    text = str(url) + MESSAGE_PATH
    try:
        ours = urlsplit(text)
        theirs = parse_url(text)
        ours_host, ours_port = ours.hostname, ours.port
    except ValueError:
        return False
    host = url.host.strip("[]").lower()
    return (
        (ours_host or "").lower() == host
        and (theirs.host or "").strip("[]").lower() == host
        and ours_port == theirs.port == url.port
        and theirs.scheme == ours.scheme == url.scheme
    )


def build_message_url(base_url: str | None, source: str = "") -> str:
    """Return the message endpoint for an API base URL given with or without a scheme.

    Plain ``http://`` is accepted only for loopback hosts (the local emulator), so a
    password never crosses a network unencrypted; see :func:`parse_api_url` for what is refused.
    """
    url = parse_api_url(base_url, source)
    path = url.path if url.path.endswith(MESSAGE_PATH) else url.path + MESSAGE_PATH
    return str(ApiUrl(url.scheme, url.host, url.port, path))


def api_url_with_port(host: str | None, port: object, source: str) -> str:
    """The API URL from a connection's Host and Port fields, the Port never silently dropped.

    ``host`` may carry a scheme and a port itself (``http://127.0.0.1:8080``) or be a bare
    IPv6 address (``::1`` or ``http://::1``, as Airflow's URI form gives it). A Port that is
    not a whole number from 1 to 65535, or that differs from a port already in the host,
    is refused.
    """
    where = f" ({source})"
    text = _bracket_ipv6((host or "").strip())
    if port is None or port == "":
        return text
    digits = str(port).strip()
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not re.fullmatch("[0-9]{1,6}", digits):
        raise SignalInputError(
            f"Signal connection Port {port!r} is not a whole number{where}: fix the Port field."
        )
    number = int(digits)
    if not 1 <= number <= 65535:
        raise SignalInputError(
            f"Signal connection Port {number} is outside 1-65535{where}: fix the Port field."
        )
    if not text:
        raise SignalInputError(
            f"Signal connection has Port {number} but no API URL (host){where}: set the host too, "
            "or clear the Port."
        )
    url = parse_api_url(text, source)
    if url.port is not None and url.port != number:
        raise SignalInputError(
            f"Signal connection API URL {shown_url(text)!r} has port {url.port} but the Port field "
            f"says {number}{where}: keep one of them."
        )
    return str(url.with_port(number))


def _bracket_ipv6(host: str) -> str:
    """``host`` with a bare IPv6 address (``::1``, ``http://::1/x``) put in brackets."""
    scheme, sep, rest = host.rpartition("://")
    authority, slash, path = rest.partition("/")
    if authority.count(":") >= 2 and "[" not in authority:
        authority = f"[{authority}]"
    return f"{scheme}{sep}{authority}{slash}{path}"


def _is_number(value: object, low: float, high: float) -> bool:
    """A real int or float (not a bool, not NaN or infinite) within ``[low, high]``."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and low <= value <= high
    )


def _is_whole(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


@dataclass(frozen=True)
class SignalClientSettings:
    """Everything the client needs; the hook builds it from an Airflow connection."""

    system_id: str
    password: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    auth: AuthMode = "basic"
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff_factor: float = DEFAULT_BACKOFF_FACTOR
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    source: str = "Signal client"
    """Named in error messages, e.g. "connection 'signal_default'"."""

    def __post_init__(self) -> None:
        where = f" ({self.source})"
        if not self.system_id or not self.password:
            raise SignalInputError(
                f"Signal credentials are missing{where}: set the System ID (login) and Password."
            )
        if self.auth not in AUTH_MODES:
            raise SignalInputError(
                f"Signal auth mode {self.auth!r} is not known{where}: use 'basic' or 'payload'."
            )
        if not _is_number(self.timeout, 0, 300) or self.timeout == 0:
            raise SignalInputError(
                f"Signal timeout {self.timeout!r} is out of range{where}: give seconds, above 0 and "
                "at most 300."
            )
        if not _is_whole(self.retries, 0, 10):
            raise SignalInputError(
                f"Signal retries {self.retries!r} is out of range{where}: give a whole number from 0 to 10."
            )
        if not _is_number(self.backoff_factor, 0, BACKOFF_MAX):
            raise SignalInputError(
                f"Signal backoff_factor {self.backoff_factor!r} is out of range{where}: give seconds "
                f"from 0 to {BACKOFF_MAX:g}."
            )
        if not _is_whole(self.max_text_length, 1, 10**9):
            raise SignalInputError(
                f"Signal max_text_length {self.max_text_length!r} is not a positive whole number{where}."
            )
        build_message_url(self.api_url, self.source)  # refuse a bad URL before any request

    @cached_property
    def message_url(self) -> str:
        """The message endpoint, worked out once (every request uses it)."""
        return build_message_url(self.api_url)

    @property
    def basic_token(self) -> str:
        """The base64 ``systemid:password`` of the Basic ``Authorization`` header: a secret too."""
        return base64.b64encode(f"{self.system_id}:{self.password}".encode()).decode()

    @property
    def connect_timeout(self) -> float:
        return min(self.timeout, CONNECT_TIMEOUT_MAX)

    @property
    def time_budget(self) -> float:
        """Upper bound, in seconds, of one destination's send with these settings.

        Reading the answer's body is held within it too (see :meth:`SignalClient.post`).
        """
        connect = self.connect_timeout
        attempts = self.retries + 1
        waits = self.retries * max(BACKOFF_MAX, RETRY_AFTER_MAX)
        return attempts * (connect + self.timeout) + waits


def _make_retry(retries: int, backoff_factor: float) -> Any:
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


def _make_adapter(retry: Any) -> Any:
    """A requests adapter whose connections report a failed TLS handshake as a connect failure.

    urllib3 reports a handshake that times out as a *read* time-out, and one that is reset
    as a dropped answer, though no byte of the request can have been sent: both would be
    "may or may not have been delivered" and never retried. Here they are connect
    failures, retried as such.
    """
    import ssl

    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

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

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPSConnection

    class _Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HTTPConnectionPool, "https": _HTTPSPool}

    return _Adapter(max_retries=retry, pool_connections=1, pool_maxsize=1)


def _short(text: str, limit: int = _MAX_ERROR_TEXT) -> str:
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
                return _short(value if isinstance(value, str) else json.dumps(value))
    if raw_text.lstrip().startswith("<"):
        import re

        title = re.search(r"<title>(.*?)</title>", raw_text, re.IGNORECASE | re.DOTALL)
        stripped = re.sub(r"<[^>]+>", " ", title.group(1) if title else raw_text)
        return _short(stripped)
    return _short(raw_text)


_JSON_SHORT_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


def _char_forms(char: str) -> str:
    """A regex for ``char`` in any form an answer could plausibly carry it.

    As is; JSON-escaped (``\\uXXXX``, a surrogate pair, ``\\/``, ``\\"`` ..., also escaped
    twice); URL-encoded (each UTF-8 byte as ``%XX``, ``+`` for a space, as ``quote`` and
    ``quote_plus`` write them); HTML-escaped (``&#NN;``, ``&#xHH;``, ``&amp;`` ...).
    """
    code = ord(char)
    backslashes = r"(?:\\)+"
    if code > 0xFFFF:
        high, low = divmod(code - 0x10000, 0x400)
        unicode_escape = rf"{backslashes}(?i:u{0xD800 + high:04x}){backslashes}(?i:u{0xDC00 + low:04x})"
    else:
        unicode_escape = rf"{backslashes}(?i:u{code:04x})"
    forms = [re.escape(char), unicode_escape]
    if char in _JSON_SHORT_ESCAPES:
        forms.append(backslashes + re.escape(_JSON_SHORT_ESCAPES[char]))
    forms.append("".join(f"(?i:%{byte:02x})" for byte in char.encode("utf-8", "surrogatepass")))
    if char == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};")
    forms.append(f"(?i:&#x0*{code:x};)")
    if char in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[char]};")
    return "(?:" + "|".join(forms) + ")"


def secret_spellings(secrets: tuple[str, ...]) -> list[str]:
    """Each secret, and its base64 (standard and URL-safe, without padding), longest first.

    So an API that echoes the password base64-encoded on its own is masked too.
    """
    spellings: set[str] = set()
    for secret in filter(None, secrets):
        spellings.add(secret)
        encoded = secret.encode("utf-8", "surrogatepass")
        for b64 in (base64.b64encode(encoded), base64.urlsafe_b64encode(encoded)):
            spellings.add(b64.decode().rstrip("="))
        spellings.add(secret.rstrip("="))
    return sorted(spellings, key=len, reverse=True)  # longest first: nothing of one left behind


def secret_pattern(spellings: list[str]) -> re.Pattern[str]:
    """One regex for every spelling in every plausible encoding (see :func:`_char_forms`)."""
    return re.compile("|".join("".join(_char_forms(char) for char in spelling) for spelling in spellings))


_ESCAPE_MARKS = ("\\", "%", "&")
"""A text without these can only hold a secret as is (or with ``+`` for a space)."""


MAX_ANSWER_BYTES = 64 * 1024
"""At most this much of an answer's body is read (decoded); the API's answers are a few
hundred bytes. A longer body is cut there (a 2xx still counts as sent), so a huge or
compressed body ("zip bomb") costs neither memory nor time."""
_READ_CHUNK = 16 * 1024


class _BodyReadError(Exception):
    """The answer's status came, but reading its body failed (``__cause__`` says how)."""


class SignalClient:
    """Sends messages to the Signal API over one reused HTTP session.

    Not thread-safe; use one client per thread. Call :meth:`close` (or use it as a
    context manager) to release the connection.
    """

    def __init__(self, settings: SignalClientSettings) -> None:
        self.settings = settings
        self._session: requests.Session | None = None
        self._secrets = (settings.password, settings.basic_token)
        spellings = secret_spellings(self._secrets)
        self._secret_pattern = secret_pattern(spellings)
        self._plain_spellings = tuple({spelling.replace("+", " ") for spelling in spellings})

    def __repr__(self) -> str:
        return f"SignalClient(url={self.settings.message_url!r}, system_id={self.settings.system_id!r})"

    def __enter__(self) -> SignalClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def secrets(self) -> tuple[str, ...]:
        """The password and the Basic token: what must never be shown."""
        return self._secrets

    def redact(self, text: str) -> str:
        """Replace any secret in ``text``, in any plausible encoding, by ``***``."""
        # Fast path (most answers): no escape characters and no secret as is, so nothing to mask.
        if not any(mark in text for mark in _ESCAPE_MARKS):
            plain = text.replace("+", " ")
            if not any(spelling in plain for spelling in self._plain_spellings):
                return text
        return self._secret_pattern.sub("***", text)

    def _redact_value(self, value: Any) -> Any:
        """``value`` (a parsed JSON answer) with every string in it redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self._redact_value(item) for item in value]
        if isinstance(value, dict):
            return {self._redact_value(key): self._redact_value(item) for key, item in value.items()}
        return value

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._build_session()
        return self._session

    def _build_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        adapter = _make_adapter(_make_retry(self.settings.retries, self.settings.backoff_factor))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        if self.settings.auth == "basic":
            session.auth = self._add_basic_auth
        if _is_loopback(parse_api_url(self.settings.message_url).host):
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
        """For the sends inside, use the time-out and retries of ``settings`` over this same
        session and connection (a new client would open a new connection).

        Safe because a client is used by one thread only. Its error messages then state the
        time-out and attempts that really applied.
        """
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

    def post(self, payload: dict[str, Any], *, destination: str | None) -> SignalSendResult:
        """POST one message body; input must already be valid.

        The whole send, answer included, stays within ``settings.time_budget``: the body of
        the answer is read, at most :data:`MAX_ANSWER_BYTES` of it, within the read time-out.
        """
        import requests

        body = dict(payload)
        if self.settings.auth == "payload":
            body["systemid"] = self.settings.system_id
            body["password"] = self.settings.password
        who = f"message to {destination}" if destination else "connection test"
        where = f"{self.settings.source}, {self.settings.message_url}"
        failure: SignalAPIError | None = None
        started = time.monotonic()
        try:
            response = self.session.post(
                self.settings.message_url,
                # clean_text: a lone surrogate becomes U+FFFD, not a UnicodeEncodeError.
                data=clean_text(json.dumps(body, ensure_ascii=False)).encode("utf-8"),
                timeout=(self.settings.connect_timeout, self.settings.timeout),
                allow_redirects=False,
                stream=True,  # the body is read below, capped in size and time
            )
        except requests.exceptions.RequestException as exc:
            failure = self._transport_error(exc, who, where, destination)
        if failure is not None:
            # Raised outside the except block, so the error keeps no reference to the request
            # (its headers and body hold the credentials).
            raise failure
        deadline = min(started + self.settings.time_budget, time.monotonic() + self.settings.timeout)
        try:
            raw, complete = _read_body(response, deadline)
        except _BodyReadError as broken:
            failure = self._broken_answer(response.status_code, broken, who, where, destination)
            raw, complete = b"", False
        if not complete:
            response.close()  # the rest of the body is left unread: this connection is not reused
        if failure is not None:
            raise failure
        return self._handle(response, raw, complete, destination, who, where)

    def _broken_answer(
        self, status: int, broken: _BodyReadError, who: str, where: str, destination: str | None
    ) -> SignalAPIError | None:
        """The error for an answer whose body broke off; ``None`` when the status says enough."""
        if not 200 <= status < 300:
            return None  # a refusal or overload is clear from its status: map it without a body
        cause = broken.__cause__ or broken
        return self._error(
            f"Signal {who} may or may not have been delivered: the API answered HTTP {status}, but "
            f"its answer broke off before it was complete ({where}). It was not re-sent, to avoid "
            "a duplicate.",
            destination,
            cause,
            status_code=status,
            maybe_delivered=True,
        )

    def _transport_error(
        self, exc: Exception, who: str, where: str, destination: str | None
    ) -> SignalAPIError:
        """Turn a requests exception (no answer came) into a :class:`SignalAPIError`."""
        import requests

        connect = self.settings.connect_timeout
        attempts = f"after {self.settings.retries + 1} attempt(s)"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self._error(
                f"Signal {who} failed: could not connect within {connect:g} s {attempts} ({where}). "
                "Check the API URL and that the host is reachable.",
                destination,
                exc,
            )
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return self._error(
                f"Signal {who} may or may not have been delivered: the API did not answer "
                f"within {self.settings.timeout:g} s ({where}). It was not re-sent, to avoid a "
                "duplicate; raise the connection's timeout if the API is slow.",
                destination,
                exc,
                maybe_delivered=True,
            )
        if isinstance(exc, requests.exceptions.ConnectionError) and not _answer_lost(exc):
            return self._error(
                f"Signal {who} failed: could not connect to the Signal API {attempts} ({where}). "
                "Check the API URL, DNS and firewall.",
                destination,
                exc,
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return self._error(
                f"Signal {who} may or may not have been delivered: the connection closed before "
                f"the API answered ({where}). It was not re-sent, to avoid a duplicate.",
                destination,
                exc,
                maybe_delivered=True,
            )
        return self._error(f"Signal {who} failed ({where}).", destination, exc, maybe_delivered=True)

    def _error(
        self,
        message: str,
        destination: str | None,
        exc: BaseException,
        *,
        status_code: int | None = None,
        maybe_delivered: bool = False,
    ) -> SignalAPIError:
        cause = _short(self.redact(f"{type(exc).__name__}: {_root_cause(exc)}"), 200)
        return SignalAPIError(
            self.redact(f"{message} Cause: {cause}"),
            destination=destination,
            status_code=status_code,
            maybe_delivered=maybe_delivered,
        )

    def _parse(self, raw: bytes, complete: bool, response: requests.Response) -> tuple[Any, bool, str]:
        """The answer's JSON (redacted), whether it was readable, and its redacted text."""
        encoding = response.encoding or "utf-8"
        try:
            text = raw.decode(encoding, errors="replace")
        except LookupError:
            text = raw.decode("utf-8", errors="replace")
        body: Any = None
        readable = False
        if complete and text.strip():
            try:
                # Redact after parsing too: JSON may spell a secret with escapes the raw text hides.
                body = self._redact_value(json.loads(text))
                readable = True
            except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
                body = None
        return body, readable, self.redact(text)

    def _handle(
        self,
        response: requests.Response,
        raw: bytes,
        complete: bool,
        destination: str | None,
        who: str,
        where: str,
    ) -> SignalSendResult:
        body, readable, raw_text = self._parse(raw, complete, response)
        status = response.status_code
        if 200 <= status < 300:
            transaction_id, message_ids = parse_success(body)
            if message_ids and not any(message_ids):
                # The sibling Melrose Labs APIs answer an empty message id for a rejected destination.
                raise SignalAPIError(
                    self.redact(
                        f"Signal {who} failed: the API accepted the request (HTTP {status}, transaction "
                        f"{transaction_id}) but gave no message id, its sign of a rejected destination "
                        f"[{where}]. Check that the number is a Signal user."
                    ),
                    destination=destination,
                    status_code=status,
                    api_message="empty messageID",
                )
            return {
                "destination": destination,
                "transaction_id": transaction_id,
                "message_ids": message_ids,
                "status_code": status,
                "response": body if readable else _short(raw_text, 500),
                "response_readable": readable,
            }
        api_text = self.redact(extract_error_text(body, raw_text) or response.reason or "")
        retry_state = getattr(response.raw, "retries", None)
        retried = len(retry_state.history) if retry_state is not None else 0
        tries = f" after {retried + 1} attempts" if retried else ""
        if status in (401, 403):
            advice = "Check the System ID and password of the connection, and the auth mode."
        elif 300 <= status < 400:
            location = response.headers.get("Location", "")
            advice = f"The API redirected to {location!r}: set the API URL to the final address."
        elif status == 400:
            advice = "The API refused the message as invalid: check the destination and text."
        elif status in RETRY_STATUSES:
            advice = "The API is overloaded or unavailable: try again later."
        else:
            advice = "Check the Melrose Labs service status; the message was not re-sent."
        message = f"Signal {who} failed: HTTP {status}{tries}"
        if api_text:
            message += f" ({api_text})"
        raise SignalAPIError(
            self.redact(f"{message} [{where}]. {advice}"),
            destination=destination,
            status_code=status,
            api_message=api_text or None,
        )


def _read_body(response: requests.Response, deadline: float) -> tuple[bytes, bool]:
    """Read at most :data:`MAX_ANSWER_BYTES` of the answer's body (decoded) before ``deadline``.

    Returns the bytes and whether the body was complete. Reading stops at the cap or the
    deadline (the rest is left unread: the connection is then closed, not reused). A body
    that breaks off (a read time-out, a broken TLS stream, a truncated or badly chunked or
    badly compressed body) raises :class:`_BodyReadError`.
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
                raise _BodyReadError(str(late)) from late
            if sock is not None:
                sock.settimeout(remaining)  # no single wait goes past the deadline
            chunk = read(min(_READ_CHUNK, MAX_ANSWER_BYTES + 1 - size), decode_content=True)
            if not chunk:
                if sock is not None:
                    sock.settimeout(previous_timeout)
                raw.release_conn()  # read to the end: the connection can be reused
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
    except (HTTPError, HTTPException, OSError, ValueError) as exc:
        raise _BodyReadError(str(exc)) from exc
    return b"".join(chunks)[:MAX_ANSWER_BYTES], False


def _exception_chain(exc: BaseException) -> list[BaseException]:
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


def _root_cause(exc: BaseException) -> str:
    """The innermost text of an exception chain."""
    inner = _exception_chain(exc)[-1]
    return str(inner) or type(inner).__name__


def _answer_lost(exc: BaseException) -> bool:
    """True when the request went out but the connection closed before an answer came."""
    from urllib3.exceptions import NewConnectionError, ProtocolError

    chain = _exception_chain(exc)
    if any(isinstance(e, NewConnectionError) for e in chain):
        return False
    return any(isinstance(e, ProtocolError) for e in chain)
