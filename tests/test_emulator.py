"""The emulator itself: its fault injection, counters and HTTP control endpoints, driven with
plain urllib and http.client (no provider code), and the standalone command line."""

from __future__ import annotations

import base64
import http.client
import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_signal.testing import SignalAPIEmulator

DEST = "447700900123"
PASSWORD = "emu-password"


@pytest.fixture
def emulator() -> Iterator[SignalAPIEmulator]:
    with SignalAPIEmulator(system_id="emu", password="emu-password") as running:
        yield running


def call(
    url: str, method: str = "GET", payload: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request over a fresh connection; returns status, headers and body, also for 4xx/5xx."""
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - http to 127.0.0.1
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def send(base_url: str, text: str = "hi", password: str = PASSWORD) -> Any:
    token = base64.b64encode(f"emu:{password}".encode()).decode()
    return call(
        f"{base_url}/signal/message",
        "POST",
        {"destination": DEST, "text": text},
        {"Authorization": f"Basic {token}"},
    )


def control(base_url: str, method: str, what: str, payload: Any = None) -> tuple[int, Any]:
    status, _, body = call(f"{base_url}/_emulator/{what}", method, payload)
    return status, json.loads(body)


# -- the emulated API ----------------------------------------------------------------------


def test_the_emulated_api_accepts_good_credentials_and_refuses_bad_ones(emulator: SignalAPIEmulator) -> None:
    status, _, body = send(emulator.url, "hello")
    answer = json.loads(body)
    assert status == 200
    [message] = emulator.messages
    assert answer == {"transactionID": message.transaction_id, "messageID": [message.message_id]}

    status, _, body = send(emulator.url, "wrong", password="nope")
    assert (status, json.loads(body)) == (401, {"error": "Unauthorized: invalid system ID or password"})
    assert [r.status for r in emulator.requests] == [200, 401]
    assert len(emulator.messages) == 1


# -- fault injection, seen by a plain HTTP client ------------------------------------------


@pytest.mark.parametrize(
    ("fault", "content_type", "body"),
    [
        ({"status": 503, "body": {"error": "busy"}}, "application/json", b'{"error": "busy"}'),
        (
            {"status": 502, "body": "<html>bad</html>", "content_type": "text/html"},
            "text/html",
            b"<html>bad</html>",
        ),
        ({"status": 500, "body": None}, "application/json", b""),
        ({"status": 200, "body": '{"messageID": ['}, "application/json", b'{"messageID": ['),
    ],
    ids=["json", "html", "empty", "unreadable-json"],
)
def test_a_fault_answers_the_next_requests_with_its_status_and_body(
    emulator: SignalAPIEmulator, fault: dict[str, Any], content_type: str, body: bytes
) -> None:
    emulator.fail_next(2, headers={"Retry-After": "7"}, **fault)
    answers = [send(emulator.url) for _ in range(3)]

    for status, headers, data in answers[:2]:
        assert (status, headers["Content-Type"], data) == (fault["status"], content_type, body)
        assert headers["Retry-After"] == "7"
    assert answers[2][0] == 200  # the faults are used up
    assert emulator.request_count == 3
    assert [r.fault for r in emulator.requests] == [f"status {fault['status']}"] * 2 + [None]
    assert len(emulator.messages) == 1  # a fault is not a delivery unless deliver=True


def test_a_fault_can_model_processed_but_answered_badly(emulator: SignalAPIEmulator) -> None:
    emulator.fail_next(1, status=504, deliver=True)
    assert send(emulator.url, "processed")[0] == 504
    assert [m.text for m in emulator.messages] == ["processed"]


def test_a_delay_holds_the_answer_but_counts_the_request_on_arrival(emulator: SignalAPIEmulator) -> None:
    emulator.fail_next(1, delay=0.5)
    done: list[float] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: done.append(send(emulator.url)[0]))
    worker.start()
    deadline = time.monotonic() + 2
    while emulator.request_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emulator.request_count == 1 and not done  # counted while the answer is still held
    worker.join(5)
    assert done == [200]
    assert time.monotonic() - started >= 0.45
    assert emulator.requests[0].fault == "delay"


def raw_post(base_url: str, timeout: float, text: str = "raw") -> int:
    """POST a valid message with http.client and ``timeout``; return the status."""
    token = base64.b64encode(b"emu:emu-password").decode()
    connection = http.client.HTTPConnection(base_url.removeprefix("http://"), timeout=timeout)
    try:
        connection.request(
            "POST",
            "/signal/message",
            body=json.dumps({"destination": DEST, "text": text}),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize("deliver", [False, True])
def test_hang_reads_the_request_and_never_answers(emulator: SignalAPIEmulator, deliver: bool) -> None:
    emulator.fail_next(1, action="hang", hang_seconds=3, deliver=deliver)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        raw_post(emulator.url, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 2
    assert emulator.request_count == 1
    assert emulator.requests[0].fault == "hang" and emulator.requests[0].status is None
    assert len(emulator.messages) == int(deliver)


@pytest.mark.parametrize("deliver", [False, True])
def test_drop_reads_the_request_then_closes_without_an_answer(
    emulator: SignalAPIEmulator, deliver: bool
) -> None:
    emulator.fail_next(1, action="drop", deliver=deliver)
    with pytest.raises(http.client.RemoteDisconnected):
        raw_post(emulator.url, timeout=5, text="dropped")
    assert emulator.request_count == 1
    assert emulator.requests[0].fault == "drop"
    assert json.loads(emulator.requests[0].body)["text"] == "dropped"
    assert [m.text for m in emulator.messages] == (["dropped"] if deliver else [])
    assert raw_post(emulator.url, timeout=5) == 200  # the next request is answered normally


def test_connections_are_counted_separately_from_requests(emulator: SignalAPIEmulator) -> None:
    token = base64.b64encode(b"emu:emu-password").decode()
    body = json.dumps({"destination": DEST, "text": "kept alive"})
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection(emulator.url.removeprefix("http://"), timeout=5)
    try:
        for _ in range(3):
            connection.request("POST", "/signal/message", body=body, headers=headers)
            assert connection.getresponse().read()
    finally:
        connection.close()
    send(emulator.url)

    assert emulator.request_count == 4
    assert emulator.connection_count == 2
    assert len(emulator.messages) == 4


def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout() -> None:
    with SignalAPIEmulator(keepalive_timeout=0.2) as emulator:
        with socket.create_connection(("127.0.0.1", emulator.port), timeout=5) as sock:
            sock.settimeout(2)
            assert sock.recv(1) == b""  # the server closed the idle connection
        assert emulator.connection_count == 1


def test_an_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="fault action"):
        SignalAPIEmulator().fail_next(1, action="explode")
    with pytest.raises(TypeError):
        SignalAPIEmulator().fail_next(1, colour="red")


# -- control endpoints over HTTP -----------------------------------------------------------


def test_faults_can_be_injected_and_cleared_over_http(emulator: SignalAPIEmulator) -> None:
    fault = {"count": 2, "status": 429, "headers": {"Retry-After": "1"}, "body": {"error": "slow down"}}
    assert control(emulator.url, "POST", "faults", fault) == (200, {"pending_faults": 2})
    status, headers, body = send(emulator.url)
    assert (status, headers["Retry-After"], json.loads(body)) == (429, "1", {"error": "slow down"})

    assert control(emulator.url, "DELETE", "faults") == (200, {"ok": True})
    assert emulator.pending_faults == 0
    assert send(emulator.url)[0] == 200


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [({"action": "explode"}, "fault action"), ({"colour": "red"}, "colour"), ({"count": "many"}, "many")],
)
def test_a_bad_fault_over_http_is_a_400_with_the_reason(
    emulator: SignalAPIEmulator, spec: dict[str, Any], fragment: str
) -> None:
    status, answer = control(emulator.url, "POST", "faults", spec)
    assert status == 400 and fragment in answer["error"]
    assert emulator.pending_faults == 0


def test_messages_and_stats_can_be_read_and_reset_over_http(emulator: SignalAPIEmulator) -> None:
    emulator.fail_next(1, status=503)
    send(emulator.url, "one")
    send(emulator.url, "two")

    status, messages = control(emulator.url, "GET", "messages")
    assert status == 200
    assert [(m["destination"], m["text"], m["auth"], m["system_id"]) for m in messages] == [
        (DEST, "two", "basic", "emu")
    ]
    assert set(messages[0]) >= {"transaction_id", "message_id", "received_at"}
    status, stats = control(emulator.url, "GET", "stats")
    # Control requests are not requests to the API, but each came on its own TCP connection.
    assert (status, stats) == (200, {"requests": 2, "connections": 4, "messages": 1, "pending_faults": 0})

    assert control(emulator.url, "DELETE", "messages") == (200, {"ok": True})
    assert emulator.messages == [] and emulator.request_count == 0
    _, stats = control(emulator.url, "GET", "stats")
    assert stats == {"requests": 0, "connections": 1, "messages": 0, "pending_faults": 0}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_emulator/nothing"),
        ("DELETE", "/_emulator/stats"),
        ("POST", "/_emulator/stats"),
        ("POST", "/x"),
    ],
)
def test_unknown_paths_are_404(emulator: SignalAPIEmulator, method: str, path: str) -> None:
    status, _, body = call(f"{emulator.url}{path}", method, {} if method == "POST" else None)
    assert status == 404 and "Not found" in json.loads(body)["error"]
    assert emulator.request_count == 0


# -- the standalone command line -----------------------------------------------------------


def read_lines(stream: Any) -> queue.Queue[str]:
    """Lines of ``stream`` as they come, so each read can have a deadline."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_the_command_line_emulator_serves_prints_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "airflow_provider_signal.testing",
        "--port",
        "0",
        "--system-id",
        "emu",
        "--password",
        "emu-password",
        "--print-messages",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_lines(process.stdout)
        first = lines.get(timeout=20)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        assert match, first
        url = match.group(0)
        connection_line = lines.get(timeout=5)
        assert '"login": "emu"' in connection_line and "emu-password" not in connection_line

        assert control(url, "POST", "faults", {"count": 1, "status": 503})[0] == 200
        assert send(url, "first try")[0] == 503
        assert send(url, "Grüße 🚀")[0] == 200
        printed = json.loads(lines.get(timeout=5))
        assert printed == {"destination": DEST, "text": "Grüße 🚀"}
        assert control(url, "GET", "stats")[1]["requests"] == 2

        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


# -- many concurrent senders, and faults that make sense (issue 13) ---------------------------


def test_connections_made_while_the_server_is_busy_are_queued_not_dropped() -> None:
    """The kernel's listen queue must hold a burst of 20+ senders: with socketserver's default
    of 5, the sixth connect is not answered until the server catches up (and a sender with
    a short connect time-out fails). The server thread is not started yet, so nothing is
    accepted while the burst connects."""
    emulator = SignalAPIEmulator(system_id="emu", password=PASSWORD)
    clients: list[socket.socket] = []
    try:
        for _ in range(40):
            clients.append(socket.create_connection(("127.0.0.1", emulator.port), timeout=1.0))
        emulator.start()
        token = base64.b64encode(f"emu:{PASSWORD}".encode()).decode()
        body = json.dumps({"destination": DEST, "text": "queued"}).encode()
        request = (
            f"POST /signal/message HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Basic {token}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        for client in clients:
            client.settimeout(10)
            client.sendall(request)
        answers = [client.makefile("rb").readline() for client in clients]
    finally:
        for client in clients:
            client.close()
        emulator.stop()
    assert answers == [b"HTTP/1.1 200 OK\r\n"] * 40
    assert len(emulator.messages) == 40


def test_twenty_five_concurrent_senders_are_all_answered(emulator: SignalAPIEmulator) -> None:
    barrier = threading.Barrier(25)
    statuses: queue.Queue[Any] = queue.Queue()

    def sender(n: int) -> None:
        barrier.wait(10)
        try:
            statuses.put(raw_post(emulator.url, timeout=10, text=f"sender {n}"))
        except OSError as error:
            statuses.put(error)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    answers = [statuses.get_nowait() for _ in range(statuses.qsize())]
    assert answers == [200] * 25
    assert sorted(m.text for m in emulator.messages) == sorted(f"sender {n}" for n in range(25))


@pytest.mark.parametrize(
    ("raw_spec", "fragment"),
    [
        (b"null", "JSON object"),
        (b"[1, 2]", "JSON object"),
        (b'"fault"', "JSON object"),
        (b'{"status": "abc"}', "status"),
        (b'{"status": 99}', "status"),
        (b'{"status": 600}', "status"),
        (b'{"status": true}', "status"),
        (b'{"status": 503.5}', "status"),
        (b'{"delay": "soon"}', "delay"),
        (b'{"delay": -1}', "delay"),
        (b'{"delay": Infinity}', "delay"),
        (b'{"delay": NaN}', "delay"),
        (b'{"hang_seconds": 1e12, "action": "hang"}', "hang_seconds"),
        (b'{"count": 1000000000}', "count"),
        (b'{"count": 0}', "count"),
        (b'{"count": -3}', "count"),
        (b'{"count": true}', "count"),
        (b'{"count": 2.5}', "count"),
        (b'{"headers": ["Retry-After", "1"]}', "headers"),
        (b'{"headers": {"Retry-After": 1}}', "headers"),
        (b'{"headers": {"Bad Name": "1"}}', "headers"),
        (b'{"headers": {"X": "a\\r\\nInjected: 1"}}', "headers"),
        (b'{"content_type": 5}', "content_type"),
        (b'{"deliver": "yes"}', "deliver"),
        (b'{"body": 5}', "body"),
        (b"{not json", "Bad fault"),
    ],
)
def test_a_nonsense_fault_is_a_400_and_the_next_request_is_answered_normally(
    emulator: SignalAPIEmulator, raw_spec: bytes, fragment: str
) -> None:
    request = urllib.request.Request(  # noqa: S310 - http to 127.0.0.1
        f"{emulator.url}/_emulator/faults",
        data=raw_spec,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)  # noqa: S310
    with caught.value as answer:
        assert answer.code == 400
        assert fragment in json.loads(answer.read())["error"]
    assert emulator.pending_faults == 0
    status, _, body = send(emulator.url, "after the bad fault")
    assert status == 200 and "messageID" in json.loads(body)


@pytest.mark.parametrize(
    "fault", [{"status": 99}, {"delay": "soon"}, {"delay": float("inf")}, {"headers": None}, {"deliver": 1}]
)
def test_a_nonsense_fault_is_refused_by_fail_next_too(
    emulator: SignalAPIEmulator, fault: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="fault"):
        emulator.fail_next(1, **fault)
    with pytest.raises(ValueError, match="count"):
        emulator.fail_next(10**9)
    assert emulator.pending_faults == 0
