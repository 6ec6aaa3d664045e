"""The release as a user gets it: dist/'s wheel and sdist, and the wheel installed in a clean virtualenv.

``make dist`` builds both with ``python -m build`` and runs ``twine check``; ``make test`` does
that before the Airflow 3 suite, which runs this file. Here the wheel must hold exactly the
checkout's package (with ``py.typed``, without tests, benchmarks, demo, docs or example DAGs),
then it is installed with Airflow into a fresh virtualenv (uv, this line's constraints) and
used from a temporary directory, so nothing from the checkout is on ``sys.path``: Airflow lists
the provider, ``airflow connections test`` passes against the emulator started from the installed
package, a message is sent, an example DAG runs with ``airflow dags test`` and its messages
arrive, and the ``signal_api`` fixture works in a foreign project's pytest run.

No wheel in dist/, or one older than the checkout: the tests skip (``make dist`` builds it);
under CI (``CI=true``) they fail instead. They run once, on the Airflow 3 line.
"""

from __future__ import annotations

import contextlib
import email.parser
import json
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import airflow_provider_signal
from airflow_support import run_command, tail

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "airflow_provider_signal"
VERSION = airflow_provider_signal.__version__
DIST = ROOT / "dist"
NOT_SHIPPED = ("tests/", "benchmarks/", "demo/", "docs/", "example_dags/", "constraints/", ".ci/")
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
AIRFLOW_VERSION = metadata.version("apache-airflow")
INSTALL_TIMEOUT = 900.0
AIRFLOW_TIMEOUT = 300.0
EMULATOR_START_TIMEOUT = 60.0
RECIPIENT = "+447700900777"

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.skipif(
        AIRFLOW_VERSION.startswith("2."), reason="the wheel smoke test runs once, on the Airflow 3 line"
    ),
]


def _unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where `make test` built dist/ just before."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def _source_files() -> dict[str, bytes]:
    """The package as it is in the checkout: path (``airflow_provider_signal/...``) -> bytes."""
    files = {}
    for path in sorted((ROOT / PACKAGE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    return files


def _release_file(pattern: str) -> Path:
    """dist/'s file for this version, built after the last change to the package, pyproject.toml or
    README.md (the long description)."""
    found = sorted(DIST.glob(pattern))
    if not found:
        _unavailable(f"dist/ holds no {pattern}: build it with `make dist` (make test does)")
    built = found[0]
    sources = [ROOT / "pyproject.toml", ROOT / "README.md", *(ROOT / name for name in _source_files())]
    changed = [path.relative_to(ROOT) for path in sources if path.stat().st_mtime > built.stat().st_mtime]
    if changed:
        _unavailable(
            f"{built.name} is older than {', '.join(map(str, changed[:3]))}: rebuild with `make dist`"
        )
    return built


@pytest.fixture(scope="module")
def wheel() -> Path:
    return _release_file(f"{PACKAGE}-{VERSION}-py3-none-any.whl")


@pytest.fixture(scope="module")
def sdist() -> Path:
    return _release_file(f"{PACKAGE}-{VERSION}.tar.gz")


# -- what the distributions hold ------------------------------------------------------------------


def test_wheel_holds_the_package_py_typed_and_nothing_else(wheel: Path) -> None:
    dist_info = f"{PACKAGE}-{VERSION}.dist-info/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = {name: archive.read(name) for name in names if name.startswith(f"{PACKAGE}/")}
        license_text = archive.read(f"{dist_info}licenses/LICENSE")
    strays = [name for name in names if not name.startswith((f"{PACKAGE}/", dist_info))]
    assert strays == [], f"the wheel holds files outside the package: {strays}"
    assert not [name for name in names if name.startswith(NOT_SHIPPED) or ".pyc" in name]
    assert f"{PACKAGE}/py.typed" in shipped
    source = _source_files()
    missing, extra = sorted(set(source) - set(shipped)), sorted(set(shipped) - set(source))
    assert (missing, extra) == ([], []), f"the wheel lacks {missing} and holds {extra} (vs the checkout)"
    differing = [name for name in source if shipped[name] != source[name]]
    assert differing == [], f"files differ from the checkout: {differing}"
    assert license_text == (ROOT / "LICENSE").read_bytes()


def test_wheel_metadata_declares_version_license_floors_and_entry_points(wheel: Path) -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    with zipfile.ZipFile(wheel) as archive:
        meta = email.parser.Parser().parsestr(
            archive.read(f"{PACKAGE}-{VERSION}.dist-info/METADATA").decode()
        )
        entry_points = archive.read(f"{PACKAGE}-{VERSION}.dist-info/entry_points.txt").decode()
    assert meta["Name"] == "airflow-provider-signal"
    assert meta["Version"] == VERSION
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert meta["Requires-Python"] == ">=3.10"
    runtime = sorted(r.replace(" ", "") for r in meta.get_all("Requires-Dist") if "extra ==" not in r)
    assert runtime == sorted(project["dependencies"])
    assert "urllib3>=2.6" in runtime  # backoff_max (2.0) and bounded gzip reads (2.6): see pyproject
    assert "provider_info = airflow_provider_signal.provider_info:get_provider_info" in entry_points
    assert "signal_api = airflow_provider_signal.testing.pytest_plugin" in entry_points
    # The PyPI page is the README, whole; the Documentation link is the docs site's index.
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (ROOT / "README.md").read_text().strip()
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL"))
    assert urls["Documentation"].endswith("/docs/index.md")


def test_sdist_holds_the_sources_without_tests_or_tooling(sdist: Path) -> None:
    top = f"{PACKAGE}-{VERSION}/"
    with tarfile.open(sdist) as archive:
        members = {m.name[len(top) :]: m for m in archive.getmembers() if m.isfile()}
        package = {
            name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for name, member in members.items()
            if name.startswith(f"{PACKAGE}/")
        }
    for needed in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO"):
        assert needed in members
    assert [name for name in members if name.startswith(NOT_SHIPPED)] == []
    assert package == _source_files()


# -- the wheel installed in a clean virtualenv ----------------------------------------------------


@dataclass
class CleanInstall:
    """A virtualenv holding the wheel, Airflow and pytest, used from ``workdir`` (not the checkout)."""

    venv: Path
    workdir: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *args: str, timeout: float = AIRFLOW_TIMEOUT, cwd: Path | None = None) -> Any:
        """Run a program of the virtualenv (``python``, ``airflow``, ...) and return its result."""
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        return run_command(command, env=self.env, cwd=cwd or self.workdir, timeout=timeout)

    def airflow(self, *args: str, timeout: float = AIRFLOW_TIMEOUT) -> str:
        """``airflow ARGS``; fails the test with its output unless it exits 0."""
        done = self.run("airflow", *args, timeout=timeout)
        assert done.returncode == 0, f"`airflow {' '.join(args)}` exited {done.returncode}:\n{_both(done)}"
        return str(done.stdout)


def _both(done: Any) -> str:
    return tail(f"{done.stdout}\n{done.stderr}", 60)


def _uv() -> str:
    for candidate in (os.environ.get("UV"), str(ROOT / ".venv-boot" / "bin" / "uv"), shutil.which("uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _unavailable("uv is needed to build the clean virtualenv: `make install` puts it in .venv-boot/")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> CleanInstall:
    base = tmp_path_factory.mktemp("wheel-smoke")
    venv, workdir, home = base / "venv", base / "work", base / "airflow-home"
    workdir.mkdir()
    (home / "dags").mkdir(parents=True)
    uv = _uv()
    constraints = ROOT / "constraints" / f"airflow-{AIRFLOW_VERSION}.txt"
    steps = [
        [uv, "venv", "--quiet", "--no-python-downloads", "--python", sys.executable, str(venv)],
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            *(["--constraint", str(constraints)] if constraints.exists() else []),
            f"apache-airflow=={AIRFLOW_VERSION}",
            str(wheel),
            "pytest",
        ],
    ]
    # Nothing of this process's set-up leaks in: no checkout, no editable install, no test Airflow.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    env.update(
        {
            "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "PYTHONNOUSERSITE": "1",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    for step in steps:
        done = run_command(step, env=env, cwd=workdir, timeout=INSTALL_TIMEOUT)
        assert done.returncode == 0, f"`{' '.join(step)}` failed:\n{_both(done)}"
    return CleanInstall(venv=venv, workdir=workdir, env=env)


@dataclass
class Emulator:
    url: str
    password: str

    def connection_json(self) -> str:
        return json.dumps(
            {"conn_type": "signal", "login": "wheel-smoke", "password": self.password, "host": self.url}
        )

    def messages(self) -> list[dict[str, Any]]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/_emulator/messages", timeout=10) as answer:
            return list(json.loads(answer.read()))

    def stats(self) -> dict[str, int]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/_emulator/stats", timeout=10) as answer:
            return dict(json.loads(answer.read()))


@pytest.fixture
def emulator(installed: CleanInstall) -> Iterator[Emulator]:
    """``python -m airflow_provider_signal.testing`` from the installed wheel, on a free port."""
    password = secrets.token_urlsafe(12)
    process = subprocess.Popen(
        [
            installed.python,
            "-m",
            f"{PACKAGE}.testing",
            "--port",
            "0",
            "--system-id",
            "wheel-smoke",
            "--password",
            password,
        ],
        cwd=installed.workdir,
        env=installed.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        reader = selectors.DefaultSelector()
        reader.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + EMULATOR_START_TIMEOUT
        line = ""
        while "listening on " not in line:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the installed emulator did not start: exit {process.poll()}, said {line!r}")
            if reader.select(timeout=1):
                line = process.stdout.readline()
        yield Emulator(url=line.split("listening on ", 1)[1].strip(), password=password)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_the_package_is_imported_from_the_wheel_not_the_checkout(installed: CleanInstall) -> None:
    done = installed.run(
        "python",
        "-c",
        "import json, sys, sysconfig, importlib.metadata as m, airflow_provider_signal as p; "
        "print(json.dumps({'file': p.__file__, 'version': p.__version__, "
        "'dist_version': m.version('airflow-provider-signal'), 'purelib': sysconfig.get_paths()['purelib'], "
        "'path': sys.path, 'cwd': __import__('os').getcwd()}))",
    )
    assert done.returncode == 0, _both(done)
    found = json.loads(done.stdout)
    purelib = Path(found["purelib"])
    assert Path(found["file"]).is_relative_to(purelib), found["file"]
    assert purelib.is_relative_to(installed.venv)
    assert found["version"] == found["dist_version"] == VERSION
    on_path = [Path(entry or found["cwd"]).resolve() for entry in found["path"]]
    assert [entry for entry in on_path if entry.is_relative_to(ROOT)] == []


def test_airflow_lists_the_installed_provider(installed: CleanInstall) -> None:
    listed = json.loads(installed.airflow("providers", "list", "--output", "json"))
    ours = [p for p in listed if p["package_name"] == "airflow-provider-signal"]
    assert ours, f"airflow providers list does not show the provider: {[p['package_name'] for p in listed]}"
    assert ours[0]["version"] == VERSION


def test_connection_test_and_a_send_through_the_installed_emulator(
    installed: CleanInstall, emulator: Emulator
) -> None:
    installed.env["AIRFLOW_CONN_SIGNAL_DEFAULT"] = emulator.connection_json()
    try:
        tested = installed.airflow("connections", "test", "signal_default")
        assert "Connection success!" in tested
        assert emulator.stats()["requests"] == 1  # the credential check, which delivers nothing
        assert emulator.messages() == []
        sent = installed.run(
            "python",
            "-c",
            "import json; from airflow_provider_signal.hooks.signal import SignalHook; "
            f"print(json.dumps(SignalHook().send_message('Sent from the wheel', [{RECIPIENT!r}])))",
        )
        assert sent.returncode == 0, _both(sent)
        assert emulator.password not in sent.stdout + sent.stderr
    finally:
        installed.env.pop("AIRFLOW_CONN_SIGNAL_DEFAULT")
    [result] = json.loads(sent.stdout.strip().splitlines()[-1])
    assert result["destination"] == RECIPIENT.lstrip("+")
    assert [(m["destination"], m["text"]) for m in emulator.messages()] == [
        (RECIPIENT.lstrip("+"), "Sent from the wheel")
    ]


def test_an_example_dag_runs_against_the_installed_provider(
    installed: CleanInstall, emulator: Emulator
) -> None:
    dags = Path(installed.env["AIRFLOW__CORE__DAGS_FOLDER"])
    shutil.copy(ROOT / "example_dags" / "example_signal_send.py", dags)
    installed.env["AIRFLOW_CONN_SIGNAL_DEFAULT"] = emulator.connection_json()
    try:
        installed.airflow("db", "migrate")
        installed.airflow("dags", "test", "example_signal_send")
    finally:
        installed.env.pop("AIRFLOW_CONN_SIGNAL_DEFAULT")
    delivered = emulator.messages()
    # Three spellings of two numbers: one message each.
    assert sorted(m["destination"] for m in delivered) == ["447700900123", "447700900456"]
    assert all("example_signal_send: loaded 1250 rows" in m["text"] for m in delivered)


FOREIGN_TEST = """
from airflow_provider_signal.hooks.signal import SignalHook


def test_my_alert_reaches_the_on_call_phone(signal_api):
    SignalHook().send_message("disk almost full", ["+44 7700 900999"])
    [message] = signal_api.messages
    assert (message.destination, message.text) == ("447700900999", "disk almost full")
"""


def test_signal_api_fixture_works_in_a_foreign_project(installed: CleanInstall) -> None:
    project = installed.workdir / "foreign-project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "foreign"\nversion = "1"\n')
    (project / "tests" / "test_alerts.py").write_text(FOREIGN_TEST)
    done = installed.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=project)
    assert done.returncode == 0, _both(done)
    assert "1 passed" in done.stdout
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(project)
