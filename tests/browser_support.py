"""Support for tests/test_ui_browser.py: Debian's Chromium, a real `airflow api-server`, timings.

Nothing here downloads a browser: Playwright drives /usr/bin/chromium, which
:func:`ensure_chromium` installs with apt-get when it is missing (CI runs as root).
Every wait has a time-out, and :class:`AirflowAPIServer` always stops the server
process group it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_support import AIRFLOW, free_port, isolated_env, run_airflow, tail

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APT_TIMEOUT = 900.0
MIGRATE_TIMEOUT = 180.0
SERVER_START_TIMEOUT = 120.0
SERVER_STOP_TIMEOUT = 15.0
_tail = tail


def ensure_chromium() -> str:
    """Return the path of Debian's Chromium, installing the ``chromium`` package if it is missing.

    Fails the test (never skips) when it cannot be installed.
    """
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it: install Chromium.")
    if os.geteuid() != 0:
        pytest.fail(
            f"{CHROMIUM} is missing; install it as root: apt-get update && apt-get install -y chromium"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    started = time.monotonic()
    print(f"\n[browser] {CHROMIUM} is missing: installing Debian's chromium with apt-get ...", flush=True)
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=APT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(command)}` did not finish within {APT_TIMEOUT:g} s.")
        if done.returncode != 0:
            pytest.fail(
                f"`{' '.join(command)}` failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}"
            )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is still missing.")
    print(f"[browser] chromium installed in {time.monotonic() - started:.1f} s", flush=True)
    return CHROMIUM


class AirflowAPIServer:
    """A real ``airflow api-server`` on 127.0.0.1 with its own throwaway AIRFLOW_HOME (SQLite).

    Simple auth manager with every user an admin, connection testing enabled, no examples.
    Use as a context manager: the server's process group is always stopped on exit.
    """

    def __init__(self, home: Path) -> None:
        self.home = home
        self.dags_folder = home / "dags"
        self.dags_folder.mkdir(parents=True, exist_ok=True)  # creates the home too
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "api-server.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0
        # Nothing from the test process's own Airflow set-up (conftest, signal_api) leaks in.
        self.env = {
            **isolated_env(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        }

    # -- commands -------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` with this server's AIRFLOW_HOME; killed if it outlives ``timeout``."""
        return run_airflow(*args, env=self.env, timeout=timeout)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> AirflowAPIServer:
        started = time.monotonic()
        migrated = self.airflow("db", "migrate", timeout=MIGRATE_TIMEOUT)
        if migrated.returncode != 0:
            pytest.fail(f"`airflow db migrate` failed:\n{_tail(migrated.stdout + migrated.stderr)}")
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [*AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() reaches its workers too
            )
        self._wait_until_healthy()
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        health = f"{self.url}/api/v2/monitor/health"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                pytest.fail(f"airflow api-server exited with {self._process.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError, ValueError, KeyError),
                urllib.request.urlopen(health, timeout=2) as answer,  # noqa: S310 - our own server
            ):
                if json.loads(answer.read())["metadatabase"]["status"] == "healthy":
                    return
            time.sleep(0.25)
        pytest.fail(f"airflow api-server not healthy within {SERVER_START_TIMEOUT:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # workers left behind by a hard exit
            os.killpg(process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return _tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return "(no api-server log)"

    def __enter__(self) -> AirflowAPIServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class Steps:
    """Times the named steps of a test and prints each as it ends."""

    def __init__(self, *done: tuple[str, float]) -> None:
        """``done``: steps already timed elsewhere (e.g. in fixtures), counted in the total."""
        self.started = time.monotonic()
        self.durations: list[tuple[str, float]] = list(done)
        self._before = sum(seconds for _, seconds in done)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        print(f"\n[browser] {name} ...", flush=True)
        started = time.monotonic()
        yield
        seconds = time.monotonic() - started
        self.durations.append((name, seconds))
        print(f"[browser] {name}: {seconds:.1f} s", flush=True)

    @property
    def total(self) -> float:
        return self._before + time.monotonic() - self.started

    def summary(self) -> str:
        rows = [f"  {seconds:6.1f} s  {name}" for name, seconds in self.durations]
        return "\n".join(["[browser] timings:", *rows, f"  {self.total:6.1f} s  total"])


def fix_port_zero(route: Any, request: Any, rewritten: list[dict[str, Any]]) -> None:
    """Playwright route handler for ``POST /api/v2/connections/test``: send ``port: null``, not ``0``.

    Airflow 3.3's UI posts ``port: Number(connection.port)``, which is ``0`` for a
    connection without a port, and its API then refuses the Test with "400 The host or
    port to test differs from the stored connection" (apache/airflow#73298, fixed by
    normalising 0 like a blank port). This applies the same normalisation in the
    browser; on an Airflow that sends no ``0`` it changes nothing.
    """
    body = json.loads(request.post_data or "{}")
    if body.get("port") == 0:
        body["port"] = None
        rewritten.append(body)
    route.continue_(post_data=json.dumps(body))
