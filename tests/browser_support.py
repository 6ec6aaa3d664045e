"""Support for tests/test_ui_browser.py: Debian's Chromium, a real `airflow api-server`, timings.

Nothing here downloads or installs a browser: Playwright drives Debian's /usr/bin/chromium,
which ``make chromium`` installs when it is missing (``make test`` runs it first).
Every wait has a time-out, and :class:`AirflowAPIServer` always stops the server
process group it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_support import Component, free_port, isolated_env, run_airflow, tail

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
MIGRATE_TIMEOUT = 180.0
WAIT_MS = 20_000
"""How long a browser test waits for anything on a page."""
SERVER_START_TIMEOUT = 120.0
SERVER_STOP_TIMEOUT = 15.0


def ensure_chromium() -> str:
    """Return the path of Debian's Chromium; never installs anything.

    ``make chromium`` installs it (``make test`` runs that first). Missing under CI
    (``CI=true``), where ``make test`` just installed it, fails the test; elsewhere it skips,
    saying what to run.
    """
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = (
        f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium "
        "(as root: apt-get update && apt-get install -y chromium)"
    )
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; under CI `make test` installs it before this suite.")
    pytest.skip(reason)


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
        self.server = Component(
            "api-server",
            ["api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
            self.env,
            home,
        )

    # -- commands -------------------------------------------------------------------

    def airflow(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` with this server's AIRFLOW_HOME; killed if it outlives ``timeout``."""
        return run_airflow(*args, env=self.env, timeout=timeout)

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> AirflowAPIServer:
        started = time.monotonic()
        migrated = self.airflow("db", "migrate", timeout=MIGRATE_TIMEOUT)
        if migrated.returncode != 0:
            pytest.fail(f"`airflow db migrate` failed:\n{tail(migrated.stdout + migrated.stderr)}")
        self.server.start()
        self._wait_until_healthy()
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        health = f"{self.url}/api/v2/monitor/health"
        while time.monotonic() < deadline:
            if (code := self.server.exited()) is not None:
                pytest.fail(f"airflow api-server exited with {code}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError, ValueError, KeyError),
                urllib.request.urlopen(health, timeout=2) as answer,  # noqa: S310 - our own server
            ):
                if json.loads(answer.read())["metadatabase"]["status"] == "healthy":
                    return
            time.sleep(0.25)
        pytest.fail(f"airflow api-server not healthy within {SERVER_START_TIMEOUT:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server's process group (SIGTERM, then SIGKILL)."""
        self.server.stop(SERVER_STOP_TIMEOUT)

    def log_tail(self, lines: int = 40) -> str:
        return self.server.log_tail(lines)

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
