"""The distributed topology of the real-deployment harness: what production runs.

``Deployment(..., topology="distributed")`` (tests/airflow_support.py) runs Airflow on:

- PostgreSQL: a throwaway cluster made with the system's ``initdb`` and run with its ``postgres``
  on a free port of 127.0.0.1, its data and unix socket in a temporary directory, as ``nobody``
  when the tests run as root (PostgreSQL refuses to run as root; CI runs as root);
- Redis as the Celery broker: its own ``redis-server`` on a free port, nothing kept on disk;
- the CeleryExecutor with two schedulers and a Celery worker (``airflow celery worker``), beside
  the API server, DAG processor and triggerer (Airflow 3) or webserver and triggerer (2.11).

Airflow talks to PostgreSQL over TCP with ``postgresql+psycopg2://`` (with SQLAlchemy 2.1 a plain
``postgresql://`` means psycopg 3), and Celery keeps its results there too
(``db+postgresql+psycopg2://``). A connection stored in the metadata database by
``airflow connections add`` (``signal_stored``, not in any component's environment) shows what
the worker reads from there.

The servers come from Debian's ``postgresql`` and ``redis-server`` (``make services``); when they
are missing the distributed tests skip, saying what to run, and fail under ``CI=true``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_support import Component, free_port, run_command, tail

if TYPE_CHECKING:
    from airflow_support import Deployment

SERVER_TIMEOUT = 60.0
WORKER_TIMEOUT = 180.0
DATABASE = "airflow"
DB_USER = "airflow"
#: the Celery worker's task slots: every lifecycle and alerts DAG of the tests at once
WORKER_CONCURRENCY = 8
#: the stored connection's default recipient (``signal_stored`` in the metadata database)
STORED_DESTINATION = "447700901701"
UNPRIVILEGED_USER = "nobody"


def _postgres_bin(name: str) -> str | None:
    """``initdb``, ``postgres`` ... of the newest PostgreSQL under /usr/lib/postgresql, else on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    return found[-1] if found else shutil.which(name)


def require_servers() -> None:
    """Skip (fail under ``CI=true``) when PostgreSQL or redis-server is not installed."""
    missing = [
        name
        for name, path in (
            ("postgresql", _postgres_bin("initdb")),
            ("redis-server", shutil.which("redis-server")),
        )
        if path is None
    ]
    if not missing:
        return
    message = (
        f"the distributed deployment needs {' and '.join(missing)}: run `make services` "
        f"(as root: apt-get install -y {' '.join(missing)})"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _wait_for(check: Any, what: str, component: Component, timeout: float = SERVER_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        code = component.exited()
        if code is not None:
            pytest.fail(f"{component.name} exited with {code}:\n{component.log_tail(80)}")
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout:g} s:\n{component.log_tail(80)}")


def _redis_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")
    return False


class BackingServices:
    """PostgreSQL and Redis for one distributed deployment, each a :class:`Component`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        # Not under pytest's tmp_path: its parents are private to root, and the unprivileged
        # PostgreSQL user must reach its data directory.
        self.root = Path(tempfile.mkdtemp(prefix="airflow-signal-services-"))
        self.user = UNPRIVILEGED_USER if os.geteuid() == 0 else None
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.components: dict[str, Component] = {}
        self.startup_seconds = 0.0

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg2://{DB_USER}@127.0.0.1:{self.pg_port}/{DATABASE}"

    def airflow_settings(self, line: int) -> dict[str, dict[str, Any]]:
        """What the distributed topology sets in ``airflow.cfg`` on top of the harness's settings."""
        settings: dict[str, dict[str, Any]] = {
            "core": {"executor": "CeleryExecutor"},
            "celery": self._celery_settings(),
        }
        if line == 2:
            # 2.11's webserver gives its gunicorn master 120 s to start, which a 2-core machine
            # starting two schedulers, a worker and PostgreSQL beside it does not always meet.
            settings["webserver"] = {"web_server_master_timeout": 600, "web_server_worker_timeout": 600}
        return settings

    def _celery_settings(self) -> dict[str, Any]:
        return {
            "broker_url": f"redis://127.0.0.1:{self.redis_port}/0",
            "result_backend": f"db+{self.sql_alchemy_conn}",
            "worker_concurrency": WORKER_CONCURRENCY,
            "sync_parallelism": 1,
            # Sending a task to Redis is given 1 s by default; on a busy 2-core machine the
            # scheduler then logs "Celery Task Timeout Error" and tries again, up to 3 times.
            "operation_timeout": 15,
        }

    @staticmethod
    def worker_args() -> list[str]:
        return ["celery", "worker", "--concurrency", str(WORKER_CONCURRENCY)]

    def start(self) -> None:
        """initdb, start PostgreSQL and Redis, create the database; wait until both answer."""
        require_servers()
        started = time.monotonic()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "AIRFLOW"))}
        data, sockets = self.root / "data", self.root / "sockets"
        if self.user is not None:
            import pwd

            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        initdb = [str(_postgres_bin("initdb")), "-D", str(data), "-U", DB_USER, "--auth=trust"]
        made = run_command(
            [*initdb, "--no-sync", "--no-locale", "-E", "UTF8"],
            env=env,
            cwd=self.root,
            user=self.user,
            timeout=120,
        )
        if made.returncode != 0:
            pytest.fail(f"initdb failed:\n{tail(made.stdout + made.stderr)}")
        run_command(["mkdir", str(sockets)], env=env, user=self.user)
        postgres = Component(
            "postgres",
            [
                *("-D", str(data), "-p", str(self.pg_port), "-k", str(sockets)),
                *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"),
                # a throwaway cluster: nothing needs to survive a crash
                *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
            ],
            env,
            self.log_dir,
            program=[str(_postgres_bin("postgres"))],
            user=self.user,
        )
        redis = Component(
            "redis",
            [
                *("--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(self.root)),
                *("--save", "", "--appendonly", "no", "--daemonize", "no"),
            ],
            env,
            self.log_dir,
            program=[str(shutil.which("redis-server"))],
        )
        self.components = {"postgres": postgres, "redis": redis}
        for component in self.components.values():
            component.start()
        server = ["-h", "127.0.0.1", "-p", str(self.pg_port), "-U", DB_USER]  # as the clients reach it
        isready = [str(_postgres_bin("pg_isready")), "-q", *server]
        _wait_for(
            lambda: run_command(isready, env=env, timeout=30).returncode == 0,
            "PostgreSQL did not accept connections",
            postgres,
        )
        created = run_command(
            [str(_postgres_bin("createdb")), *server, DATABASE],
            env=env,
            timeout=60,
        )
        if created.returncode != 0:
            pytest.fail(f"createdb failed:\n{tail(created.stdout + created.stderr)}")
        _wait_for(lambda: _redis_answers(self.redis_port), "Redis did not answer PING", redis)
        self.startup_seconds = time.monotonic() - started

    def store_connections(self, deployment: Deployment) -> None:
        """``signal_stored``: the emulator, in the metadata database only (``airflow connections add``)."""
        conn = deployment.emulator.connection_json(destinations=STORED_DESTINATION)
        added = deployment.airflow("connections", "add", "signal_stored", "--conn-json", conn)
        if added.returncode != 0:
            pytest.fail(
                f"`airflow connections add signal_stored` failed:\n{tail(added.stdout + added.stderr)}"
            )

    def wait_for_worker(self, deployment: Deployment, timeout: float = WORKER_TIMEOUT) -> None:
        """Wait until the Celery worker, since its last start, has said it is ready (it consumes
        from Redis from then on)."""
        worker = deployment.components["worker"]
        _wait_for(
            lambda: " ready." in worker.log_path.read_text(errors="replace").rsplit("===== start #", 1)[-1],
            "the Celery worker was not ready",
            worker,
            timeout,
        )

    def stop(self) -> None:
        """Stop Redis and PostgreSQL (after Airflow's components), then remove their files."""
        for component in self.components.values():
            component.terminate()
        for component in self.components.values():
            component.stop()
        shutil.rmtree(self.root, ignore_errors=True)
