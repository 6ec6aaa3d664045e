"""The example DAGs parse with Airflow's DagBag, with no connection and no HTTP at parse time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "example_dags"


@pytest.fixture
def dagbag(signal_api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("AIRFLOW_CONN_SIGNAL_DEFAULT")  # parsing must not need a connection
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=str(EXAMPLES))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES=False


def test_example_dags_import_without_errors(dagbag: Any, signal_api: Any) -> None:
    assert dagbag.import_errors == {}
    assert {"example_signal_alerts", "example_signal_send"} <= set(dagbag.dag_ids)
    assert signal_api.request_count == 0
    assert signal_api.connection_count == 0


def test_alert_example_wires_success_and_failure_callbacks(dagbag: Any) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    def first(callbacks: Any) -> Any:  # Airflow 3 keeps a list, 2.11 the callable itself
        return callbacks[0] if isinstance(callbacks, list) else callbacks

    dag = dagbag.dags["example_signal_alerts"]
    extract, load = dag.get_task("extract"), dag.get_task("load")
    assert isinstance(first(extract.on_success_callback), SignalNotifier)
    assert first(extract.on_success_callback).kind == "success"
    assert first(load.on_failure_callback).kind == "failure"
    assert first(dag.on_failure_callback).kind == "failure"


def test_send_example_uses_the_operator_with_several_recipients(dagbag: Any) -> None:
    from airflow_provider_signal.operators.signal import SignalSendOperator

    task = dagbag.dags["example_signal_send"].get_task("report")
    assert isinstance(task, SignalSendOperator)
    assert len(task.destinations) >= 2
    assert "{{" in task.text


def test_approval_example_gates_publish_on_an_approval_with_a_signal_notifier(dagbag: Any) -> None:
    from airflow_provider_signal.notifications.signal import SignalNotifier

    if "example_signal_approval" not in dagbag.dag_ids:
        try:
            import airflow.providers.standard.operators.hitl as hitl
        except Exception:  # ImportError; on Airflow 3.0 AirflowOptionalProviderFeatureException
            pytest.skip("HITL needs Airflow 3.1+")
        pytest.fail(f"example_signal_approval missing although {hitl.__name__} imports")
    dag = dagbag.dags["example_signal_approval"]
    approve = dag.get_task("approve_publish")
    assert type(approve).__name__ == "ApprovalOperator"
    [notifier] = approve.notifiers
    assert isinstance(notifier, SignalNotifier) and notifier.text is None  # the default "input needed" text
    assert approve.downstream_task_ids == {"publish"}
