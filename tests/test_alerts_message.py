"""The alert texts: what an on-call engineer needs, shortened but never dropped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_signal.alerts.message import (
    FailedTask,
    RunEvent,
    RunReport,
    failure_text,
    reason,
    recovery_text,
    run_url,
)
from airflow_provider_signal.notifications.alert_text import SHORTENED_MARKER

START = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)


def event(**changes: object) -> RunEvent:
    values: dict[str, object] = dict(
        kind="failure",
        dag_id="nightly_etl",
        run_id="scheduled__2026-03-01T00:00:00+00:00",
        run_type="scheduled",
        logical_date=datetime(2026, 3, 1, tzinfo=timezone.utc),
        start_date=START,
        end_date=START + timedelta(minutes=4, seconds=5),
        msg="task_failure",
    )
    values.update(changes)
    return RunEvent(**values)  # type: ignore[arg-type]


def test_a_failed_run_names_everything_an_on_call_engineer_needs() -> None:
    report = RunReport(
        event(),
        failed_tasks=[FailedTask("extract", 2), FailedTask("load", 1, map_index=3)],
        upstream_failed=4,
        run_url="http://airflow.example/dags/nightly_etl/runs/x",
    )
    assert failure_text(report) == "\n".join(
        [
            "❌ Airflow DAG run failed",
            "DAG: nightly_etl",
            "Run: scheduled__2026-03-01T00:00:00+00:00",
            "Run type: scheduled",
            "Logical date: 2026-03-01T00:00:00+00:00",
            "Duration: 4 min 5 s",
            "Reason: a task failed",
            "Failed tasks: extract (try 2), load[3] (try 1)",
            "Upstream failed: 4",
            "Link: http://airflow.example/dags/nightly_etl/runs/x",
        ]
    )


def test_a_handful_of_failed_tasks_then_and_n_more() -> None:
    tasks = [FailedTask(f"t{i}", 1) for i in range(12)]
    text = failure_text(RunReport(event(), failed_tasks=tasks), max_tasks=3)
    assert "Failed tasks: t0 (try 1), t1 (try 1), t2 (try 1) and 9 more" in text


def test_runs_without_a_logical_date_or_run_type_leave_those_lines_out() -> None:
    text = failure_text(RunReport(event(logical_date=None, run_type=None)))
    assert "Logical date" not in text and "Run type" not in text
    assert "DAG: nightly_etl" in text


def test_held_back_runs_are_counted() -> None:
    last = datetime(2026, 3, 1, 5, 0, tzinfo=timezone.utc)
    text = failure_text(RunReport(event(), held=9, last_alert_at=last))
    assert (
        "Also: 9 earlier failed runs of this DAG since the last alert (last alert 2026-03-01T05:00:00+00:00)"
        in text
    )
    assert "1 earlier failed run of" in failure_text(RunReport(event(), held=1))


def test_why_the_run_failed() -> None:
    assert reason(RunReport(event(msg="timed_out"))) == "dagrun_timeout exceeded"
    assert "Reason: dagrun_timeout exceeded (1 h 0 min 0 s)" in failure_text(
        RunReport(event(msg="timed_out", dagrun_timeout=3600.0))
    )
    # Airflow 2.11 says nothing: a run as long as its dagrun_timeout, without failed tasks, timed out.
    assert reason(RunReport(event(msg="", dagrun_timeout=60.0))) == "dagrun_timeout exceeded"
    assert reason(RunReport(event(msg=""), failed_tasks=[FailedTask("a", 1)])) == "a task failed"
    manual = event(msg="Dag Run's state was manually set to `failed`.")
    assert manual.manual and reason(RunReport(manual)) == "marked failed by hand"
    assert reason(RunReport(event(msg="all_tasks_deadlocked"))).startswith("no task could run")


def test_a_long_message_is_shortened_with_a_marker_never_dropped() -> None:
    tasks = [FailedTask("x" * 240, 1) for _ in range(5)]
    report = RunReport(event(dag_id="d" * 250), failed_tasks=tasks, run_url="http://a/" + "r" * 300)
    text = failure_text(report, limit=500)
    assert len(text) == 500 and text.endswith(SHORTENED_MARKER)
    assert text.startswith("❌ Airflow DAG run failed\nDAG: ddd")
    full = failure_text(report)
    assert "Link: http://a/" in full  # the task line is cut first, so the link stays
    assert len(full) <= 2000


def test_recovery_text() -> None:
    text = recovery_text(RunReport(event(kind="recovery", msg="success"), held=2, run_url="http://a/r"))
    assert text.splitlines()[0] == "✅ Airflow DAG recovered"
    assert "DAG: nightly_etl" in text and "Also: 2 earlier failed runs" in text and "Link: http://a/r" in text


def test_links_to_the_run_on_each_line() -> None:
    run_id = "manual__2026-03-01T00:00:00+00:00"
    assert run_url("http://h:8080/", "etl", run_id, 3) == (
        "http://h:8080/dags/etl/runs/manual__2026-03-01T00%3A00%3A00%2B00%3A00"
    )
    assert run_url("http://h:8080", "etl", run_id, 2) == (
        "http://h:8080/dags/etl/grid?dag_run_id=manual__2026-03-01T00%3A00%3A00%2B00%3A00"
    )
    assert run_url("", "etl", run_id, 3) is None
