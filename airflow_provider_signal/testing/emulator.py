"""A local Signal API emulator: a real HTTP server (stdlib) on 127.0.0.1.

It implements ``POST /signal/message`` as the Melrose Labs API is documented (Basic
auth or credentials in the body, 401 for bad credentials, 400 for bad input, the
sibling APIs' success shape), records what it received, and can be told to misbehave
(fault injection) for the next N requests. Control endpoints under ``/_emulator/``
let a standalone server be inspected and steered over HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from airflow_provider_signal.testing.faults import (  # re-exported: the emulator's public names
    FAULT_ACTIONS,
    MAX_FAULT_COUNT,
    MAX_FAULT_SECONDS,
    Fault,
    ReceivedMessage,
    ReceivedRequest,
    is_whole,
)

MESSAGE_PATH = "/signal/message"
CONTROL_PREFIX = "/_emulator"
_DESTINATION = re.compile(r"[0-9]{8,15}")
LISTEN_BACKLOG = 128
"""Connections the kernel queues before the server accepts them (many concurrent senders)."""


__all__ = [
    "CONTROL_PREFIX",
    "FAULT_ACTIONS",
    "MAX_FAULT_COUNT",
    "MAX_FAULT_SECONDS",
    "MESSAGE_PATH",
    "Fault",
    "ReceivedMessage",
    "ReceivedRequest",
    "SignalAPIEmulator",
]


class SignalAPIEmulator:
    """A threaded HTTP/1.1 server (keep-alive) that behaves like the Signal API.

    Use as a context manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        system_id: str = "emulator",
        password: str = "emulator-password",  # noqa: S107 - the emulator's own default
        host: str = "127.0.0.1",
        port: int = 0,
        keepalive_timeout: float = 15.0,
    ) -> None:
        self.system_id = system_id
        self.password = password
        self.keepalive_timeout = keepalive_timeout
        self.host = host
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._messages: list[ReceivedMessage] = []
        self._requests: list[ReceivedRequest] = []
        self._connections = 0
        self._open_sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL to put in a connection's host (``http://127.0.0.1:PORT``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SignalAPIEmulator:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                daemon=True,
                name=f"signal-emulator-{self.port}",
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SignalAPIEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def connection_json(self, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_*`` JSON value for a Signal connection to this emulator."""
        return json.dumps(
            {
                "conn_type": "signal",
                "login": self.system_id,
                "password": self.password,
                "host": self.url,
                "extra": extra,
            }
        )

    # -- what was received ----------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def connection_count(self) -> int:
        """TCP connections accepted since start (or the last :meth:`reset`)."""
        with self._lock:
            return self._connections

    def reset(self) -> None:
        """Forget messages, requests, counters and pending faults."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._faults.clear()
            self._connections = 0

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Wait until at least ``count`` messages arrived; return them (maybe fewer on time-out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                break
            time.sleep(0.02)
        return self.messages

    # -- fault injection ------------------------------------------------------------

    def fail_next(self, count: int = 1, **fault: Any) -> None:
        """Make the next ``count`` requests to the message endpoint misbehave (see :class:`Fault`).

        Raises ``ValueError`` (``TypeError`` for an unknown keyword) for a fault it could not act on.
        """
        if not is_whole(count, 1, MAX_FAULT_COUNT):
            raise ValueError(f"fault count must be a whole number from 1 to {MAX_FAULT_COUNT}, not {count!r}")
        template = Fault(**fault)
        with self._lock:
            for _ in range(count):
                self._faults.append(Fault(**asdict(template)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    # -- used by the handler --------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, request: ReceivedRequest, message: ReceivedMessage | None) -> None:
        with self._lock:
            self._requests.append(request)
            if message is not None:
                self._messages.append(message)

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections += 1
            self._open_sockets.add(sock)

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open_sockets.discard(sock)

    def _check(self, headers: Any, body: Any) -> tuple[int, dict[str, Any], ReceivedMessage | None]:
        """The emulated API's own answer: credentials first, then the message."""
        system_id = password = None
        auth = "none"
        header = headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                system_id, _, password = base64.b64decode(header[6:]).decode().partition(":")
                auth = "basic"
            except (ValueError, UnicodeDecodeError):
                pass
        elif isinstance(body, dict) and "systemid" in body:
            system_id, password, auth = body.get("systemid"), body.get("password"), "payload"
        if system_id != self.system_id or password != self.password:
            return 401, {"error": "Unauthorized: invalid system ID or password"}, None
        if not isinstance(body, dict):
            return 400, {"error": "Request body must be a JSON object"}, None
        destination, text = body.get("destination"), body.get("text")
        if not isinstance(destination, str) or not _DESTINATION.fullmatch(destination):
            return 400, {"error": "Invalid or missing destination"}, None
        if not isinstance(text, str) or not text:
            return 400, {"error": "Invalid or missing text"}, None
        transaction_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
        message = ReceivedMessage(destination, text, system_id, auth, transaction_id, message_id, time.time())
        return 200, {"transactionID": transaction_id, "messageID": [message_id]}, message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG  # socketserver's default of 5 drops concurrent senders
    emulator: SignalAPIEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client went away (e.g. it gave up after its time-out): not an emulator error
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024  # one write per answer (headers and body), flushed by the base class
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.emulator.keepalive_timeout)  # idle keep-alive closes
        self.server.emulator._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters

    # -- routing --------------------------------------------------------------------

    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path.startswith(CONTROL_PREFIX):
            self._control_post(raw)
        elif self.path.rstrip("/") == MESSAGE_PATH:
            self._message(raw)
        else:
            self._send_json(404, {"error": f"Not found: {self.path}"})

    def do_GET(self) -> None:
        emulator = self.server.emulator
        if self.path == f"{CONTROL_PREFIX}/messages":
            self._send_json(200, [asdict(m) for m in emulator.messages])
        elif self.path == f"{CONTROL_PREFIX}/stats":
            self._send_json(
                200,
                {
                    "requests": emulator.request_count,
                    "connections": emulator.connection_count,
                    "messages": len(emulator.messages),
                    "pending_faults": emulator.pending_faults,
                },
            )
        else:
            self._send_json(404, {"error": f"Not found: {self.path}"})

    def do_DELETE(self) -> None:
        if self.path in (f"{CONTROL_PREFIX}/messages", f"{CONTROL_PREFIX}/faults"):
            if self.path.endswith("faults"):
                self.server.emulator.clear_faults()
            else:
                self.server.emulator.reset()
            self._send_json(200, {"ok": True})
        else:
            self._send_json(404, {"error": f"Not found: {self.path}"})

    # -- endpoints ------------------------------------------------------------------

    def _control_post(self, raw: bytes) -> None:
        if self.path != f"{CONTROL_PREFIX}/faults":
            self._send_json(404, {"error": f"Not found: {self.path}"})
            return
        try:
            spec = json.loads(raw or b"{}")
            if not isinstance(spec, dict):
                raise ValueError(f"a fault is a JSON object, not {type(spec).__name__}")
            self.server.emulator.fail_next(spec.pop("count", 1), **spec)
        except (ValueError, TypeError) as exc:
            self._send_json(400, {"error": f"Bad fault: {exc}"})
            return
        self._send_json(200, {"pending_faults": self.server.emulator.pending_faults})

    def _message(self, raw: bytes) -> None:
        emulator = self.server.emulator
        fault = emulator._next_fault()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        status, answer, message = emulator._check(self.headers, body)
        headers = {k: v for k, v in self.headers.items()}
        if fault is None:
            emulator._record(ReceivedRequest(raw, headers, status, None), message)
            self._send_json(status, answer)
            return
        # Record on arrival, before any delay, so the counters show a request that is
        # still being answered (or never will be).
        if fault.action != "respond":
            answered, kind, delivered = None, fault.action, message if fault.deliver else None
        elif fault.status is None:  # a delay only: answered normally, so processed
            answered, kind, delivered = status, "delay", message
        else:
            answered, kind = fault.status, f"status {fault.status}"
            delivered = message if fault.deliver else None
        emulator._record(ReceivedRequest(raw, headers, answered, kind), delivered)
        if fault.delay:
            emulator._stopping.wait(fault.delay)
        if fault.action == "hang":
            emulator._stopping.wait(fault.hang_seconds)
            self.close_connection = True
            return
        if fault.action == "drop":
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.action in ("raw", "raw-hang"):
            self.close_connection = True
            body = fault.body
            self.wfile.write(body.encode() if isinstance(body, str) else body or b"")
            self.wfile.flush()
            if fault.action == "raw-hang":
                emulator._stopping.wait(fault.hang_seconds)
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.status is None:
            self._send_json(status, answer)
            return
        payload = fault.body
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload).encode()
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = payload or b""
        self._send(fault.status, data, fault.content_type, fault.headers)

    # -- plumbing -------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", {})

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
