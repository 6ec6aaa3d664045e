"""Deployment-wide alerts that survive an outage and a crash, in both shared deployments
(tests/airflow_support.py): single-node (SQLite, one scheduler) and distributed (PostgreSQL,
CeleryExecutor, two schedulers), with ``[signal_alerts]`` on and a 5 s sweep.

The outage here is a few seconds of 503 answers instead of 45 s: the mechanism (a recorded
attempt that did not arrive, retried with back-off) is the same, only the number of retries.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_support import METRICS_PREFIX, Deployment, wait_until
from alerts_support import TOPOLOGIES, alerts_log, finish, messages_about, wait_for_alerts


@pytest.fixture(scope="module", params=TOPOLOGIES)
def deployment(request: pytest.FixtureRequest, airflow_deployments: Any) -> Deployment:
    name = "airflow_deployment" if request.param == "single" else "distributed_deployment"
    made: Deployment = request.getfixturevalue(name)
    made.wait_for_dags("alerts_outage", "alerts_killed")
    return made


def test_an_alert_during_an_outage_arrives_later_saying_it_was_delayed(deployment: Deployment) -> None:
    deployment.emulator.fail_next(1000, status=503)
    try:
        run_id = deployment.trigger("alerts_outage")
        finish(deployment, "alerts_outage", [run_id])
        wait_until(
            lambda: alerts_log(deployment).count("'alerts_outage' run") >= 2,
            "no retried attempt logged",
            deployment,
        )
        time.sleep(5)
    finally:
        deployment.emulator.clear_faults()
    [message] = wait_for_alerts(deployment, "alerts_outage", 1, timeout=90)
    assert f"Run: {run_id}" in message.text
    assert "Delayed: the Signal API could not be reached from " in message.text
    prefix = f"{METRICS_PREFIX}.signal_alerts."
    assert deployment.statsd.counts(prefix)[f"{prefix}retried"] >= 1  # the outage's retries, on StatsD


def test_every_scheduler_killed_while_its_alert_hangs_at_the_api_still_alerts_marked_within_a_minute(
    deployment: Deployment,
) -> None:
    names = [scheduler.name for scheduler in deployment.schedulers()]  # two in the distributed one
    deployment.emulator.fail_next(1000, action="hang", hang_seconds=120)
    try:
        before = deployment.emulator.request_count
        run_id = deployment.trigger("alerts_killed")
        finish(deployment, "alerts_killed", [run_id])
        # This alert's own request is out, hanging (not a late one of an earlier test's):
        # its in-flight marker names its scheduler.
        wait_until(
            lambda: any(b"alerts_killed" in r.body for r in deployment.emulator.requests[before:]),
            "the alert's request never left",
            deployment,
        )
        deployment.kill(*names)
        deployment.emulator.clear_faults()
        deployment.start_again(names[0])
        restarted = time.monotonic()
        # The new scheduler's sweep finds the attempt whose owner (the killed job) no longer
        # heartbeats: sent again at once, marked, not after the attempt's deadline.
        [message] = wait_for_alerts(deployment, "alerts_killed", 1, timeout=60)
        print(f"marked repeat {time.monotonic() - restarted:.1f} s after a scheduler ran again")
        assert f"Run: {run_id}" in message.text
        assert "Sent again: the first attempt may not have arrived" in message.text
    finally:
        deployment.emulator.clear_faults()
        for name in names:  # the deployment as it was, for the tests after this one
            deployment.start_again(name)
    deployment.wait_until_healthy()
    time.sleep(10)  # a sweep or two later, by every scheduler: still one message
    assert len(messages_about(deployment, "alerts_killed")) == 1
