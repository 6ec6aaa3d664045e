"""The alert texts: what an on-call engineer needs, shortened but never dropped."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_long_message_is_shortened_in_the_middle_with_a_marker_never_dropped() -> None:
    tasks = [FailedTask("x" * 240, 1) for _ in range(5)]
    link = "http://a/" + "r" * 300
    report = RunReport(event(dag_id="d" * 250), failed_tasks=tasks, run_url=link)
    text = failure_text(report, limit=500)
    assert len(text) <= 500 and SHORTENED_MARKER in text
    assert text.startswith("❌ Airflow DAG run failed\nDAG: ddd")
    assert text.splitlines()[-1] == f"Link: {link}"  # the link is kept whole, the middle is cut
    assert "Failed tasks: 5 tasks" in text  # fewer tasks named, the count kept
    full = failure_text(report)
    assert f"Link: {link}" in full and "and 1 more" in full
    assert len(full) <= 2000


RUN_ID = "scheduled__2026-03-01T00:00:00+00:00"
NON_LATIN_DAG = "日次集計パイプライン_" * 25  # 275 characters, over 2,000 once URL-encoded


def link_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Link:")]


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=60, max_value=3000), held=st.integers(0, 12), tasks=st.integers(0, 40))
def test_shortening_keeps_the_link_whole_or_leaves_it_out_and_never_cuts_a_count(
    limit: int, held: int, tasks: int
) -> None:
    link = run_url("https://airflow.example.com", NON_LATIN_DAG[: limit // 3], RUN_ID, 3)
    assert link is not None
    failed = [FailedTask(f"task_{n}_" + "t" * 30, 1) for n in range(tasks)]
    report = RunReport(
        event(dag_id=NON_LATIN_DAG[: limit // 3]), failed_tasks=failed, held=held, run_url=link
    )
    for text in (failure_text(report, limit=limit, max_tasks=10), recovery_text(report, limit=limit)):
        assert len(text) <= limit
        assert link_lines(text) in ([], [f"Link: {link}"])  # never half a URL
        also = [line for line in text.splitlines() if line.startswith("Also:")]
        if held:
            assert also == [] or also[0].startswith(f"Also: {held} earlier failed run")
        for line in text.splitlines():
            if line.startswith("Failed tasks:"):
                named = 0 if line.endswith(" tasks") and " and " not in line else line.count("(try 1)")
                more = re.search(r" and (\d+) more$", line)
                counted = int(more.group(1)) if more else (tasks if named == 0 else 0)
                assert named + counted == tasks, line


def test_a_non_latin_dag_id_at_the_default_limit_keeps_the_count_lines_and_no_half_link() -> None:
    link = run_url("https://airflow.example.com", NON_LATIN_DAG, RUN_ID, 3)
    assert link is not None and len(link) > 2000
    tasks = [FailedTask(f"load_{n}", 1) for n in range(8)]
    report = RunReport(event(dag_id=NON_LATIN_DAG), failed_tasks=tasks, held=3, run_url=link)
    text = failure_text(report)
    assert len(text) <= 2000
    assert "%E6" not in text  # the link is too long to keep whole: it is left out, not cut
    assert (
        "Failed tasks: load_0 (try 1), load_1 (try 1), load_2 (try 1), load_3 (try 1), "
        "load_4 (try 1) and 3 more" in text
    )
    assert "Also: 3 earlier failed runs of this DAG since the last alert" in text
    assert f"DAG: {NON_LATIN_DAG}" in text  # 275 characters fit


def test_a_low_limit_keeps_the_headline_the_dag_the_counts_and_a_whole_link() -> None:
    link = "https://airflow.example.com/dags/etl/runs/r1"
    tasks = [FailedTask("extract_orders_from_the_warehouse", 1) for _ in range(3)]
    report = RunReport(event(dag_id="etl"), failed_tasks=tasks, held=2, run_url=link)
    text = failure_text(report, limit=200)
    assert len(text) <= 200
    assert text.startswith("❌ Airflow DAG run failed\nDAG: etl\n")
    assert f"Link: {link}" in text
    assert "Also: 2 earlier failed runs" in text
    assert re.search(r"Failed tasks: .*(and \d more|3 tasks)", text)


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
