"""When everything fails at once: the grouping of the alert pipeline in both shared deployments
(single-node SQLite, and PostgreSQL + CeleryExecutor + two schedulers), both Airflow lines.

Seventy DAGs (tests/dag_files/storm_dags.py) fail within seconds, sixty routed to one team and ten
to another; the deployments group with ``group_wait`` 3 s and ``group_interval`` 10 s.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from airflow_support import (
    GROUP_INTERVAL,
    GROUP_WAIT,
    METRICS_PREFIX,
    STORM_A,
    STORM_B,
    Deployment,
    wait_until,
)
from alerts_support import TOPOLOGIES, covered, finish, messages_about, runs_in

STORM_A_DAGS = [f"storm_a_{n:02d}" for n in range(60)]
STORM_B_DAGS = [f"storm_b_{n:02d}" for n in range(10)]
SLACK = 30.0
"""Seconds beyond group_interval + group_wait that the last run of a storm may take to be covered."""


@pytest.fixture(scope="module", params=TOPOLOGIES)
def deployment(request: pytest.FixtureRequest, airflow_deployments: Any) -> Deployment:
    name = "airflow_deployment" if request.param == "single" else "distributed_deployment"
    made: Deployment = request.getfixturevalue(name)
    made.wait_for_dags(*STORM_A_DAGS, *STORM_B_DAGS, "alerts_lone")
    return made


def _to(deployment: Deployment, number: str) -> list[str]:
    return [m.text for m in deployment.emulator.messages if m.destination == number]


def test_seventy_dags_failing_at_once_are_a_few_messages_each_route_its_own(deployment: Deployment) -> None:
    runs = {dag_id: deployment.trigger(dag_id) for dag_id in STORM_A_DAGS + STORM_B_DAGS}
    triggered = time.monotonic()

    def complete(number: str, total: int) -> bool:
        return sum(covered(_to(deployment, number)).values()) >= total

    budget = GROUP_INTERVAL + GROUP_WAIT + SLACK + 60  # + the time the runs take to fail
    wait_until(
        lambda: complete(STORM_A, 60) and complete(STORM_B, 10), "the storm not covered", deployment, budget
    )
    covered_after = time.monotonic() - triggered
    time.sleep(GROUP_INTERVAL + GROUP_WAIT)  # a late duplicate would have arrived by now
    for number, dags in ((STORM_A, STORM_A_DAGS), (STORM_B, STORM_B_DAGS)):
        texts = _to(deployment, number)
        seen = covered(texts)
        assert len(texts) <= 3, texts
        named = {name: count for name, count in seen.items() if name != "<counted>"}
        assert set(named) <= set(dags), f"another route's DAGs in {number}'s messages: {named}"
        assert all(count == 1 for count in named.values()), f"a DAG named twice: {named}"
        assert sum(seen.values()) == len(dags), seen  # every run named or counted, exactly once
    # The storm's big message; a run that failed alone more than group_wait before the others
    # (the scheduler times the runs out loop by loop) may go ahead of it as a message of its own.
    [grouped, *_] = sorted(_to(deployment, STORM_A), key=runs_in, reverse=True)
    assert grouped.startswith("❌ Airflow: ") and "DAG runs failed in " in grouped
    assert f"{deployment.url}/dag" in grouped  # one link to the list of failed runs
    finish(deployment, STORM_B_DAGS[0], [runs[STORM_B_DAGS[0]]])
    prefix = f"{METRICS_PREFIX}.signal_alerts."
    in_groups = sum(
        runs_in(text) for text in _to(deployment, STORM_A) + _to(deployment, STORM_B) if "DAG runs" in text
    )
    assert deployment.statsd.counts(prefix).get(f"{prefix}grouped", 0) >= in_groups > 0
    print(f"storm covered {covered_after:.1f} s after the first trigger")  # for the closing note


def test_a_lone_failure_is_the_single_run_message_within_group_wait(deployment: Deployment) -> None:
    run_id = deployment.trigger("alerts_lone")
    finish(deployment, "alerts_lone", [run_id])
    ended = deployment.api("GET", f"/dags/alerts_lone/dagRuns/{run_id}")["end_date"]
    end = datetime.fromisoformat(ended.replace("Z", "+00:00")).timestamp()
    wait_until(lambda: messages_about(deployment, "alerts_lone"), "no alert for alerts_lone", deployment, 60)
    [message] = messages_about(deployment, "alerts_lone")
    assert message.text.startswith("❌ Airflow DAG run failed\nDAG: alerts_lone\n")
    assert f"Run: {run_id}" in message.text
    assert message.received_at - end <= GROUP_WAIT + 2 + 1  # + 1: the end date's own rounding
