"""The operator, callbacks, notifier and Deadline Alerts in a real Airflow deployment.

The shared deployment (tests/airflow_support.py) runs the real components as processes:
task callbacks run in the task's own process under the executor, DAG-level callbacks in
the DAG processor (Airflow 3) or the scheduler's file processor (2.11), Deadline Alerts in
the triggerer. The DAGs are in tests/dag_files/deployment/lifecycle_dags.py; every run is
started at once, and each test waits for its own.
"""

from __future__ import annotations

from typing import Any

from airflow_support import Deployment

RUN_TIMEOUT = 300.0


def _texts_to(deployment: Deployment, destination: str) -> list[str]:
    return [m.text for m in deployment.emulator.messages if m.destination == destination]


def test_operator_sends_from_a_task_run_by_the_executor(airflow_deployment: Any) -> None:
    deployment: Deployment = airflow_deployment
    run_id = deployment.trigger("dep_operator")
    assert deployment.wait_for_run("dep_operator", run_id, timeout=RUN_TIMEOUT) == "success"
    assert deployment.task_states("dep_operator", run_id) == {"send": "success"}
    expected = f"deployed dep_operator/send in {run_id}"
    assert _texts_to(deployment, "447700901001") == [expected]
    assert _texts_to(deployment, "447700901002") == [expected]
