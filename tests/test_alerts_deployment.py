"""Deployment-wide alerts in a real Airflow deployment (tests/airflow_support.py): the scheduler's
listener, its background sender and the emulator, with DAGs that have no callbacks at all.

One deployment with ``[signal_alerts]`` on serves every scenario; each scenario has its own
DAG (tests/dag_files/alerts_dags.py), so the per-DAG cooldown of one never holds back another.
All first runs are started at once; each test waits for its own. That nothing is registered
while alerts are off is shown by a DagBag, which refuses ``end_from_trigger=True`` beside a listener.

The scenarios run in both topologies: ``single`` (SQLite, one scheduler) and ``distributed``
(PostgreSQL, CeleryExecutor, two schedulers: each fires the listener for the runs it holds): the
two shared deployments, which have the same ``[signal_alerts]`` settings.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from airflow_support import (
    AIRFLOW_3,
    ALERTS_CONFIG,
    DAG_FILES,
    DEFAULT_DESTINATION,
    METRICS_PREFIX,
    TEAM_DATA,
    Deployment,
    isolated_env,
    run_command,
    wait_until,
)
from alerts_support import TOPOLOGIES, alerts_log, finish, messages_about, runs_in, wait_for_alerts

STORM_RUNS = 10
CONFIG = ALERTS_CONFIG
SINGLE_ONLY = pytest.mark.parametrize("alerts", ["single"], indirect=True)


@pytest.fixture(scope="module", params=TOPOLOGIES)
def alerts(request: pytest.FixtureRequest, airflow_deployments: Any) -> Deployment:
    """The shared deployment of the topology (both have ``[signal_alerts]`` on)."""
    name = "airflow_deployment" if request.param == "single" else "distributed_deployment"
    deployment: Deployment = request.getfixturevalue(name)
    return deployment


@pytest.fixture(scope="module")
def first_runs(alerts: Deployment) -> dict[str, list[str]]:
    """Every scenario's first runs, started at once."""
    plan = {
        "alerts_two_failures": [{}],
        "alerts_muted_tag": [{}],
        "alerts_scratch_muted": [{}],
        "alerts_routed": [{}],
        "alerts_recovery": [{"fail": True}],
        "alerts_storm": [{}] * STORM_RUNS,
    }
    alerts.wait_for_dags(*plan)
    return {dag_id: [alerts.trigger(dag_id, conf=conf) for conf in confs] for dag_id, confs in plan.items()}


def test_two_failed_tasks_give_exactly_one_message_naming_both(
    alerts: Deployment, first_runs: dict[str, list[str]]
) -> None:
    [run_id] = first_runs["alerts_two_failures"]
    finish(alerts, "alerts_two_failures", [run_id])
    [message] = wait_for_alerts(alerts, "alerts_two_failures", 1)
    time.sleep(5)  # a second message (a duplicate event) would have arrived by now
    assert len(messages_about(alerts, "alerts_two_failures")) == 1
    assert message.destination == DEFAULT_DESTINATION
    text = message.text
    assert text.startswith("❌ Airflow DAG run failed\nDAG: alerts_two_failures\n")
    assert f"Run: {run_id}" in text and "Run type: manual" in text
    assert "Reason: a task failed" in text
    failed_line = next(line for line in text.splitlines() if line.startswith("Failed tasks: "))
    assert "extract_orders (try 1)" in failed_line and "extract_users (try 1)" in failed_line
    assert "Upstream failed: 1" in text
    assert f"Link: {alerts.url}/dags/alerts_two_failures/" in text


def test_muted_dags_send_nothing_and_say_why(alerts: Deployment, first_runs: dict[str, list[str]]) -> None:
    for dag_id in ("alerts_muted_tag", "alerts_scratch_muted"):
        finish(alerts, dag_id, first_runs[dag_id])
    for dag_id in ("alerts_muted_tag", "alerts_scratch_muted"):
        muted = re.compile(rf"Signal alert for DAG '{dag_id}' run '[^']+' not sent: the DAG is muted")
        wait_until(
            lambda muted=muted: muted.search(alerts_log(alerts)) is not None,
            f"no 'muted' line for {dag_id} in the scheduler's log",
            alerts,
        )
        assert messages_about(alerts, dag_id) == []


def test_a_routed_dag_alerts_its_team_only(alerts: Deployment, first_runs: dict[str, list[str]]) -> None:
    finish(alerts, "alerts_routed", first_runs["alerts_routed"])
    [message] = wait_for_alerts(alerts, "alerts_routed", 1)
    assert message.destination == TEAM_DATA


def test_fail_recover_fail_gives_three_messages(alerts: Deployment, first_runs: dict[str, list[str]]) -> None:
    finish(alerts, "alerts_recovery", first_runs["alerts_recovery"])
    wait_for_alerts(alerts, "alerts_recovery", 1)
    run_id = alerts.trigger("alerts_recovery", {"fail": False})
    finish(alerts, "alerts_recovery", [run_id], expected="success")
    failure, recovery = wait_for_alerts(alerts, "alerts_recovery", 2)
    assert failure.text.startswith("❌ Airflow DAG run failed")
    assert recovery.text.startswith("✅ Airflow DAG recovered") and f"Run: {run_id}" in recovery.text
    # failing again within the cooldown: the recovery ended it, so this failure alerts too
    again = alerts.trigger("alerts_recovery", {"fail": True})
    finish(alerts, "alerts_recovery", [again])
    *_, third = wait_for_alerts(alerts, "alerts_recovery", 3)
    assert third.text.startswith("❌ Airflow DAG run failed") and f"Run: {again}" in third.text


def test_ten_failures_in_the_cooldown_give_one_alert_and_the_next_counts_them_after_a_restart(
    alerts: Deployment, first_runs: dict[str, list[str]]
) -> None:
    finish(alerts, "alerts_storm", first_runs["alerts_storm"])
    # "held back by the cooldown", or, with two schedulers, "held back: another failure alert of this
    # DAG is still being sent" (the other scheduler's attempt is in flight): counted alike
    held = re.compile(r"Signal alert for DAG 'alerts_storm' run '([^']+)' held back")
    wait_until(
        lambda: len(set(held.findall(alerts_log(alerts)))) >= STORM_RUNS - 1,
        f"{STORM_RUNS - 1} held-back runs not logged",
        alerts,
    )
    [first] = wait_for_alerts(alerts, "alerts_storm", 1)
    assert len(messages_about(alerts, "alerts_storm")) == 1 and "earlier failed" not in first.text
    # New schedulers, with the cooldown over (0): what was held back is known from the database only.
    for scheduler in alerts.schedulers():
        scheduler.env["AIRFLOW__SIGNAL_ALERTS__COOLDOWN"] = "0"
        alerts.restart(scheduler.name)
    run_id = alerts.trigger("alerts_storm")
    finish(alerts, "alerts_storm", [run_id])
    _, second = wait_for_alerts(alerts, "alerts_storm", 2)
    assert f"Run: {run_id}" in second.text
    assert f"Also: {STORM_RUNS - 1} earlier failed runs of this DAG since the last alert" in second.text


def test_a_hanging_api_never_holds_up_the_scheduler(
    alerts: Deployment, first_runs: dict[str, list[str]]
) -> None:
    # after the other scenarios' alerts, so the hang hits only this test's alerts
    for dag_id, run_ids in first_runs.items():
        finish(alerts, dag_id, run_ids)
    requests_before = alerts.emulator.request_count
    alerts.emulator.fail_next(1000, action="hang", hang_seconds=60)
    try:
        started = time.monotonic()
        victims = [alerts.trigger("alerts_hang_victim") for _ in range(3)]
        healthy = [alerts.trigger("alerts_healthy") for _ in range(3)]
        finish(alerts, "alerts_hang_victim", victims)
        finish(alerts, "alerts_healthy", healthy, expected="success")
        took = time.monotonic() - started
        wait_until(
            lambda: (
                sum(
                    "alerts_hang_victim" in line and "did not answer within 3 s" in line
                    for line in alerts_log(alerts).splitlines()
                )
                >= 2
            ),
            "the hanging API's cause not logged",
            alerts,
        )
    finally:
        alerts.emulator.clear_faults()
    alerts.check_components()  # the scheduler is still running
    assert alerts.emulator.request_count > requests_before
    assert messages_about(alerts, "alerts_hang_victim") == []
    assert "alerts_hang_victim" in alerts_log(alerts)
    print(f"6 runs (3 failing into a hanging API, 3 healthy) finished in {took:.0f} s")


def test_alerts_are_counted_in_airflows_metrics_on_a_real_statsd_socket(
    alerts: Deployment, first_runs: dict[str, list[str]]
) -> None:
    for dag_id, run_ids in first_runs.items():
        finish(alerts, dag_id, run_ids)
    prefix = f"{METRICS_PREFIX}.signal_alerts."
    names = {f"{prefix}{name}" for name in ("delivered", "held_back", "muted")}
    wait_until(
        lambda: names <= set(alerts.statsd.counts(prefix)),
        f"not every one of {sorted(names)} on the StatsD socket",
        alerts,
    )
    # a delivery sends its counter, then its timer: the two agree once no delivery is half counted
    wait_until(
        lambda: (
            len(alerts.statsd.timings(f"{prefix}delivery_delay"))
            == alerts.statsd.counts(prefix)[f"{prefix}delivered"]
        ),
        "the delivery_delay timings never matched the delivered count",
        alerts,
    )
    counts = alerts.statsd.counts(prefix)
    # the earlier scenarios: a routed alert, one naming two failures, a failure and its recovery,
    # the storm's first alert and the one after the restart: each delivered alert counted once
    delivered = sum(runs_in(m.text) for m in alerts.emulator.messages)  # a group's runs counted each
    assert 6 <= counts[f"{prefix}delivered"] <= delivered
    assert counts[f"{prefix}held_back"] >= STORM_RUNS - 1
    assert counts[f"{prefix}muted"] >= 2
    delays = alerts.statsd.timings(f"{prefix}delivery_delay")
    assert len(delays) >= counts[f"{prefix}delivered"] and all(delay >= 0 for delay in delays)
    # Airflow's own metrics reach the same socket: the listener uses Airflow's Stats, not its own
    assert any(line.startswith(f"{METRICS_PREFIX}.scheduler_heartbeat:") for line in alerts.statsd.lines)


@pytest.mark.skipif(
    not AIRFLOW_3, reason="Airflow 2.11 fires no listener when a run is marked failed in the UI"
)
def test_a_run_marked_failed_by_hand_does_not_alert_by_default(alerts: Deployment) -> None:
    run_id = alerts.trigger("alerts_manual")
    alerts.wait_for_task_state("alerts_manual", run_id, "long_running", ["running"])
    path = f"/dags/alerts_manual/dagRuns/{urllib.parse.quote(run_id)}"
    alerts.api("PATCH", path, {"state": "failed"})
    api_log = Path(alerts.components["api-server"].log_path)
    wait_until(
        lambda: (
            f"Signal alert for DAG 'alerts_manual' run '{run_id}' skipped: set by hand"
            in api_log.read_text(errors="replace")
        ),
        "the API server did not log the skipped manual failure",
        alerts,
    )
    assert messages_about(alerts, "alerts_manual") == []


def _plugins(deployment: Deployment) -> dict[str, Any]:
    listed = deployment.airflow("plugins", "--output", "json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    start = listed.stdout.index("[")
    return {p["name"]: p for p in json.loads(listed.stdout[start:])}


@SINGLE_ONLY
def test_the_listener_is_registered_when_enabled(alerts: Deployment) -> None:
    plugin = _plugins(alerts)["signal_alerts"]
    assert "SignalAlertListener" in json.dumps(plugin.get("listeners"))


#: loads the DAG files of a folder in a DagBag, as the DAG processor does, and prints what it got
BAG_SCRIPT = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2.11
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
errors = [str(error) for error in bag.import_errors.values()]
print("BAG " + json.dumps({"dags": sorted(bag.dag_ids), "errors": errors}))
"""


@pytest.mark.parametrize("enabled", [False, True])
def test_alerts_off_register_no_listener_so_end_from_trigger_dags_load(enabled: bool, tmp_path: Path) -> None:
    # Airflow refuses a task with end_from_trigger=True when any listener is registered.
    env = {
        **isolated_env(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__SIGNAL_ALERTS__ENABLED": str(enabled),
    }
    loaded = run_command(
        [sys.executable, "-c", BAG_SCRIPT, str(DAG_FILES / "end_from_trigger_dags.py")], env=env, timeout=120
    )
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]
    bag = json.loads(loaded.stdout.split("BAG ", 1)[1])
    if enabled:
        assert bag["dags"] == [] and "Listeners are not supported with end_from_trigger" in bag["errors"][0]
    else:
        assert bag == {"dags": ["end_from_trigger"], "errors": []}
