"""``airflow-signal-watchdog``: the incident rule (pure, the clock passed in), its state file, its
arguments, and the command itself against the shared single-node deployment, as cron would run
it (``--once`` with a state file), while the tests kill and start Airflow's components."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_signal.testing import ReceivedMessage
from airflow_provider_signal.watchdog import incidents, state_file
from airflow_provider_signal.watchdog.cli import main
from airflow_provider_signal.watchdog.probe import Check, health_urls, shown_url
from airflow_support import AIRFLOW_3, Deployment, wait_until

WATCHDOG = Path(sys.executable).with_name("airflow-signal-watchdog")
ON_CALL = "447700900707"  # the watchdog's own recipient: no other test's message is counted
T0 = datetime(2026, 12, 7, 21, 4, tzinfo=timezone.utc)
URL = "http://airflow.example.com"

UNREACHABLE = Check(URL, problem="connection refused")
HEALTHY = Check(URL, healthy={"metadatabase": True, "scheduler": True})
SCHEDULER_DOWN = Check(
    URL, healthy={"metadatabase": True, "scheduler": False}, heartbeats={"scheduler": "2026-12-07T21:03:50"}
)


def run(checks: list[Check], threshold: int, sent: bool = True) -> list[list[str]]:
    """The messages due after each check, one minute apart; each accepted when ``sent``."""
    state: incidents.State = {}
    texts: list[list[str]] = []
    for minute, check in enumerate(checks):
        now = T0 + timedelta(minutes=minute)
        state = incidents.advance(state, check, now)
        due = incidents.messages(state, threshold, now, check.url, "ops-1")
        texts.append([message.text for message in due])
        for message in due if sent else ():
            state = incidents.sent(state, message)
    return texts


def test_an_incident_is_announced_after_threshold_bad_checks_then_its_end_once() -> None:
    texts = run([UNREACHABLE, UNREACHABLE, UNREACHABLE, UNREACHABLE, HEALTHY, HEALTHY], threshold=3)
    assert [len(step) for step in texts] == [0, 0, 1, 0, 1, 0]
    assert texts[2][0] == (
        "🚨 Airflow unreachable: http://airflow.example.com (connection refused), since 21:04 UTC "
        "(2 min 0 s), 3 checks in a row. Watchdog on ops-1."
    )
    assert texts[4][0] == "✅ Airflow reachable again: http://airflow.example.com, after 4 min 0 s."


def test_a_problem_shorter_than_the_threshold_says_nothing() -> None:
    assert (
        run([UNREACHABLE, UNREACHABLE, HEALTHY, UNREACHABLE, UNREACHABLE, HEALTHY], threshold=3) == [[]] * 6
    )


def test_a_component_incident_names_it_with_its_last_heartbeat() -> None:
    texts = run([SCHEDULER_DOWN, SCHEDULER_DOWN, HEALTHY], threshold=2)
    assert texts[1] == [
        "🚨 Airflow scheduler unhealthy, since 21:04 UTC (1 min 0 s); last heartbeat 2026-12-07T21:03:50. "
        "Reported by http://airflow.example.com. Watchdog on ops-1."
    ]
    assert texts[2] == [
        "✅ Airflow scheduler healthy again, after 2 min 0 s. Reported by http://airflow.example.com."
    ]


def test_while_airflow_is_unreachable_its_components_incidents_stay_open() -> None:
    texts = run([SCHEDULER_DOWN, UNREACHABLE, SCHEDULER_DOWN, HEALTHY], threshold=2)
    assert texts[1] == [] and len(texts[2]) == 1 and "scheduler unhealthy, since 21:04" in texts[2][0]
    assert [t for t in texts[3] if "scheduler healthy again" in t] != []


def test_a_message_not_sent_is_due_again_at_the_next_check_and_never_twice_once_sent() -> None:
    assert [len(step) for step in run([UNREACHABLE] * 3, threshold=1, sent=False)] == [1, 1, 1]
    assert [len(step) for step in run([UNREACHABLE] * 3, threshold=1)] == [1, 0, 0]


def test_the_state_file_keeps_the_incidents_and_refuses_to_be_misread(tmp_path: Path) -> None:
    path = tmp_path / "watchdog.json"
    state = incidents.advance({}, UNREACHABLE, T0)
    state = incidents.sent(state, incidents.messages(state, 1, T0, URL, "ops-1")[0])
    state_file.save(path, state, "http://airflow.example.com/health")
    assert state_file.load(path) == (state, "http://airflow.example.com/health")
    assert state_file.load(tmp_path / "missing.json") == ({}, None)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"watchdog\.json.*cannot be read.*fix or delete it"):
        state_file.load(path)


def test_a_check_that_fails_on_its_url_never_quotes_its_password() -> None:
    from airflow_provider_signal.watchdog.probe import check

    failed = check("http://ops:S3cr3t@airflow.example.com:port/health", timeout=1)
    assert failed.problem and "S3cr3t" not in failed.problem


def test_an_answer_that_is_not_http_is_a_problem_not_a_crash() -> None:
    import socket
    import threading

    from airflow_provider_signal.watchdog.probe import check

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def garble() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=garble, daemon=True)
    thread.start()
    try:
        failed = check(f"http://127.0.0.1:{port}/health", timeout=5)
    finally:
        thread.join(5)
        server.close()
    assert failed.problem is not None and not failed.ok


def test_urls_are_shown_without_a_password_and_both_health_paths_are_known() -> None:
    assert (
        shown_url("https://ops:S3cr3t@airflow.example.com:8443/x")
        == "https://ops:***@airflow.example.com:8443/x"
    )
    assert health_urls("http://a/") == ["http://a/api/v2/monitor/health", "http://a/health"]
    assert health_urls("http://a/health") == ["http://a/health"]


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--url", "ftp://airflow"], "argument --url"),
        (["--url", "https://ops:S3cr3t@"], "argument --url"),
        (["--url", URL, "--interval", "0"], "argument --interval"),
        (["--url", URL, "--interval", "nan"], "argument --interval"),
        (["--url", URL, "--threshold", "0"], "argument --threshold"),
        (["--url", URL, "--destinations", "07700900123"], "argument --destinations"),
        (["--url", URL, "--once"], "argument --state-file"),
        (["--url", URL, "--state-file", "/nonexistent/dir/state.json"], "argument --state-file"),
    ],
)
def test_a_bad_argument_is_a_clear_error_naming_it(
    arguments: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    error = capsys.readouterr().err
    assert exited.value.code == 2 and named in error
    assert "S3cr3t" not in error


# -- the command against a real deployment ---------------------------------------------------------


class Cron:
    """``airflow-signal-watchdog --once`` run as cron runs it: a fresh process each time, the
    Signal connection in its environment and nothing else of Airflow's."""

    def __init__(self, deployment: Deployment, home: Path, threshold: int = 2, url: str = "") -> None:
        self.deployment = deployment
        self.url = url or deployment.url
        self.state = home / "watchdog-state.json"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "AIRFLOW_HOME": str(
                home / "airflow"
            ),  # Airflow's config defaults: no airflow.cfg of the deployment
            "AIRFLOW_CONN_SIGNAL_WATCHDOG": deployment.emulator.connection_json(),
        }
        self.threshold = threshold

    def check(self) -> int:
        args = [str(WATCHDOG), "--url", self.url, "--once", "--threshold", str(self.threshold)]
        args += ["--state-file", str(self.state), "--conn-id", "signal_watchdog", "--destinations", ON_CALL]
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        assert self.deployment.emulator.password not in done.stdout + done.stderr
        return done.returncode

    def messages(self) -> list[ReceivedMessage]:
        return [m for m in self.deployment.emulator.messages if m.destination == ON_CALL]


@pytest.fixture(scope="module")
def cron(airflow_deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Cron:
    return Cron(airflow_deployment, tmp_path_factory.mktemp("watchdog"))


def test_a_healthy_airflow_exits_0_and_says_nothing(cron: Cron) -> None:
    assert cron.check() == 0
    assert json.loads(cron.state.read_text())["health_url"].endswith(
        "/api/v2/monitor/health" if AIRFLOW_3 else "/health"
    )
    assert cron.messages() == []


def test_the_api_server_killed_is_announced_once_and_its_return_once(cron: Cron) -> None:
    deployment = cron.deployment
    server = "api-server" if AIRFLOW_3 else "webserver"
    deployment.kill(server)
    try:
        assert [cron.check() for _ in range(3)] == [1, 1, 1]
        Cron(deployment, cron.state.parent, cron.threshold).check()  # a restarted watchdog: no repeat
    finally:
        deployment.start_again(server)
    deployment.wait_until_healthy()
    assert cron.check() == 0
    texts = [m.text for m in cron.messages()]
    assert len(texts) == 2, texts
    assert texts[0].startswith(f"🚨 Airflow unreachable: {deployment.url} (connection refused)")
    assert "2 checks in a row" in texts[0]
    assert texts[1].startswith(f"✅ Airflow reachable again: {deployment.url}, after")
    assert cron.check() == 0 and len(cron.messages()) == 2


def test_a_component_the_health_endpoint_calls_unhealthy_is_announced_then_its_recovery(cron: Cron) -> None:
    deployment = cron.deployment
    before = len(cron.messages())
    started = time.monotonic()
    deployment.kill("triggerer")
    try:
        wait_until(
            lambda: cron.check() == 1, "the triggerer never reported unhealthy", deployment, timeout=180
        )
        assert cron.check() == 1
        unhealthy = [m.text for m in cron.messages()[before:]]
        assert len(unhealthy) == 1 and unhealthy[0].startswith("🚨 Airflow triggerer unhealthy, since"), (
            unhealthy
        )
        assert "last heartbeat" in unhealthy[0]
        print(f"triggerer killed: announced after {time.monotonic() - started:.0f} s")
    finally:
        deployment.start_again("triggerer")
    deployment.wait_until_healthy()
    wait_until(
        lambda: cron.check() == 0, "the triggerer never reported healthy again", deployment, timeout=120
    )
    texts = [m.text for m in cron.messages()[before:]]
    assert len(texts) == 2 and texts[1].startswith("✅ Airflow triggerer healthy again, after"), texts


def test_a_send_that_fails_is_sent_at_the_next_check(cron: Cron, tmp_path: Path) -> None:
    """The connection down (a closed port): the incident is not recorded as announced, so the
    next check with the connection back sends it."""
    deployment = cron.deployment
    failing = Cron(deployment, tmp_path, threshold=1, url="http://127.0.0.1:9")  # nothing listens there
    failing.env["AIRFLOW_CONN_SIGNAL_WATCHDOG"] = json.dumps(
        {
            "conn_type": "signal",
            "login": "x",
            "password": "pw-9",
            "host": "http://127.0.0.1:9",
            "extra": {"retries": 0},
        }
    )
    before = len(cron.messages())
    assert failing.check() == 1
    assert len(cron.messages()) == before
    failing.env["AIRFLOW_CONN_SIGNAL_WATCHDOG"] = deployment.emulator.connection_json()
    assert failing.check() == 1
    assert len(cron.messages()) == before + 1


def test_the_watchdog_is_also_a_subcommand_of_airflow_signal(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_provider_signal.command.cli import main as airflow_signal

    with pytest.raises(SystemExit) as exited:
        airflow_signal(["watchdog", "--url", "ftp://airflow"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.splitlines()[0].startswith("usage: airflow-signal-watchdog") and "argument --url" in error
