"""A real StatsD server for tests: a UDP socket on 127.0.0.1 that keeps every metric line it receives.

Each deployment of tests/airflow_support.py starts one and points ``[metrics]`` at it, so a test
reads what Airflow's own StatsD logger really sent (``name:value|type`` lines, several a packet).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter


class StatsdListener:
    """Receives StatsD packets on a free UDP port of 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._receive, name=f"statsd-{self.port}", daemon=True)

    def start(self) -> StatsdListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._socket.close()

    def _receive(self) -> None:
        while not self._stopped.is_set():
            try:
                packet = self._socket.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._lines.extend(line for line in packet.decode(errors="replace").splitlines() if line)

    @property
    def lines(self) -> list[str]:
        """Every metric line received so far, in order."""
        with self._lock:
            return list(self._lines)

    def counts(self, prefix: str) -> Counter[str]:
        """The sum of each counter (``|c``) whose name starts with ``prefix``."""
        totals: Counter[str] = Counter()
        for line in self.lines:
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if name.startswith(prefix) and kind.split("|")[0] == "c":
                totals[name] += int(float(value))
        return totals

    def timings(self, name: str) -> list[float]:
        """The values of the timer (``|ms``) called ``name``, in milliseconds."""
        found = []
        for line in self.lines:
            metric, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if metric == name and kind.split("|")[0] == "ms":
                found.append(float(value))
        return found
