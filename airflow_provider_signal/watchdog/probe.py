"""One health check: Airflow's health endpoint over HTTP, read within a time-out and a size cap.

Airflow 3 serves ``/api/v2/monitor/health``, Airflow 2.11 ``/health``; both answer with one entry
per component (``metadatabase``, ``scheduler``, ``triggerer``, ``dag_processor``), each with a
``status`` of ``healthy``, ``unhealthy`` or ``null`` (the component does not run there) and, for
the ones with a heartbeat, its latest. The standard library's HTTP client is enough here: one GET,
no retries (the next check is the retry), and it keeps ``requests`` inside the Signal client.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

HEALTH_PATHS = ("/api/v2/monitor/health", "/health")
"""Airflow 3's endpoint, then 2.11's: the first that answers is used from then on."""
MAX_ANSWER_BYTES = 64 * 1024
COMPONENT_NAMES = {
    "metadatabase": "metadata database",
    "scheduler": "scheduler",
    "triggerer": "triggerer",
    "dag_processor": "DAG processor",
}


@dataclass(frozen=True)
class Check:
    """What one check saw: ``problem`` when Airflow could not be asked, else each component's
    status (``True`` healthy, ``False`` unhealthy; components that do not run are left out) and
    its latest heartbeat as Airflow wrote it."""

    url: str
    problem: str | None = None
    healthy: dict[str, bool] = field(default_factory=dict)
    heartbeats: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None and all(self.healthy.values())


def shown_url(url: str) -> str:
    """``url`` without a password in its user-info part (``https://user:***@host``)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def health_urls(base_url: str) -> list[str]:
    """The URLs to try: ``base_url`` itself when it names a health path, else both of Airflow's."""
    base = base_url.rstrip("/")
    if base.endswith(HEALTH_PATHS):
        return [base]
    return [base + path for path in HEALTH_PATHS]


def _problem(error: BaseException) -> str:
    """A short cause people recognise: connection refused, name not found, TLS, time-out."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "no answer within the time-out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error ({getattr(reason, 'reason', None) or type(reason).__name__})"
    return f"{type(reason).__name__}: {reason}"


def _components(body: object) -> tuple[dict[str, bool], dict[str, str]] | None:
    if not isinstance(body, dict):
        return None
    healthy: dict[str, bool] = {}
    heartbeats: dict[str, str] = {}
    for name in COMPONENT_NAMES:
        entry = body.get(name)
        if not isinstance(entry, dict) or entry.get("status") not in ("healthy", "unhealthy"):
            continue
        healthy[name] = entry["status"] == "healthy"
        beat = next((v for k, v in entry.items() if k.startswith("latest_") and isinstance(v, str)), None)
        if beat:
            heartbeats[name] = beat
    return (healthy, heartbeats) if "metadatabase" in healthy else None


def check(url: str, timeout: float) -> Check:
    """Ask ``url`` (a health endpoint) once; never raises for what the network or Airflow does."""
    if not url.startswith(("http://", "https://")):
        return Check(url, problem="not an http(s) URL")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (http(s) only)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            raw = answer.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:
        return Check(url, problem=f"HTTP {error.code} {error.reason}")
    except (
        urllib.error.URLError,
        OSError,
        ValueError,
        http.client.HTTPException,
    ) as error:  # garbled answers too
        password = urllib.parse.urlsplit(url).password
        problem = _problem(error)  # a malformed URL's error may quote it
        return Check(url, problem=problem.replace(password, "***") if password else problem)
    try:
        parsed = _components(json.loads(raw[:MAX_ANSWER_BYTES]))
    except ValueError:
        parsed = None
    if parsed is None:
        return Check(url, problem="the answer is not Airflow's health report")
    return Check(url, healthy=parsed[0], heartbeats=parsed[1])


def check_airflow(base_url: str, timeout: float, known: str | None = None) -> Check:
    """One check of the Airflow at ``base_url``; ``known``: the health URL that answered before."""
    candidates = health_urls(base_url)
    if known:  # an upgrade can move the endpoint: the others are tried if it is gone
        candidates = [known, *(url for url in candidates if url != known)]
    result = Check(candidates[0], problem="not checked")
    for url in candidates:
        result = check(url, timeout)
        if result.problem is None or not result.problem.startswith("HTTP 404"):
            return result
    return result
