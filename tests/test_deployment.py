"""The operator, callbacks, notifier and Deadline Alerts in a real Airflow deployment.

The shared deployment (tests/airflow_support.py) runs Airflow's real components as
processes: task callbacks run in the task's own process under the executor, DAG-level
callbacks in the DAG processor (Airflow 3) or the scheduler's file processor (2.11),
Deadline Alerts in the triggerer. The DAGs are in tests/dag_files/deployment/; every run
is started at once by the ``runs`` fixture, and each test waits for its own.

Every test runs in both topologies (``single``: SQLite, one scheduler; ``distributed``:
PostgreSQL, the CeleryExecutor with Redis, two schedulers and a Celery worker,
tests/distributed_support.py), each deployment started once per session.
"""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

import pytest

from airflow_support import AIRFLOW_VERSION, Deployment

RUN_TIMEOUT = 360.0
LIFECYCLE_DAGS = [
    "dep_operator",
    "dep_failure",
    "dep_success",
    "dep_timeout",
    "dep_killed",
    "dep_down",
    "dep_hang",
]
HAS_DEADLINES = HAS_HUMAN_IN_THE_LOOP = AIRFLOW_VERSION >= (3, 1)
if HAS_DEADLINES:
    LIFECYCLE_DAGS.append("dep_deadline")
if HAS_HUMAN_IN_THE_LOOP:
    LIFECYCLE_DAGS.append("example_signal_approval")


TOPOLOGIES = ["single", pytest.param("distributed", marks=pytest.mark.distributed)]
#: only the distributed deployment stores a connection in the metadata database
DISTRIBUTED_DAGS = ["dep_stored_connection"]


@pytest.fixture(scope="module", params=TOPOLOGIES)
def deployment(request: pytest.FixtureRequest, airflow_deployments: Any) -> Deployment:
    name = "airflow_deployment" if request.param == "single" else "distributed_deployment"
    deployment: Deployment = request.getfixturevalue(name)
    return deployment


@pytest.fixture(scope="module")
def runs(deployment: Deployment) -> dict[str, str]:
    """Every lifecycle DAG triggered at once: ``{dag_id: run_id}``."""
    dag_ids = [*LIFECYCLE_DAGS, *(DISTRIBUTED_DAGS if deployment.topology == "distributed" else [])]
    deployment.wait_for_dags(*dag_ids)
    return {dag_id: deployment.trigger(dag_id) for dag_id in dag_ids}


def _finished(deployment: Deployment, runs: dict[str, str], dag_id: str) -> tuple[str, str]:
    """Wait for the run of ``dag_id``; ``(run_id, state)``."""
    run_id = runs[dag_id]
    return run_id, deployment.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)


def _texts_to(deployment: Deployment, destination: str, wait: float = 0.0) -> list[str]:
    """What the emulator received for ``destination`` (waiting up to ``wait`` s for a first one)."""
    if wait:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not any(
            m.destination == destination for m in deployment.emulator.messages
        ):
            time.sleep(0.5)
    return [m.text for m in deployment.emulator.messages if m.destination == destination]


def _senders(deployment: Deployment, destination: str) -> set[str]:
    """Which process logged sending to ``destination``: ``task`` (a task's own log), ``dag processor``
    (Airflow 3's DAG processor), ``scheduler`` (2.11's DAG file processor), or a component's name."""
    kinds = set()
    for where in deployment.where_logged(f"Signal message sent to {destination}"):
        if where.startswith("dag_id="):
            kinds.add("task")
        elif where.startswith("dag_processor"):
            kinds.add("dag processor")
        elif where.startswith("scheduler/"):
            kinds.add("scheduler")
        else:
            kinds.add(where.removeprefix("component:"))
    if "task" in kinds:  # Airflow 3's LocalExecutor also echoes its tasks' logs to the scheduler's output
        kinds.discard("scheduler")
    return kinds


def _dag_callback_senders(deployment: Deployment, destination: str) -> set[str]:
    """:func:`_senders` with the two schedulers of the distributed topology as one ``scheduler``."""
    return {"scheduler" if kind == "scheduler-2" else kind for kind in _senders(deployment, destination)}


DAG_CALLBACK_PROCESS = "dag processor" if AIRFLOW_VERSION >= (3, 0) else "scheduler"
#: how long a DAG-level callback may take after its run has finished: the DAG processor (3.x) or a
#: scheduler's file processor (2.11) runs it on its next pass, slow on a loaded 2-core machine
DAG_CALLBACK_WAIT = 180.0


def _lines(text: str) -> dict[str, str]:
    """``{"Task": "load", ...}`` from an alert's ``Label: value`` lines."""
    return dict(line.split(": ", 1) for line in text.splitlines()[1:] if ": " in line)


def test_operator_sends_from_a_task_run_by_the_executor(deployment: Deployment, runs: dict[str, str]) -> None:
    run_id, state = _finished(deployment, runs, "dep_operator")
    assert state == "success"
    assert deployment.task_states("dep_operator", run_id) == {"send": "success"}
    expected = f"deployed dep_operator/send in {run_id}"
    assert _texts_to(deployment, "447700901001") == [expected]
    assert _texts_to(deployment, "447700901002") == [expected]
    assert _senders(deployment, "447700901001") == {"task"}


def test_task_failure_alert_names_the_exception_and_links_to_the_real_ui(
    deployment: Deployment, runs: dict[str, str]
) -> None:
    run_id, state = _finished(deployment, runs, "dep_failure")
    assert state == "failed"
    assert deployment.task_states("dep_failure", run_id) == {"load": "failed"}
    [alert] = _texts_to(deployment, "447700901101", wait=30)
    assert alert.startswith("❌ Airflow task failed\n")
    fields = _lines(alert)
    assert fields["DAG"] == "dep_failure" and fields["Task"] == "load"
    assert fields["Run"] == run_id
    assert fields["Try"] == "2 of 2"
    assert fields["Error"] == "ValueError: could not load 42 rows: the warehouse refused the connection"
    assert fields["Log"].startswith(deployment.url + "/"), fields["Log"]  # [api]/[webserver] base_url
    assert _senders(deployment, "447700901101") == {"task"}  # the task's own process


def test_retry_alert_then_failure_alert(deployment: Deployment, runs: dict[str, str]) -> None:
    run_id, _ = _finished(deployment, runs, "dep_failure")
    [retry] = _texts_to(deployment, "447700901102", wait=30)
    assert retry.startswith("🔁 Airflow task failed, will retry\n")
    assert _lines(retry)["Try"] == "1 of 2"
    assert _lines(retry)["Error"].startswith("ValueError: could not load 42 rows")
    [ti] = deployment.task_instances("dep_failure", run_id)
    assert ti["try_number"] == 2


def test_dag_level_failure_callback_reports_the_run(deployment: Deployment, runs: dict[str, str]) -> None:
    run_id, _ = _finished(deployment, runs, "dep_failure")
    # the DAG processor (3.x) or a scheduler (2.11) runs it a little later
    [alert] = _texts_to(deployment, "447700901103", wait=DAG_CALLBACK_WAIT)
    assert alert.startswith("❌ Airflow DAG run failed\n")
    fields = _lines(alert)
    assert fields["DAG"] == "dep_failure" and fields["Run"] == run_id
    assert "undefined" not in alert.lower() and "None" not in alert
    assert _dag_callback_senders(deployment, "447700901103") == {DAG_CALLBACK_PROCESS}


def test_dag_level_and_task_success_callbacks(deployment: Deployment, runs: dict[str, str]) -> None:
    run_id, state = _finished(deployment, runs, "dep_success")
    assert state == "success"
    [task_alert] = _texts_to(deployment, "447700901202", wait=30)
    assert task_alert.startswith("✅ Airflow task succeeded\n") and _lines(task_alert)["Task"] == "extract"
    [dag_alert] = _texts_to(deployment, "447700901201", wait=DAG_CALLBACK_WAIT)
    assert dag_alert.startswith("✅ Airflow DAG run succeeded\n")
    assert _lines(dag_alert)["Run"] == run_id
    assert _dag_callback_senders(deployment, "447700901201") == {DAG_CALLBACK_PROCESS}


def test_execution_timeout_fails_the_task_and_the_alert_says_so(
    deployment: Deployment, runs: dict[str, str]
) -> None:
    run_id, state = _finished(deployment, runs, "dep_timeout")
    assert state == "failed"
    assert deployment.task_states("dep_timeout", run_id) == {"slow": "failed"}
    [alert] = _texts_to(deployment, "447700901301", wait=30)
    assert _lines(alert)["Error"].startswith("AirflowTaskTimeout: "), alert


def test_killed_task_fails_and_what_each_line_alerts(deployment: Deployment, runs: dict[str, str]) -> None:
    """A task process killed with SIGKILL (as by the kernel's OOM killer) mid-run.

    What each line does is documented in the README ("Running in production").
    """
    run_id, state = _finished(deployment, runs, "dep_killed")
    assert state == "failed"
    assert deployment.task_states("dep_killed", run_id) == {"killed": "failed"}
    [dag_alert] = _texts_to(deployment, "447700901402", wait=90)  # DAG-level callback: always sent
    assert dag_alert.startswith("❌ Airflow DAG run failed\n")
    assert _lines(dag_alert)["Run"] == run_id and _lines(dag_alert)["Reason"] == "task_failure"
    time.sleep(5)  # a task-level alert is sent before the run fails; allow for a straggler
    task_alerts = _texts_to(deployment, "447700901401")
    if deployment.line == 3:
        # The supervisor sees the signal and marks the task failed at once; the task's own
        # on_failure_callback would have run in the killed process, so it never runs.
        assert task_alerts == []
        assert "likely out of memory" in deployment.task_log("dep_killed", run_id, "killed").lower()
    else:
        # 2.11: the scheduler finds the task a zombie and runs its failure callback in the DAG
        # file processor, with Airflow's zombie details as the "exception". With two schedulers
        # both may find the same zombie and each runs the callback: Airflow calls it twice.
        most = 2 if deployment.topology == "distributed" else 1
        assert 1 <= len(task_alerts) <= most, task_alerts
        for task_alert in task_alerts:
            assert task_alert.startswith("❌ Airflow task failed\n")
            assert _lines(task_alert)["Error"].startswith("{'DAG Id': 'dep_killed', 'Task Id': 'killed'")
        assert _dag_callback_senders(deployment, "447700901401") == {"scheduler"}


@pytest.mark.skipif(not HAS_DEADLINES, reason="Deadline Alerts arrived in Airflow 3.1")
def test_deadline_alert_is_sent_by_the_triggerer(deployment: Deployment, runs: dict[str, str]) -> None:
    _run_id, state = _finished(deployment, runs, "dep_deadline")
    assert _texts_to(deployment, "447700901501") == ["⏰ dep_deadline is running late"]
    assert state == "success"  # the task saw the alert arrive while it was still running
    assert _senders(deployment, "447700901501") == {"triggerer"}


def _duration(ti: dict[str, Any]) -> float:
    start, end = (
        datetime.fromisoformat(ti[key].replace("Z", "+00:00")) for key in ("start_date", "end_date")
    )
    return (end - start).total_seconds()


@pytest.mark.parametrize("dag_id", ["dep_down", "dep_hang"])
def test_api_down_or_hanging_changes_no_outcome_and_hangs_nothing(
    deployment: Deployment, runs: dict[str, str], dag_id: str
) -> None:
    run_id, state = _finished(deployment, runs, dag_id)
    assert state == "failed"
    assert deployment.task_states(dag_id, run_id) == {
        "still_fine": "success",
        "still_failed": "failed",
        "still_timed_out": "failed",
    }
    for ti in deployment.task_instances(dag_id, run_id):
        assert _duration(ti) < 60, ti  # each alert gives up after its time budget (a few seconds)
    for number in ("447700901601", "447700901602", "447700901603", "447700901604", "447700901605"):
        assert _texts_to(deployment, number) == []
    for task_id in ("still_fine", "still_failed", "still_timed_out"):
        # a callback's lines may reach the log a little after the run has finished (Celery worker)
        deadline = time.monotonic() + 60
        while "was not sent" not in (log := deployment.task_log(dag_id, run_id, task_id)):
            if time.monotonic() > deadline:
                pytest.fail(f"{task_id}: no 'was not sent' in its log: {log[-3000:]}")
            time.sleep(1)
    if dag_id == "dep_hang":  # five alerts (success, retry, failure, time-out, DAG), one request each:
        deadline = time.monotonic() + 60  # a read time-out is never retried (it may have been delivered)
        while deployment.hanging_api.request_count < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert deployment.hanging_api.request_count == 5


@pytest.mark.skipif(not HAS_HUMAN_IN_THE_LOOP, reason="human-in-the-loop operators arrived in Airflow 3.1")
def test_approval_request_arrives_with_its_link_and_the_answer_completes_the_run(
    deployment: Deployment, runs: dict[str, str]
) -> None:
    dag_id, run_id = "example_signal_approval", runs["example_signal_approval"]
    [request] = _texts_to(deployment, "447700900123", wait=RUN_TIMEOUT)
    assert request.startswith("✋ Airflow needs your input\n")
    fields = _lines(request)
    assert (fields["DAG"], fields["Task"], fields["Run"]) == (dag_id, "approve_publish", run_id)
    assert fields["Subject"] == f"Publish the daily report of {run_id}?"
    assert "\n> The report has 42 rows.\n> Approve to publish it" in request  # the rendered body, quoted
    assert fields["Options"] == "Approve, Reject (choose one)"
    assert [value for label, value in fields.items() if label.startswith("If no answer by ")] == ["Reject"]
    link = fields["Respond"]
    assert link.startswith(f"{deployment.url}/dags/{dag_id}/runs/"), link  # [api] base_url: the real UI
    assert link.endswith("/tasks/approve_publish/required_actions?map_index=-1"), link
    with urllib.request.urlopen(link, timeout=30) as page:  # noqa: S310 - the deployment's own UI
        assert page.status == 200

    waiting = deployment.wait_for_task_state(
        dag_id, run_id, "approve_publish", {"awaiting_input", "deferred"}
    )
    assert deployment.task_states(dag_id, run_id)["publish"] in (None, "none", "scheduled")  # gated
    path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/approve_publish/-1/hitlDetails"
    answer = deployment.api("PATCH", path, {"chosen_options": ["Approve"]})
    assert answer["chosen_options"] == ["Approve"], answer

    assert deployment.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT) == "success", waiting
    assert deployment.task_states(dag_id, run_id) == {
        "build_report": "success",
        "approve_publish": "success",
        "publish": "success",
    }
    assert len(_texts_to(deployment, "447700900123")) == 1  # one request, no repeat on resume


@pytest.mark.parametrize(
    "deployment", [pytest.param("distributed", marks=pytest.mark.distributed)], indirect=True
)
def test_a_connection_stored_in_the_metadata_database_is_read_by_the_worker(
    deployment: Deployment, runs: dict[str, str]
) -> None:
    """``signal_stored`` exists only in the metadata database (``airflow connections add``)."""
    run_id, state = _finished(deployment, runs, "dep_stored_connection")
    assert state == "success"
    assert _texts_to(deployment, "447700901701") == [f"stored connection in {run_id}"]  # its default
    [task_alert] = _texts_to(deployment, "447700901702", wait=30)
    assert task_alert.startswith("✅ Airflow task succeeded\n")
    assert _senders(deployment, "447700901701") == _senders(deployment, "447700901702") == {"task"}
    [dag_alert] = _texts_to(deployment, "447700901703", wait=DAG_CALLBACK_WAIT)
    assert dag_alert.startswith("✅ Airflow DAG run succeeded\n")
    assert _dag_callback_senders(deployment, "447700901703") == {DAG_CALLBACK_PROCESS}
    assert "AIRFLOW_CONN_SIGNAL_STORED" not in deployment.env
