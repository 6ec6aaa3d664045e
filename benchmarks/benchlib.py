"""Shared helpers of the benchmarks: summaries, worker processes, the emulator process, machine facts.

The orchestrator (``run.py``) never imports Airflow itself: every measurement runs in a fresh
interpreter (a *worker*), which writes its raw samples as JSON to the file named by
``--result``. Airflow's logs go to the worker's stdout, which the orchestrator keeps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DESTINATION = "+447700900123"
TEXT = "Nightly load finished: 1,204,331 rows in 14 min 2 s."


@dataclass(frozen=True)
class Figure:
    """One row of RESULTS.md and results.json: a measured value, and the target it is held to.

    Each benchmark module turns its results into figures (``run.py`` lists them by section);
    the method behind them is described in README.md, not here.
    """

    section: str
    measure: str
    value: str
    target: str = ""
    met: bool | None = None


@dataclass(frozen=True)
class Summary:
    """Median and spread of samples (seconds, or any unit)."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        return cls(tuple(samples))

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        if self.n < 4:
            return self.low, self.high
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q1, q3

    @property
    def spread_name(self) -> str:
        """IQR from 4 samples on; fewer samples show their full range."""
        return "IQR" if self.n >= 4 else "min–max"

    def spread(self) -> tuple[float, float]:
        return self.quartiles if self.n >= 4 else (self.low, self.high)

    def format(self, scale: float = 1.0, unit: str = "", digits: int | None = None) -> str:
        """E.g. ``2.61 ms (IQR 2.55-2.70, n=20)``, with an en dash between the bounds."""
        lo, hi = self.spread()
        places = digits if digits is not None else _places(self.median * scale)
        sep = " " if unit and unit[0].isalnum() else ""
        median, lo_text, hi_text = (f"{value * scale:.{places}f}" for value in (self.median, lo, hi))
        return f"{median}{sep}{unit} ({self.spread_name} {lo_text}–{hi_text}, n={self.n})"

    def as_dict(self) -> dict[str, Any]:
        lo, hi = self.spread()
        return {
            "median": self.median,
            "spread": self.spread_name,
            "spread_low": lo,
            "spread_high": hi,
            "min": self.low,
            "max": self.high,
            "n": self.n,
        }


def _places(value: float) -> int:
    """Decimal places that show three significant figures, at most."""
    magnitude = abs(value)
    return 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2 if magnitude >= 0.1 else 3


# -- worker processes --------------------------------------------------------------------------


def worker_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker: a throwaway AIRFLOW_HOME, loopback never proxied."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__")) and key != "PYTHONDONTWRITEBYTECODE"
    }
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1,localhost"]))
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class WorkerRun:
    result: Any
    output: str


def run_worker(
    script: str, args: Sequence[str], env: dict[str, str], log_dir: Path, timeout: float = 900
) -> WorkerRun:
    """Run ``benchmarks/<script>`` in a fresh interpreter; return what it wrote to ``--result``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    result_path = log_dir / f"{Path(script).stem}.json"
    log_path = log_dir / f"{Path(script).stem}.log"
    # Output to a file, not a pipe: no reader process competes for the CPU while the worker runs.
    with log_path.open("w") as log:
        proc = subprocess.run(
            [sys.executable, str(BENCH_DIR / script), "--result", str(result_path), *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    output = log_path.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed (exit {proc.returncode}):\n{output[-4000:]}")
    result = json.loads(result_path.read_text())
    return WorkerRun(result, output)


def migrate(env: dict[str, str]) -> None:
    """``airflow db migrate`` for the metadata database ``env`` names; raises with its output on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def write_result(path: str, result: Any) -> None:
    Path(path).write_text(json.dumps(result))


# -- the emulator, in its own process -------------------------------------------------------------


class EmulatorControl:
    """Steer and inspect an emulator over its ``/_emulator/`` endpoints, with the standard library
    only, so no control request goes through the code being measured."""

    def __init__(self, url: str) -> None:
        if not url.startswith("http://127.0.0.1:"):
            raise ValueError(f"benchmark traffic stays on 127.0.0.1, not {url!r}")
        self.url = url
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - always the emulator's http://127.0.0.1 URL
            f"{self.url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        with self._opener.open(request, timeout=10) as answer:
            return json.loads(answer.read())

    def reset(self) -> None:
        """Forget messages, faults and counters (the reset's own connection is forgotten too)."""
        self._call("DELETE", "messages")

    def fail_next(self, count: int, **fault: Any) -> None:
        self._call("POST", "faults", {"count": count, **fault})

    def stats(self) -> dict[str, int]:
        """Requests, messages and TCP connections since the last reset, not counting this query."""
        stats: dict[str, int] = self._call("GET", "stats")
        stats["connections"] -= 1  # the connection of this very query
        return stats


class EmulatorProcess:
    """The package's Signal API emulator in its own process, as a real API would be."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "emulator_server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.kill()
            raise RuntimeError("the emulator process did not start")
        info = json.loads(line)
        self.url: str = info["url"]
        self.connection_json: str = info["connection"]
        self.password: str = json.loads(self.connection_json)["password"]
        self.control = EmulatorControl(self.url)

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # the server stops at the end of its input
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_args(argv: Sequence[str] | None, **options: type) -> argparse.Namespace:
    """Parse a worker's command line: ``--result PATH`` plus the given ``--name value`` options."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--result", required=True)
    for name, kind in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, required=True)
    return parser.parse_args(argv)


@contextlib.contextmanager
def airflow_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="airflow-signal-bench-") as home:
        yield Path(home)


# -- the machine ----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "airflow": _version("apache-airflow"),
        "requests": _version("requests"),
        "urllib3": _version("urllib3"),
        "slack_provider": _version("apache-airflow-providers-slack"),
        "smtp_provider": _version("apache-airflow-providers-smtp"),
        "apprise_provider": _version("apache-airflow-providers-apprise"),
        "provider": _version("airflow-provider-signal"),
    }
