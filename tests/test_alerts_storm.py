"""Storm control against a real SQLite metadata database (``airflow db migrate``): one alert
per DAG per cooldown, held-back runs counted by the next alert, never two alerts for a run,
recovery after a failure alert, and the state kept only in the database (a restart keeps it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from airflow_provider_signal.alerts import storm
from airflow_provider_signal.alerts.listener import event_from_dag_run
from airflow_provider_signal.alerts.message import RunEvent
from alerts_db import T0, add_dag, add_run, alert_rows, migrate

HOUR = 3600.0


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate()


def failed(dag_id: str, n: int, minute: float) -> RunEvent:
    run = add_run(dag_id, f"run_{n}", "failed", T0 + timedelta(minutes=minute))
    return event_from_dag_run("failure", run, "task_failure")


def succeeded(dag_id: str, n: int, minute: float) -> RunEvent:
    run = add_run(dag_id, f"run_{n}", "success", T0 + timedelta(minutes=minute))
    return event_from_dag_run("success", run, "success")


def claim(event: RunEvent, cooldown: float = HOUR) -> storm.Decision:
    from airflow.utils.session import create_session

    with create_session() as session:
        if event.kind == "failure":
            return storm.claim_failure(session, event, cooldown)
        return storm.claim_recovery(session, event)


def test_the_first_failure_alerts_and_the_same_run_never_alerts_twice() -> None:
    add_dag("storm_first")
    event = failed("storm_first", 1, 0)
    first = claim(event)
    assert first.send and first.held == 0 and first.last_alert_at is None
    # apache/airflow#55299: a run that hits dagrun_timeout reports its failure twice
    again = claim(event, cooldown=0)
    assert not again.send and again.why == "this run was already alerted"
    assert alert_rows("storm_first") == [(storm.FAILURE_EVENT, "run_1")]


def test_ten_failures_inside_the_cooldown_give_one_alert_and_the_next_counts_the_rest() -> None:
    add_dag("storm_ten")
    decisions = [claim(failed("storm_ten", n, minute=n)) for n in range(10)]
    assert [d.send for d in decisions] == [True] + [False] * 9
    assert "held back by the cooldown" in decisions[5].why
    after = claim(failed("storm_ten", 10, minute=61))
    assert after.send and after.held == 9 and after.last_alert_at is not None
    assert alert_rows("storm_ten") == [(storm.FAILURE_EVENT, "run_0"), (storm.FAILURE_EVENT, "run_10")]
    # and the count starts again from that alert
    assert not claim(failed("storm_ten", 11, minute=62)).send
    assert claim(failed("storm_ten", 12, minute=125)).held == 1


def test_cooldown_zero_alerts_every_failed_run() -> None:
    add_dag("storm_zero")
    assert all(claim(failed("storm_zero", n, minute=n), cooldown=0).send for n in range(3))


def test_cooldowns_are_per_dag() -> None:
    add_dag("storm_a")
    add_dag("storm_b")
    assert claim(failed("storm_a", 1, 0)).send
    assert claim(failed("storm_b", 1, 1)).send


def test_recovery_follows_a_failure_alert_once() -> None:
    add_dag("storm_recovery")
    assert not claim(succeeded("storm_recovery", 0, 0)).send  # nothing to recover from
    assert claim(failed("storm_recovery", 1, 1)).send
    assert not claim(failed("storm_recovery", 2, 2)).send  # held
    recovered = claim(succeeded("storm_recovery", 3, 3))
    assert recovered.send and recovered.held == 1
    assert not claim(succeeded("storm_recovery", 4, 4)).send
    assert [event for event, _ in alert_rows("storm_recovery")] == [storm.FAILURE_EVENT, storm.RECOVERY_EVENT]


def test_no_recovery_when_the_previous_run_succeeded() -> None:
    add_dag("storm_flaky")
    assert claim(failed("storm_flaky", 1, 0)).send
    add_run("storm_flaky", "run_2", "success", T0 + timedelta(minutes=1))  # recovery not enabled then
    assert claim(succeeded("storm_flaky", 3, 2)).why == "the previous run did not fail"


def test_the_state_lives_in_the_database_so_a_restarted_process_keeps_it(tmp_path: Path) -> None:
    add_dag("storm_restart")
    assert claim(failed("storm_restart", 1, 0)).send
    held = failed("storm_restart", 2, 5)
    later = failed("storm_restart", 3, 70)
    script = tmp_path / "fresh_process.py"
    script.write_text(
        "import json, sys\n"
        "from datetime import datetime\n"
        "from airflow.utils.session import create_session\n"
        "from airflow_provider_signal.alerts import storm\n"
        "from airflow_provider_signal.alerts.message import RunEvent\n"
        "out = []\n"
        "for run_id, end in json.loads(sys.argv[1]):\n"
        "    event = RunEvent('failure', 'storm_restart', run_id, end_date=datetime.fromisoformat(end))\n"
        "    with create_session() as session:\n"
        "        d = storm.claim_failure(session, event, 3600)\n"
        "    out.append([d.send, d.held])\n"
        "print(json.dumps(out))\n"
    )
    runs = json.dumps([[e.run_id, e.end_date.isoformat()] for e in (held, later)])  # type: ignore[union-attr]
    result = subprocess.run(
        [sys.executable, str(script), runs], env=dict(os.environ), capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [[False, 0], [True, 1]]


def test_tags_and_failed_tasks_are_read_from_the_database() -> None:
    from airflow.utils.session import create_session

    add_dag("storm_tags", tags=["team-a", "signal_alerts:mute"])
    with create_session() as session:
        assert sorted(storm.dag_tags(session, "storm_tags")) == ["signal_alerts:mute", "team-a"]
        assert storm.dag_tags(session, "no_such_dag") == []
        assert storm.failed_tasks(session, "storm_tags", "no_run") == ([], 0)


def test_a_cleared_run_that_fails_again_alerts_again() -> None:
    from dataclasses import replace

    add_dag("storm_cleared")
    event = failed("storm_cleared", 1, 0)
    assert claim(event).send
    assert event.end_date is not None
    rerun = replace(event, clear_number=1, end_date=event.end_date + timedelta(hours=2))
    assert claim(rerun).send
    assert not claim(rerun).send
