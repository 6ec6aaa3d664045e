"""Running real Airflow from tests: the CLI runner, free ports and a real deployment.

One place for what several test modules need:

- :func:`run_airflow` runs ``airflow ARGS`` in a subprocess with a time-out;
- :func:`free_port` finds a free TCP port on 127.0.0.1;
- :class:`Deployment` is a real Airflow on a throwaway SQLite ``AIRFLOW_HOME`` with the
  project's emulator, its components started as processes (Airflow 3: API server,
  scheduler with the LocalExecutor, DAG processor, triggerer; Airflow 2.11: webserver,
  scheduler with the SequentialExecutor, which is all 2.11 allows on SQLite, triggerer).

The fixtures (registered in ``tests/conftest.py``)::

    def test_x(airflow_deployment):              # the shared deployment, started once per session
        run_id = airflow_deployment.trigger("my_dag", conf={"n": 1})
        assert airflow_deployment.wait_for_run("my_dag", run_id, timeout=240) == "success"
        assert airflow_deployment.task_states("my_dag", run_id) == {"t": "success"}
        texts = [m.text for m in airflow_deployment.emulator.messages]

    def test_y(airflow_deployments):            # a deployment with its own settings (costly: avoid)
        other = airflow_deployments.get("other", config={"signal_alerts": {"enabled": "False"}})

Starting a deployment is the largest cost of the suite (40-90 s, and every running one takes CPU
from the tests that follow), so there are two, each started once per session and shared: the
single-node one (``airflow_deployment``) and the distributed one (``distributed_deployment``), both
with ``[signal_alerts]`` on (:data:`ALERTS_CONFIG`). conftest runs the tests that use a deployment
last and stops each deployment after the last test that needs it. Both load
:func:`shared_dag_files`: a test module that only needs DAGs adds its file to
``tests/dag_files/deployment/``. Connections every deployment defines
(environment variables, so every component reads them):

- ``signal_default``: the emulator (:attr:`Deployment.emulator`), default recipient
  ``447700900999``;
- ``signal_down``: a closed port on 127.0.0.1 (connection refused), ``timeout`` 2, ``retries`` 1;
- ``signal_hang``: a second emulator that accepts every request and never answers
  (:attr:`Deployment.hanging_api`), ``timeout`` 2, ``retries`` 1.

Every deployment has real users, one per role (:data:`USERS`), each with a random password
(:attr:`Deployment.users`): ``admin``, ``editor`` and ``viewer``. Airflow 3 runs the simple auth
manager with those users (no "everyone is admin"); Airflow 2.11 has them as FAB database users,
its REST API takes HTTP basic auth and anonymous visitors are nobody. :meth:`Deployment.api`
calls as ``admin``; :meth:`Deployment.get_json` GETs any path as any of them;
:meth:`Deployment.token_of` (Airflow 3) and :meth:`Deployment.basic_auth_of` (2.11) give what a
client of its own sends.

Every wait has a time-out; every process is stopped by its process group when the
session ends; a failing test gets the tail of each component's log in its report
(the ``pytest_runtest_makereport`` hook in conftest calls :func:`log_report`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_signal.testing import SignalAPIEmulator
from statsd_support import StatsdListener

AIRFLOW = [sys.executable, "-m", "airflow"]
AIRFLOW_VERSION = tuple(int(part) for part in version("apache-airflow").split(".")[:2])
AIRFLOW_3 = AIRFLOW_VERSION >= (3, 0)
DAG_FILES = Path(__file__).resolve().parent / "dag_files"
SHARED_DAG_FOLDER = DAG_FILES / "deployment"
EXAMPLE_DAGS = Path(__file__).resolve().parent.parent / "example_dags"
#: example DAGs the shared deployment also loads
SHARED_EXAMPLES = ("example_signal_approval.py",)
DEFAULT_DESTINATION = "447700900999"
FINISHED = frozenset({"success", "failed"})
#: the team route of the shared deployments' alerts (tests/test_alerts_deployment.py, imports too)
TEAM_DATA = "447700900555"
#: the routes of scenarios whose texts are checked whole (each its own group) and of the storm DAGs
ROUTE_STORM, ROUTE_RECOVERY, STORM_A, STORM_B = "447700900601", "447700900602", "447700900604", "447700900605"
#: the outage and crash scenarios (tests/test_alerts_reliability.py): a route of their own, so a
#: notice another test left waiting never shares their message
ROUTE_RELIABILITY = "447700900606"
#: where the shared deployments' health messages go (tests/test_health_deployment.py)
ROUTE_HEALTH = "447700900607"
#: the health checks of the shared deployments: short, so that a kill is reported within a minute
HEALTH_THRESHOLD, HEALTH_INTERVAL = 15, 3
#: long enough that a task waiting for a busy worker in another test is not "stuck"
STUCK_AFTER = 60
#: the grouping of the shared deployments: short, so that tests need not wait a minute
GROUP_WAIT, GROUP_INTERVAL = 3, 10
#: ``[signal_alerts]`` of both shared deployments (the single-node one and the distributed one):
#: alerts on failure, recovery and import errors, a 5 s sweep so a crash test need not wait 30 s
ALERTS_CONFIG: dict[str, dict[str, Any]] = {
    "signal_alerts": {
        "enabled": "True",
        "notify_on": "failure,recovery,import_error,health",
        "health_destinations": f"+{ROUTE_HEALTH}",
        "health_threshold": HEALTH_THRESHOLD,
        "health_interval": HEALTH_INTERVAL,
        "stuck_after": STUCK_AFTER,
        "mute_dag_ids": "alerts_scratch_*",
        "routes": json.dumps(
            {
                "team-data": [f"+{TEAM_DATA}"],
                "alerts-storm": [f"+{ROUTE_STORM}"],
                "alerts-recovery": [f"+{ROUTE_RECOVERY}"],
                "alerts-reliability": [f"+{ROUTE_RELIABILITY}"],
                "storm-a": [f"+{STORM_A}"],
                "storm-b": [f"+{STORM_B}"],
            }
        ),
        "cooldown": 900,
        "send_timeout": 3,
        "send_retries": 0,
        "shutdown_timeout": 5,
        "sweep_interval": 5,
        "import_error_interval": 2,
        "import_error_window": 15,
        "group_wait": GROUP_WAIT,
        "group_interval": GROUP_INTERVAL,
    }
}
TOPOLOGIES = ("single", "distributed")
#: ``[metrics] statsd_prefix`` of every deployment
METRICS_PREFIX = "airflow"
#: every deployment's users: name -> role of Airflow 3's simple auth manager (``viewer``, ``user``,
#: ``op``, ``admin``); on 2.11 the FAB role of the same rank (:data:`FAB_ROLES`)
USERS = {"admin": "admin", "editor": "user", "viewer": "viewer"}
#: the simple auth manager's roles as 2.11's FAB roles
FAB_ROLES = {"admin": "Admin", "op": "Op", "user": "User", "viewer": "Viewer"}
#: the user the harness's own REST calls (:meth:`Deployment.api`) are made as
API_USER = "admin"
#: werkzeug's hash of the 2.11 users' passwords. Its default (scrypt) costs 0.3-0.5 s of CPU on a
#: 2-core machine, and basic auth checks the hash on every REST call: a test triggering 70 runs
#: then spends minutes on hashing. A throwaway deployment's random passwords need no more.
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1000"

MIGRATE_TIMEOUT = 300.0
START_TIMEOUT = 240.0
DAG_PARSE_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0
SQLITE_BUSY_ATTEMPTS = 5
"""Tries of a REST call that SQLite refused as busy (tests run several writers on one file)."""
POLL_SECONDS = 1.0
REQUEST_TIMEOUT = 60.0


# -- the CLI and the network ------------------------------------------------------------


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_command(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``env`` (default: this process's), its output captured, as ``user``
    (default: this process's; another needs root); fail the test with the output so far when it
    outlives ``timeout`` seconds."""
    try:
        return subprocess.run(
            list(command),
            env=dict(os.environ if env is None else env),
            cwd=cwd,
            user=user,
            group=None if user is None else _group_of(user),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        pytest.fail(f"`{' '.join(command)}` did not finish within {timeout:g} s.\n{tail(output)}")


def _group_of(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def run_airflow(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 300.0
) -> subprocess.CompletedProcess[str]:
    """Run ``airflow ARGS`` with ``env`` (default: this process's); fail the test after ``timeout`` s."""
    return run_command([*AIRFLOW, *args], env=env, timeout=timeout)


def json_output(stdout: str) -> Any:
    """What an ``airflow ... --output json`` command printed, past the log lines some lines print
    first on stdout (``[info ] setup plugin ...`` on 3.2, provider notices on 3.0)."""
    for line in stdout.splitlines():
        if line.startswith(("[", "{")):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise AssertionError(f"no JSON in the command's output:\n{tail(stdout)}")


def config_env(config: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{"section": {"key": value}}`` as the ``AIRFLOW__SECTION__KEY`` variables Airflow reads."""
    return {
        f"AIRFLOW__{section.upper()}__{key.upper()}": str(value)
        for section, options in config.items()
        for key, value in options.items()
    }


def isolated_env(home: Path) -> dict[str, str]:
    """This process's environment without any ``AIRFLOW*`` variable, with ``AIRFLOW_HOME`` set."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    # Executors start `airflow tasks run ...` by name: this virtualenv's `airflow` comes first.
    path = os.pathsep.join([str(Path(sys.executable).parent), inherited.get("PATH", os.defpath)])
    return {**inherited, "AIRFLOW_HOME": str(home), "PATH": path, "PYTHONUNBUFFERED": "1"}


# -- one component: a process with its own log -----------------------------------------


class Component:
    """One process (``airflow scheduler`` ...) in its own process group, logging to a file.

    ``program`` is what runs with ``args`` (default: this virtualenv's ``airflow``); ``user`` whom
    it runs as (default: this process's user; another needs root).
    """

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        log_dir: Path,
        *,
        program: Sequence[str] = tuple(AIRFLOW),
        user: str | None = None,
    ) -> None:
        self.name = name
        self.args = list(args)
        self.program = list(program)
        self.user = user
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        command = [*self.program, *self.args]
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts}: {' '.join(command)} =====\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                env=self.env,
                user=self.user,
                group=None if self.user is None else _group_of(self.user),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children too
            )

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def exited(self) -> int | None:
        """The exit code if the process has ended, else ``None``."""
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        """Send SIGTERM to the process group (see :meth:`stop`)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``timeout`` seconds."""
        self.terminate()
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # children left behind by a hard exit
            os.killpg(process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return tail(self.log_path.read_text(errors="replace"), lines)
        except OSError:
            return f"(no {self.name} log)"


# -- a deployment -------------------------------------------------------------------------


class Deployment:
    """A real Airflow deployment for tests. See the module docstring for what it holds.

    :param home: an empty directory for ``AIRFLOW_HOME`` (DAGs, logs, SQLite database).
    :param dag_files: DAG files copied into the deployment's DAGs folder.
    :param config: extra ``airflow.cfg`` settings, ``{"section": {"key": value}}``; they
        override the harness's own.
    :param env: extra environment variables for every component and CLI call.
    :param topology: ``single`` (SQLite, one scheduler, the Local or Sequential executor) or
        ``distributed`` (PostgreSQL, the CeleryExecutor with Redis, two schedulers and a Celery
        worker: tests/distributed_support.py).
    """

    def __init__(
        self,
        home: Path,
        dag_files: Iterable[Path] = (),
        config: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        topology: str = "single",
    ) -> None:
        if topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {topology!r}; one of {TOPOLOGIES}")
        self.home = home
        self.topology = topology
        self.dags_folder = home / "dags"
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        for path in dag_files:
            shutil.copy(path, self.dags_folder / Path(path).name)
        self.line = 3 if AIRFLOW_3 else 2
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        #: the Signal API every component's ``signal_default`` connection points at
        self.emulator = SignalAPIEmulator(system_id="deployment", password="deployment-password-1")
        #: a Signal API that reads each request and never answers (connection ``signal_hang``)
        self.hanging_api = SignalAPIEmulator(system_id="hang", password="hang-password-1")
        #: the StatsD server ``[metrics]`` points at (Airflow's own metrics and ``signal_alerts.*``)
        self.statsd = StatsdListener()
        self.env: dict[str, str] = {}
        self.components: dict[str, Component] = {}
        self.startup_seconds = 0.0
        self._extra_config = config or {}
        self._extra_env = dict(env or {})
        #: user name -> password of each of :data:`USERS` (random, known before the start)
        self.users: dict[str, str] = {name: secrets.token_urlsafe(12) for name in USERS}
        self._tokens: dict[str, str] = {}  # user name -> JWT (Airflow 3)
        self._down: set[str] = set()  # components a test killed and has not started again
        self.services: Any = None  # distributed_support.BackingServices for ``distributed``

    # -- set-up -------------------------------------------------------------------------

    def _settings(self) -> dict[str, dict[str, Any]]:
        """What the harness sets in ``airflow.cfg`` (as environment variables) on each line."""
        common: dict[str, dict[str, Any]] = {
            "core": {
                "dags_folder": self.dags_folder,
                "load_examples": "False",
                "dags_are_paused_at_creation": "False",
                "parallelism": 8,
                "default_task_retry_delay": 1,
                "killed_task_cleanup_time": 5,
            },
            "database": {"sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}"},
            "logging": {
                "base_log_folder": self.home / "logs",
                "worker_log_server_port": free_port(),  # not Airflow's 8793
                "trigger_log_server_port": free_port(),  # not Airflow's 8794
            },
            "scheduler": {
                "scheduler_heartbeat_sec": 1,
                "job_heartbeat_sec": 1,
                "scheduler_idle_sleep_time": 0.5,
            },
            "triggerer": {"job_heartbeat_sec": 1},
            "metrics": {
                "statsd_on": "True",
                "statsd_host": "127.0.0.1",
                "statsd_port": self.statsd.port,
                "statsd_prefix": METRICS_PREFIX,
            },
        }
        if self.services is not None:
            common["database"]["sql_alchemy_conn"] = self.services.sql_alchemy_conn
        if self.line == 3:
            common["core"].update(
                {
                    "executor": "LocalExecutor",
                    "execution_api_server_url": f"{self.url}/execution/",
                    "auth_manager": (
                        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                    ),
                    "simple_auth_manager_all_admins": "False",
                    "simple_auth_manager_users": ",".join(f"{name}:{role}" for name, role in USERS.items()),
                    # written by start() with self.users, so the manager generates none
                    "simple_auth_manager_passwords_file": self._passwords_file,
                }
            )
            common["api"] = {
                "base_url": self.url,
                "host": "127.0.0.1",
                "port": self.port,
                "workers": 1,
                "secret_key": secrets.token_hex(16),
            }
            common["api_auth"] = {"jwt_secret": secrets.token_hex(32)}
            common["dag_processor"] = {
                "refresh_interval": 5,
                "min_file_process_interval": 5,
                "parsing_processes": 1,
                "bundle_refresh_check_interval": 1,
            }
            common["scheduler"].update(
                {
                    "task_instance_heartbeat_timeout": 30,
                    "task_instance_heartbeat_timeout_detection_interval": 5,
                }
            )
            # A task's supervisor waits 5 s for the Execution API by default (3.1.1+): too short for
            # one API server process answering every task, the schedulers and the tests on a loaded
            # 2-core machine; the task then fails with ReadTimeout before its code runs.
            common["workers"] = {"min_heartbeat_interval": 1, "execution_api_timeout": 30}
        else:
            common["core"]["executor"] = "SequentialExecutor"  # 2.11 refuses any other on SQLite
            common["webserver"] = {
                "base_url": self.url,
                "web_server_host": "127.0.0.1",
                "web_server_port": self.port,
                "workers": 1,
                "secret_key": secrets.token_hex(16),
                "worker_refresh_batch_size": 0,
                # a loaded 2-core machine starts 2.11's gunicorn slowly: more than its 120 s default
                "web_server_master_timeout": 600,
                "reload_on_plugin_change": "False",
            }
            # basic auth for clients (the harness, tests), the session for a browser logged in
            common["api"] = {
                "auth_backends": (
                    "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth,"
                    "airflow.providers.fab.auth_manager.api.auth.backend.session"
                )
            }
            common["scheduler"].update(
                {
                    "min_file_process_interval": 5,
                    "dag_dir_list_interval": 5,
                    "parsing_processes": 1,
                    "scheduler_zombie_task_threshold": 30,
                    "zombie_detection_interval": 5,
                }
            )
        if self.services is not None:
            for section, options in self.services.airflow_settings(self.line).items():
                common.setdefault(section, {}).update(options)
        for section, options in self._extra_config.items():
            common.setdefault(section, {}).update(options)
        return common

    def _connections(self) -> dict[str, str]:
        def down() -> str:
            closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
            conn = {"conn_type": "signal", "login": "x", "password": "down-password-1", "host": closed}
            return json.dumps({**conn, "extra": {"retries": 1, "timeout": 2}})

        return {
            "AIRFLOW_CONN_SIGNAL_DEFAULT": self.emulator.connection_json(destinations=DEFAULT_DESTINATION),
            "AIRFLOW_CONN_SIGNAL_DOWN": down(),
            "AIRFLOW_CONN_SIGNAL_HANG": self.hanging_api.connection_json(timeout=2, retries=1),
        }

    def _component_args(self) -> dict[str, list[str]]:
        if self.line == 3:
            args = {
                "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port)],
                "scheduler": ["scheduler"],
                "dag-processor": ["dag-processor"],
                "triggerer": ["triggerer"],
            }
        else:
            args = {
                "webserver": [
                    *("webserver", "--hostname", "127.0.0.1", "--port", str(self.port), "--workers", "1")
                ],
                "scheduler": ["scheduler"],
                "triggerer": ["triggerer"],
            }
        if self.services is not None:
            args["scheduler-2"] = ["scheduler"]
            args["worker"] = self.services.worker_args()
        return args

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> Deployment:
        """Migrate the database, start the emulators and every component; wait until all are healthy."""
        started = time.monotonic()
        log_dir = self.home / "component-logs"
        log_dir.mkdir(exist_ok=True)
        _running.append(self)
        if self.topology == "distributed":
            from distributed_support import BackingServices

            self.services = BackingServices(log_dir)
            self.services.start()
        self.emulator.start()
        self.hanging_api.start()
        self.statsd.start()
        self.hanging_api.fail_next(1000, action="hang", hang_seconds=120)  # the emulator allows 1..1000
        self.env = {
            **isolated_env(self.home),
            **config_env(self._settings()),
            **self._connections(),
            **self._extra_env,
        }
        if self.line == 3:  # the simple auth manager's users' passwords: ours, not generated
            self._passwords_file.write_text(json.dumps(self.users) + "\n")
        else:  # FAB's database users; anonymous visitors have no role (2.11's default is none too)
            (self.home / "webserver_config.py").write_text(WEBSERVER_CONFIG)
        migrated = self.airflow("db", "migrate", timeout=MIGRATE_TIMEOUT)
        if migrated.returncode != 0:
            pytest.fail(f"`airflow db migrate` failed:\n{tail(migrated.stdout + migrated.stderr)}")
        if self.services is not None:
            self.services.store_connections(self)
        if self.line == 2:
            self._create_fab_users()
        for name, args in self._component_args().items():
            self.components[name] = Component(name, args, self.env, log_dir)
            self.components[name].start()
        self.wait_until_healthy()
        if self.services is not None:
            self.services.wait_for_worker(self)
        self.startup_seconds = time.monotonic() - started
        return self

    @property
    def _passwords_file(self) -> Path:
        """Airflow 3's ``[core] simple_auth_manager_passwords_file``: ``{user: password}`` JSON."""
        return self.home / "simple_auth_manager_passwords.json"

    def _create_fab_users(self) -> None:
        """2.11: the FAB roles and :data:`USERS`, in one Python process (``airflow users create``
        costs ~10 s a user), their passwords hashed with :data:`CHEAP_PASSWORD_HASH`."""
        users = {name: [FAB_ROLES[role], self.users[name]] for name, role in USERS.items()}
        created = run_command(
            [sys.executable, "-c", _CREATE_FAB_USERS, json.dumps(users), CHEAP_PASSWORD_HASH],
            env=self.env,
            timeout=MIGRATE_TIMEOUT,
        )
        if created.returncode != 0 or "users created" not in created.stdout:
            pytest.fail(f"creating the FAB users failed:\n{tail(created.stdout + created.stderr)}")

    def stop(self) -> None:
        """Stop every component by its process group (all at once), then the emulators."""
        for component in self.components.values():
            component.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for component in self.components.values():
            component.stop(timeout=deadline - time.monotonic())
        self.emulator.stop()
        self.hanging_api.stop()
        self.statsd.stop()
        if self.services is not None:
            self.services.stop()
        with contextlib.suppress(ValueError):
            _running.remove(self)

    def restart(self, component: str, wait: bool = True) -> None:
        """Stop one component (``scheduler``, ``triggerer`` ...) and start it again."""
        self.components[component].stop()
        self.components[component].start()
        if wait:
            self.wait_until_healthy()

    def wait_until_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until the API answers and reports every component healthy; fail with the logs if not."""
        expected = {"metadatabase", "scheduler", "triggerer"}
        if self.line == 3:
            expected.add("dag_processor")
        path = "/api/v2/monitor/health" if self.line == 3 else "/health"
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.check_components()
            with contextlib.suppress(OSError, ValueError):
                last = self._request("GET", path, auth=False)
                states = {name: (last.get(name) or {}).get("status") for name in expected}
                if all(state == "healthy" for state in states.values()):
                    return
            time.sleep(POLL_SECONDS)
        pytest.fail(f"Airflow not healthy within {timeout:g} s (last health: {last}).\n{self.logs()}")

    def kill(self, *names: str) -> None:
        """SIGKILL components (an OOM kill, a lost node), each by its process group; they stay down,
        and :meth:`check_components` lets them be, until :meth:`start_again`."""
        for name in names:
            process = self.components[name].process
            assert process is not None, f"{name} is not running"
            # children that left the group die too (2.11's DAG file processor manager would live on)
            for pid in _descendants(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
            self._down.add(name)
        for name in names:
            process = self.components[name].process
            assert process is not None
            process.wait(timeout=30)

    def start_again(self, name: str) -> None:
        """Start a component that :meth:`kill` stopped (nothing if it is not down)."""
        if name in self._down:
            self.components[name].start()
            self._down.discard(name)

    def check_components(self) -> None:
        """Fail the test, with the log, if any component has exited (not one killed on purpose)."""
        for component in self.components.values():
            if component.name in self._down:
                continue
            code = component.exited()
            if code is not None:
                pytest.fail(f"airflow {component.name} exited with {code}:\n{component.log_tail(120)}")

    # -- the CLI and the REST API -------------------------------------------------------------

    def airflow(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS`` against this deployment."""
        return run_airflow(*args, env=self.env, timeout=timeout)

    def _request(
        self, method: str, path: str, body: Any = None, auth: bool = True, user: str = API_USER
    ) -> Any:
        """``method path`` with ``body`` as JSON, as ``user`` (anonymous unless ``auth``); the JSON
        answer (``None`` if empty). An HTTP error raises :class:`urllib.error.HTTPError`."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = self.auth_header(user)
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        # A GET asked again cannot do anything twice: one more try when a loaded machine's API
        # server has not answered in time.
        for attempt in range(2 if method == "GET" else 1):
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:  # noqa: S310
                    raw = answer.read()
                break
            except TimeoutError:
                if attempt or method != "GET":
                    raise
        return json.loads(raw) if raw else None

    def _bearer_token(self) -> str:
        return self.token_of(API_USER)

    def _known(self, user: str) -> str:
        """``user``'s password; a name not in :data:`USERS` is an error."""
        if user not in self.users:
            raise ValueError(f"no user {user!r} in the deployment; one of {sorted(self.users)}")
        return self.users[user]

    def token_of(self, user: str) -> str:
        """Airflow 3: a JWT of ``user`` (one of :data:`USERS`) from the simple auth manager's
        ``POST /auth/token``, asked once per user (it is valid for a day)."""
        if self.line != 3:
            raise ValueError("Airflow 2.11 has no JWTs: basic_auth_of(user) is its REST API's login")
        if user not in self._tokens:
            password = self._known(user)
            body = json.dumps({"username": user, "password": password}).encode()
            request = urllib.request.Request(  # noqa: S310 - the deployment's own API server
                f"{self.url}/auth/token",
                data=body,
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as answer:  # noqa: S310
                self._tokens[user] = str(json.loads(answer.read())["access_token"])  # HTTP 201
        return self._tokens[user]

    def basic_auth_of(self, user: str) -> str:
        """Airflow 2.11: the ``Authorization`` header value (``Basic ...``) of ``user`` (one of
        :data:`USERS`), which its REST API (``/api/v1``) takes."""
        if self.line != 2:
            raise ValueError("Airflow 3's API takes no basic auth: token_of(user) is its login")
        credentials = f"{user}:{self._known(user)}".encode()
        return "Basic " + base64.b64encode(credentials).decode("ascii")

    def auth_header(self, user: str = API_USER) -> str:
        """The ``Authorization`` header value of ``user``: ``Bearer <JWT>`` on Airflow 3,
        ``Basic ...`` on 2.11."""
        return f"Bearer {self.token_of(user)}" if self.line == 3 else self.basic_auth_of(user)

    def get_json(self, path: str, user: str = API_USER) -> Any:
        """``GET path`` (any path of the deployment: ``/api/v2/dags``, ``/ui/...``) as ``user``;
        the JSON answer. An HTTP error (a 403 for a role that may not) raises
        :class:`urllib.error.HTTPError`, for the caller to check. 2.11 takes basic auth on its
        REST API (``/api/v1``) only: its UI pages need a browser's login."""
        return self._request("GET", path, user=user)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the stable REST API (``/api/v2`` on Airflow 3, ``/api/v1`` on 2.11); the JSON answer.

        An HTTP error fails the test with the status and the answer's text.
        """
        prefix = "/api/v2" if self.line == 3 else "/api/v1"
        for attempt in range(SQLITE_BUSY_ATTEMPTS):
            try:
                return self._request(method, prefix + path, body)
            except urllib.error.HTTPError as error:
                detail = error.read().decode(errors="replace")[:2000]
                # SQLite answers "database is locked" while another process writes; such a request
                # was rolled back, so asking again cannot do it twice.
                busy = error.code == 500 and "database" in detail.lower()
                if not busy or attempt == SQLITE_BUSY_ATTEMPTS - 1:
                    pytest.fail(f"{method} {prefix}{path} answered HTTP {error.code}: {detail}")
            time.sleep(1.0)
        raise AssertionError("unreachable")

    def wait_for_dags(self, *dag_ids: str, timeout: float = DAG_PARSE_TIMEOUT) -> None:
        """Wait until the DAG processor has parsed and stored each DAG."""
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        prefix = "/api/v2" if self.line == 3 else "/api/v1"
        while missing and time.monotonic() < deadline:
            for dag_id in list(missing):
                with contextlib.suppress(urllib.error.HTTPError):
                    self._request("GET", f"{prefix}/dags/{urllib.parse.quote(dag_id)}")
                    missing.remove(dag_id)
            if missing:
                time.sleep(POLL_SECONDS)
        if missing:
            errors = self.api("GET", "/importErrors")
            pytest.fail(f"DAGs {missing} not parsed in {timeout:g} s; import errors: {errors}\n{self.logs()}")

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Start a run of ``dag_id`` through the REST API (waiting for the DAG to be parsed); its run id."""
        self.wait_for_dags(dag_id)
        body: dict[str, Any] = {"conf": dict(conf or {})}
        if self.line == 3:
            body["logical_date"] = None
        run = self.api("POST", f"/dags/{urllib.parse.quote(dag_id)}/dagRuns", body)
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        run = self.api("GET", f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}")
        return str(run["state"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300.0) -> str:
        """Wait until the run has finished; its state (``success`` / ``failed``). Fails on time-out."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in FINISHED:
                return state
            self.check_components()
            time.sleep(POLL_SECONDS)
        pytest.fail(
            f"run {run_id} of {dag_id} still {state!r} after {timeout:g} s; "
            f"tasks: {self.task_states(dag_id, run_id)}\n{self.logs()}"
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances as the REST API gives them (``task_id``, ``state``, ``try_number``...)."""
        path = f"/dags/{urllib.parse.quote(dag_id)}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances"
        return list(self.api("GET", path)["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}`` for the run (a mapped task's key is ``task_id[map_index]``)."""
        states: dict[str, str | None] = {}
        for ti in self.task_instances(dag_id, run_id):
            mapped = ti.get("map_index", -1) not in (-1, None)
            key = f"{ti['task_id']}[{ti['map_index']}]" if mapped else ti["task_id"]
            states[key] = ti["state"]
        return states

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float = 240.0
    ) -> str:
        """Wait until ``task_id`` of the run is in one of ``states``; that state."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        state: str | None = None
        while time.monotonic() < deadline:
            state = self.task_states(dag_id, run_id).get(task_id)
            if state in wanted:
                return str(state)
            self.check_components()
            time.sleep(POLL_SECONDS)
        pytest.fail(f"{dag_id}.{task_id} in {run_id} still {state!r} after {timeout:g} s\n{self.logs()}")

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every attempt's log file of a task instance, read from the logs folder, joined."""
        root = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(path.read_text(errors="replace") for path in sorted(root.rglob("*.log")))

    def where_logged(self, text: str) -> list[str]:
        """Which logs hold ``text``: paths under ``AIRFLOW_HOME/logs`` (``dag_id=.../...`` for a
        task, ``dag_processor/...`` or ``scheduler/...`` for DAG file processing) and
        ``component:<name>`` for a component's own output. Tells which process wrote a line."""
        found = [f"component:{name}" for name, c in self.components.items() if text in _read(c.log_path)]
        logs = self.home / "logs"
        found += [str(p.relative_to(logs)) for p in sorted(logs.rglob("*.log")) if text in _read(p)]
        return found

    def logs(self, lines: int = 60) -> str:
        """The tail of each component's log (and of PostgreSQL's and Redis's), for a failure report."""
        every = {**self.components, **(self.services.components if self.services is not None else {})}
        parts = [f"----- {name} (pid {c.pid}) -----\n{c.log_tail(lines)}" for name, c in every.items()]
        return "\n".join(parts)

    def schedulers(self) -> list[Component]:
        """The scheduler components (``scheduler``, and ``scheduler-2`` in the distributed topology)."""
        return [c for name, c in self.components.items() if name.split("-")[0] == "scheduler"]


#: 2.11's webserver_config.py: FAB's database users (the harness creates them after the
#: migration), and no role for an anonymous visitor (the UI sends it to the login page, the REST
#: API answers 401)
WEBSERVER_CONFIG = """\
from flask_appbuilder.const import AUTH_DB

AUTH_TYPE = AUTH_DB
AUTH_ROLE_PUBLIC = None
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
"""

#: run by :meth:`Deployment._create_fab_users` with the deployment's environment:
#: ``argv[1]`` is ``{user: [FAB role, password]}`` as JSON, ``argv[2]`` werkzeug's hash method
_CREATE_FAB_USERS = """\
import json, sys
from werkzeug.security import generate_password_hash
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

users, method = json.loads(sys.argv[1]), sys.argv[2]
with get_application_builder() as appbuilder:
    sm = appbuilder.sm
    sm.sync_roles()
    for name, (role_name, password) in users.items():
        role = sm.find_role(role_name)
        if role is None:
            sys.exit(f"no FAB role {role_name!r}")
        hashed = generate_password_hash(password, method=method)
        user = sm.find_user(username=name)
        if user is None:
            user = sm.add_user(name, name, "test", f"{name}@example.com", role, hashed_password=hashed)
            if not user:
                sys.exit(f"could not create the user {name!r}")
        else:
            user.roles, user.password = [role], hashed
            sm.get_session.commit()
print(f"{len(users)} users created")
"""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


# -- several deployments in one session -----------------------------------------------------


def shared_dag_files() -> list[Path]:
    """The shared deployments' DAG files: ``tests/dag_files/deployment/``, the shared examples, the
    alerts scenarios (``alerts_dags.py``, ``storm_dags.py``, ``health_dags.py``) and the import-error
    scenarios (``imports/``)."""
    return [
        *sorted(SHARED_DAG_FOLDER.glob("*.py")),
        *(EXAMPLE_DAGS / name for name in SHARED_EXAMPLES),
        DAG_FILES / "alerts_dags.py",
        DAG_FILES / "storm_dags.py",
        DAG_FILES / "health_dags.py",
        *sorted((DAG_FILES / "imports").glob("*.py")),
    ]


_running: list[Deployment] = []
#: one line per deployment started in this session, for the end-of-session summary (conftest)
STARTUP_TIMES: list[str] = []


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first found first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def wait_until(check: Callable[[], bool], what: str, deployment: Deployment, timeout: float = 120.0) -> None:
    """Poll ``check`` every second until it holds; fail with ``what`` and the components' logs
    after ``timeout`` seconds, or at once when a component has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        deployment.check_components()
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:g} s\n{deployment.logs()}")


def log_report(lines: int = 80) -> str:
    """The tails of every running deployment's component logs (attached to a failing test's report)."""
    return "\n".join(f"===== deployment {d.home.name} =====\n{d.logs(lines)}" for d in _running)


class Deployments:
    """Starts deployments on demand, one per name, and stops them all at the end of the session."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._started: dict[str, tuple[Deployment, tuple[Any, ...]]] = {}
        self._starts = 0

    def get(
        self,
        name: str = "default",
        dag_files: Iterable[Path] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        topology: str = "single",
    ) -> Deployment:
        """The deployment called ``name``, started on first use, in ``topology`` (see :class:`Deployment`).

        ``dag_files`` defaults to :func:`shared_dag_files`. Asking again for a name with other
        arguments is an error (a deployment starts once); after :meth:`stop` a name starts afresh.
        """
        files = shared_dag_files() if dag_files is None else [Path(p) for p in dag_files]
        settings = json.dumps(config or {}, sort_keys=True, default=str)
        key = (tuple(files), settings, tuple(sorted((env or {}).items())), topology)
        if name in self._started:
            deployment, started_with = self._started[name]
            if started_with != key:
                raise ValueError(f"deployment {name!r} was already started with other DAG files or settings")
            return deployment
        self._starts += 1
        deployment = Deployment(self.base / f"{name}-{self._starts}", files, config, env, topology)
        self._started[name] = (deployment, key)
        try:
            deployment.start()
        except BaseException:
            deployment.stop()
            raise
        services = deployment.services
        STARTUP_TIMES.append(
            f"deployment {name!r} ({topology}, Airflow {version('apache-airflow')}): started in "
            f"{deployment.startup_seconds:.0f} s"
            + (f" (PostgreSQL and Redis {services.startup_seconds:.0f} s of it)" if services else "")
        )
        return deployment

    def stop(self, topology: str) -> None:
        """Stop the running deployments of ``topology``, so they take no CPU from later tests."""
        for name, (deployment, _) in list(self._started.items()):
            if deployment.topology == topology:
                deployment.stop()
                del self._started[name]

    def stop_all(self) -> None:
        for deployment, _ in self._started.values():
            deployment.stop()
        self._started.clear()


#: the session's :class:`Deployments` while :func:`deployments` is open (conftest stops by topology)
running_deployments: Deployments | None = None


@contextlib.contextmanager
def deployments(base: Path) -> Iterator[Deployments]:
    """A :class:`Deployments` whose deployments are all stopped on exit."""
    global running_deployments
    made = running_deployments = Deployments(base)
    try:
        yield made
    finally:
        running_deployments = None
        made.stop_all()
