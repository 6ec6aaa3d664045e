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
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
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

if TYPE_CHECKING:
    import requests

DEFAULT_BACKOFF_FACTOR = 0.5
RETRY_AFTER_MAX = 10
"""A longer ``Retry-After`` is cut to this many seconds, so a send stays bounded."""
BACKOFF_MAX = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_ERROR_TEXT = 300


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_message_url(base_url: str | None, source: str = "") -> str:
    """Return the message endpoint for an API base URL given with or without a scheme.

    Plain ``http://`` is accepted only for loopback hosts (the local emulator), so a
    password never crosses a network unencrypted.
    """
    where = f" ({source})" if source else ""
    base = (base_url or "").strip() or DEFAULT_API_URL
    if "://" not in base:
        base = f"https://{base}"
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SignalInputError(
            f"Signal API URL {base_url!r} is not an http(s) URL{where}: "
            f"set the connection's API URL to e.g. {DEFAULT_API_URL!r}."
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SignalInputError(
            f"Signal API URL {base_url!r} uses plain http to a host that is not loopback{where}: "
            "use https:// so the password is not sent unencrypted."
        )
    path = parts.path.rstrip("/")
    if not path.endswith(MESSAGE_PATH):
        path += MESSAGE_PATH
    return f"{parts.scheme}://{parts.netloc}{path}"


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
        if not (isinstance(self.timeout, (int, float)) and 0 < self.timeout <= 300):
            raise SignalInputError(
                f"Signal timeout {self.timeout!r} is out of range{where}: give seconds, above 0 and "
                "at most 300."
            )
        if not (isinstance(self.retries, int) and 0 <= self.retries <= 10):
            raise SignalInputError(
                f"Signal retries {self.retries!r} is out of range{where}: give a whole number from 0 to 10."
            )
        if not (isinstance(self.max_text_length, int) and self.max_text_length > 0):
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
        """Upper bound, in seconds, of one destination's send with these settings."""
        connect = self.connect_timeout
        attempts = self.retries + 1
        waits = self.retries * max(BACKOFF_MAX, RETRY_AFTER_MAX)
        return attempts * (connect + self.timeout) + waits


def _make_retry(retries: int, backoff_factor: float) -> Any:
    from urllib3.util.retry import Retry

    class _SignalRetry(Retry):
        # 413 with Retry-After is not worth retrying; only the statuses we chose are.
        RETRY_AFTER_STATUS_CODES = RETRY_STATUSES

        def parse_retry_after(self, retry_after: str) -> float:
            return min(float(super().parse_retry_after(retry_after)), RETRY_AFTER_MAX)

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


class SignalClient:
    """Sends messages to the Signal API over one reused HTTP session.

    Not thread-safe; use one client per thread. Call :meth:`close` (or use it as a
    context manager) to release the connection.
    """

    def __init__(self, settings: SignalClientSettings) -> None:
        self.settings = settings
        self._session: requests.Session | None = None
        self._secrets = (settings.password, settings.basic_token)
        # An answer may carry a secret JSON-escaped (quotes, backslashes, non-ASCII): mask
        # those spellings too, longest first so no part of one is left behind.
        forms = {
            form
            for secret in self._secrets
            for form in (secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1])
        }
        self._secret_forms = sorted(forms, key=len, reverse=True)

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
        """Replace any secret in ``text`` (also JSON-escaped) by ``***``."""
        for secret in self._secret_forms:
            text = text.replace(secret, "***")
        return text

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
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=_make_retry(self.settings.retries, self.settings.backoff_factor),
            pool_connections=1,
            pool_maxsize=1,
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        if self.settings.auth == "basic":
            session.auth = self._add_basic_auth
        if _is_loopback(urlsplit(self.settings.message_url).hostname or ""):
            # Plain http is allowed only to loopback: an http_proxy from the environment must
            # not carry the request (and the password) off this machine.
            session.trust_env = False
        return session

    def _add_basic_auth(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Basic auth with the UTF-8 token that is masked (requests would encode it as Latin-1)."""
        request.headers["Authorization"] = f"Basic {self.settings.basic_token}"
        return request

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def post(self, payload: dict[str, Any], *, destination: str | None) -> SignalSendResult:
        """POST one message body; input must already be valid."""
        import requests

        body = dict(payload)
        if self.settings.auth == "payload":
            body["systemid"] = self.settings.system_id
            body["password"] = self.settings.password
        who = f"message to {destination}" if destination else "connection test"
        where = f"{self.settings.source}, {self.settings.message_url}"
        failure: SignalAPIError | None = None
        try:
            response = self.session.post(
                self.settings.message_url,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                timeout=(self.settings.connect_timeout, self.settings.timeout),
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            failure = self._transport_error(exc, who, where, destination)
        if failure is not None:
            # Raised outside the except block, so the error keeps no reference to the request
            # (its headers and body hold the credentials).
            raise failure
        return self._handle(response, destination, who, where)

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
        self, message: str, destination: str | None, exc: BaseException, *, maybe_delivered: bool = False
    ) -> SignalAPIError:
        cause = _short(self.redact(f"{type(exc).__name__}: {_root_cause(exc)}"), 200)
        return SignalAPIError(
            self.redact(f"{message} Cause: {cause}"),
            destination=destination,
            maybe_delivered=maybe_delivered,
        )

    def _handle(
        self, response: requests.Response, destination: str | None, who: str, where: str
    ) -> SignalSendResult:
        text = response.text or ""
        try:
            body: Any = json.loads(text) if text.strip() else None
            readable = body is not None
        except ValueError:
            body, readable = None, False
        # Redact after parsing too: JSON may spell a secret with escapes the raw text hides.
        body = self._redact_value(body)
        raw_text = self.redact(text)
        status = response.status_code
        if 200 <= status < 300:
            transaction_id, message_ids = parse_success(body)
            if message_ids and not any(message_ids):
                # The sibling Melrose Labs APIs answer an empty message id for a rejected destination.
                raise SignalAPIError(
                    f"Signal {who} failed: the API accepted the request (HTTP {status}, transaction "
                    f"{transaction_id}) but gave no message id, its sign of a rejected destination "
                    f"[{where}]. Check that the number is a Signal user.",
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
        api_text = extract_error_text(body, raw_text) or response.reason or ""
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
