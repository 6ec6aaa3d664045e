"""API URLs: parsing that refuses anything ambiguous, the loopback rule, and masking for messages.

A URL is parsed once into an :class:`ApiUrl`; the loopback rule, the message endpoint and
the HTTP library all use that one parse. That urllib3 reads a URL as we do is asked of the
transport (which imports urllib3 when first asked, not at import).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from airflow_provider_signal.defaults import DEFAULT_API_URL, MESSAGE_PATH
from airflow_provider_signal.errors import SignalInputError

_AUTHORITY = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(?P<port>[0-9]{1,5}))?"
)
"""What an API URL's authority may be: a DNS name, IPv4 or bracketed IPv6 address, and a port.
No userinfo, percent-escapes, zone ids or odd characters: nothing two URL parsers could read apart."""
_PATH = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:-]*)*")
_URL_MASK = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?.*@", re.DOTALL)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, bracketed or not) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_is_loopback = is_loopback  # the name it had in the single-module client


def shown_url(url: str) -> str:
    """``url`` fit for an error message: anything up to an ``@`` (userinfo, credentials) masked."""
    return _URL_MASK.sub(r"\1***@", url)


@dataclass(frozen=True)
class ApiUrl:
    """An API base URL, parsed once by :func:`parse_api_url`; the loopback rule, the message
    endpoint and the HTTP library all use this one parse."""

    scheme: str
    host: str
    """As it goes in a URL: a name, an IPv4 address or a bracketed IPv6 address."""
    port: int | None
    path: str

    def with_port(self, port: int | None) -> ApiUrl:
        return ApiUrl(self.scheme, self.host, port, self.path)

    def message_endpoint(self) -> ApiUrl:
        """This URL with the message path added (unless it ends with it already)."""
        path = self.path if self.path.endswith(MESSAGE_PATH) else self.path + MESSAGE_PATH
        return ApiUrl(self.scheme, self.host, self.port, path)

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

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
    if scheme == "http" and not url.is_loopback:
        raise SignalInputError(
            f"Signal API URL {shown} uses plain http to a host that is not loopback{where}: "
            "use https:// so the password is not sent unencrypted."
        )
    return url


def _parsers_agree(url: ApiUrl) -> bool:
    """Whether ``urllib.parse`` and urllib3 (which connects) read the same host and port."""
    from airflow_provider_signal.client.transport import url_parts

    text = str(url) + MESSAGE_PATH
    try:
        ours = urlsplit(text)
        their_scheme, their_host, their_port = url_parts(text)
        ours_host, ours_port = ours.hostname, ours.port
    except ValueError:
        return False
    host = url.host.strip("[]").lower()
    return (
        (ours_host or "").lower() == host
        and (their_host or "").strip("[]").lower() == host
        and ours_port == their_port == url.port
        and their_scheme == ours.scheme == url.scheme
    )


def build_message_url(base_url: str | None, source: str = "") -> str:
    """Return the message endpoint for an API base URL given with or without a scheme.

    Plain ``http://`` is accepted only for loopback hosts (the local emulator), so a
    password never crosses a network unencrypted; see :func:`parse_api_url` for what is refused.
    """
    return str(parse_api_url(base_url, source).message_endpoint())


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
