"""Shared test set-up: a throwaway AIRFLOW_HOME before Airflow is imported.

The ``signal_api`` fixture (a live emulator with AIRFLOW_CONN_SIGNAL_DEFAULT pointing
at it) comes from this project's own pytest plugin, registered through ``pytest11``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

_HOME = tempfile.mkdtemp(prefix="airflow-signal-tests-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_HOME, "dags")
os.environ.pop("AIRFLOW_CONN_SIGNAL_DEFAULT", None)


@pytest.fixture
def make_hook(signal_api: Any) -> Callable[..., Any]:
    """Build a SignalHook for the emulator's connection, closed after the test.

    ``backoff_factor`` defaults to 0 so retry tests do not sleep.
    """
    from airflow_provider_signal.hooks.signal import SignalHook

    hooks: list[SignalHook] = []

    def build(conn_id: str = "signal_default", **kwargs: Any) -> SignalHook:
        kwargs.setdefault("backoff_factor", 0)
        hook = SignalHook(conn_id, **kwargs)
        hooks.append(hook)
        return hook

    yield build
    for hook in hooks:
        hook.close()


@pytest.fixture
def set_connection(monkeypatch: pytest.MonkeyPatch, signal_api: Any) -> Callable[..., None]:
    """Define ``AIRFLOW_CONN_<ID>`` for a Signal connection to the emulator, with these fields."""
    import json

    def define(conn_id: str = "signal_default", **fields: Any) -> None:
        conn = json.loads(signal_api.connection_json())
        extra = fields.pop("extra", {})
        conn.update(fields)
        conn["extra"] = extra
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    return define


@pytest.fixture
def ports() -> Any:
    """Closed and unreachable ports on 127.0.0.1 (see local_network.Ports)."""
    from local_network import Ports

    made = Ports()
    yield made
    made.close()


@pytest.fixture
def invalid_names_do_not_resolve(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``.invalid`` names fail to resolve without a DNS query; returns the names looked up."""
    from local_network import refuse_invalid_names

    return refuse_invalid_names(monkeypatch)


# -- a browser (tests/browser_support.py): Debian's Chromium under Playwright ---------------------


@pytest.fixture(scope="session")
def chromium() -> str:
    from browser_support import ensure_chromium

    return ensure_chromium()


@pytest.fixture(scope="module")
def browser(chromium: str) -> Any:
    """Headless Chromium, started once per module (each test opens its own context)."""
    import time

    from browser_support import CHROMIUM_ARGS, WAIT_MS

    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import expect, sync_playwright
    except ImportError as exc:
        pytest.fail(f"Playwright for Python is missing ({exc}): run `make install LINE=3` (test extras).")
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        started = time.monotonic()
        try:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=CHROMIUM_ARGS, headless=True, timeout=60_000
            )
        except PlaywrightError as exc:
            pytest.fail(f"Chromium ({chromium}) could not start under Playwright:\n{exc}")
        print(f"\n[browser] Chromium {browser.version} started in {time.monotonic() - started:.1f} s")
        try:
            yield browser
        finally:
            browser.close()


# -- the real-deployment harness (tests/airflow_support.py) ----------------------------------


@pytest.fixture(scope="session")
def airflow_deployments(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Starts real Airflow deployments on demand (``.get(name, dag_files=, config=, env=)``),
    each once per session; all are stopped at the end of the session."""
    from airflow_support import deployments

    with deployments(tmp_path_factory.mktemp("deployments")) as made:
        yield made


@pytest.fixture(scope="session")
def airflow_deployment(airflow_deployments: Any) -> Any:
    """The shared single-node deployment (SQLite, one scheduler): :func:`airflow_support.shared_dag_files`,
    ``[signal_alerts]`` on (``airflow_support.ALERTS_CONFIG``), started once."""
    from airflow_support import ALERTS_CONFIG

    return airflow_deployments.get("single", config=ALERTS_CONFIG)


@pytest.fixture(scope="session")
def distributed_deployment(airflow_deployments: Any) -> Any:
    """The shared distributed deployment (PostgreSQL, CeleryExecutor with Redis, two schedulers, a
    Celery worker; tests/distributed_support.py), started once, with the same DAGs and settings as
    the single-node one."""
    from airflow_support import ALERTS_CONFIG
    from distributed_support import require_servers

    require_servers()
    return airflow_deployments.get("distributed", config=ALERTS_CONFIG, topology="distributed")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--deployments-first",
        action="store_true",
        help="run the tests on real deployments first instead of last (make test runs two Airflow "
        "lines at once: one starts with its deployments, the other with the rest)",
    )


#: ``id(item)`` of the last test on each topology's deployment -> that topology
_LAST_USERS = pytest.StashKey[dict[int, str]]()


def _uses_a_deployment(item: pytest.Item) -> bool:
    return "airflow_deployments" in getattr(item, "fixturenames", ())


def _topology(item: pytest.Item) -> str:
    return "distributed" if item.get_closest_marker("distributed") else "single"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests on a real deployment run last (first with ``--deployments-first``): those on the
    single-node one, then those on the distributed one (each group in collection order), so one
    deployment at a time is up and takes CPU. The last test of each topology is remembered:
    ``pytest_runtest_teardown`` stops that topology's deployment after it. (A module-scoped
    fixture of a parametrized module is set up per topology anyway, so splitting a module by
    topology sets nothing up twice.)"""

    first = config.getoption("deployments_first")

    def group(item: pytest.Item) -> int:
        if not _uses_a_deployment(item):
            return -1 if not first else 3
        return 1 if _topology(item) == "single" else 2

    items.sort(key=group)  # stable: collection order within each group
    last: dict[str, pytest.Item] = {}
    for item in items:
        if _uses_a_deployment(item):
            last[_topology(item)] = item
    config.stash[_LAST_USERS] = {id(item): topology for topology, item in last.items()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """After the last test of a topology (and its fixtures' teardown), stop that deployment."""
    yield
    topology = item.config.stash.get(_LAST_USERS, {}).get(id(item))
    if topology is not None and "airflow_support" in sys.modules:
        from airflow_support import running_deployments

        if running_deployments is not None:
            running_deployments.stop(topology)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failing test that used a real deployment gets the tail of each component's log."""
    outcome = yield
    report = outcome.get_result()
    # a test may ask for a deployment by name (request.getfixturevalue): any running one counts
    if report.failed and "airflow_support" in sys.modules:
        from airflow_support import log_report

        logs = log_report()
        if logs:
            report.sections.append(("Airflow component logs", logs))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How long each real deployment took to start (the distributed one is the costly one)."""
    if "airflow_support" in sys.modules:
        from airflow_support import STARTUP_TIMES

        for line in STARTUP_TIMES:
            terminalreporter.write_line(line)
