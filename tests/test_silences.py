"""Silences: what one matches (pure, the clock passed in), where they are kept (Airflow Variables in
this session's real SQLite metadata database, which ``airflow db clean`` leaves alone), and the
``airflow-signal silence`` command run as a person runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_signal.alerts.silences import Silence, matching, new_silence, parse_duration
from airflow_provider_signal.errors import SignalInputError
from alerts_db import migrate

NOW = datetime(2026, 12, 7, 21, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
COMMAND = Path(sys.executable).with_name("airflow-signal")


def silence(**fields: object) -> Silence:
    made = {"reason": "warehouse upgrade", "author": "alice", "now": NOW, "ends_at": NOW + 2 * HOUR, **fields}
    return new_silence(**made)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "kind", "dag_ids", "tags", "at", "silenced"),
    [
        ({}, "failure", ["etl"], [], NOW, True),
        ({}, "import_error", [], [], NOW, True),  # a file that defines no DAG: every alert
        ({}, "failure", ["etl"], [], NOW + 2 * HOUR, False),  # its end is exclusive
        ({}, "failure", ["etl"], [], NOW - timedelta(seconds=1), False),  # made at NOW: not before
        ({"starts_at": NOW + HOUR}, "failure", ["etl"], [], NOW, False),  # upcoming
        ({"starts_at": NOW + HOUR}, "failure", ["etl"], [], NOW + HOUR, True),
        ({"dag_id_pattern": "warehouse_*"}, "failure", ["warehouse_load"], [], NOW, True),
        ({"dag_id_pattern": "warehouse_*"}, "failure", ["etl"], [], NOW, False),
        ({"dag_id_pattern": "warehouse_*"}, "import_error", [], [], NOW, False),  # names DAGs: a file of none
        (
            {"dag_id_pattern": "warehouse_*"},
            "import_error",
            ["etl", "warehouse_x"],
            [],
            NOW,
            True,
        ),  # a file's DAGs
        ({"tag": "team-data"}, "failure", ["etl"], ["team-data", "daily"], NOW, True),
        ({"tag": "team-data"}, "failure", ["etl"], ["team-ml"], NOW, False),
        ({"kinds": ["failure"]}, "failure", ["etl"], [], NOW, True),
        ({"kinds": ["failure"]}, "recovery", ["etl"], [], NOW, False),
        ({"kinds": ["import_error"]}, "import_error", ["etl"], [], NOW, True),
    ],
)
def test_what_a_silence_matches(
    fields: dict[str, object], kind: str, dag_ids: list[str], tags: list[str], at: datetime, silenced: bool
) -> None:
    assert silence(**fields).matches(kind, dag_ids, tags, at) is silenced


def test_ended_early_it_matches_no_more_and_the_one_ending_last_is_named() -> None:
    short, long = silence(ends_at=NOW + HOUR), silence(ends_at=NOW + 3 * HOUR)
    assert matching([short, long], "failure", ["etl"], [], NOW) == long
    ended = long.ended_early(NOW + timedelta(minutes=5), "bob")
    assert matching([short, ended], "failure", ["etl"], [], NOW + timedelta(minutes=10)) == short
    assert ended.state(NOW + timedelta(minutes=10)) == "ended" and short.state(NOW) == "active"
    assert matching([short, ended], "failure", ["etl"], [], NOW + HOUR) is None


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 501}, "reason: at most 500"),
        ({"author": ""}, "author"),
        ({"ends_at": NOW - HOUR}, "end:"),
        ({"starts_at": NOW + 3 * HOUR}, "end:"),  # ends before it starts
        ({"ends_at": NOW + timedelta(days=31)}, "at most 30 days"),
        ({"kinds": ["failures"]}, "kind: failures is not one of"),
        ({"dag_id_pattern": "d" * 251}, "dag_id / tag"),
    ],
)
def test_a_bad_silence_is_refused_naming_the_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(SignalInputError, match=named):
        silence(**fields)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("4h", 14400), ("1d", 86400), ("1h30m", 5400), ("2 W", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "4", "h", "4 hours", "1h-30m", "9" * 1_000_000 + "h"])
def test_a_bad_duration_is_refused_quickly_and_shortened(text: str) -> None:
    with pytest.raises(SignalInputError) as refused:
        parse_duration(text)
    assert len(str(refused.value)) < 200


def test_a_silence_is_stored_as_it_was_made() -> None:
    made = silence(dag_id_pattern="warehouse_*", tag="team-data", kinds=["failure", "recovery"])
    assert Silence.from_json(made.to_json()) == made
    with pytest.raises(ValueError, match="not a silence"):
        Silence.from_json('{"id": "x"}')


# -- the metadata database -------------------------------------------------------------------------


def _forget_silences() -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_signal.alerts import silence_store

    with create_session() as session:
        stored = delete(Variable).where(Variable.key.like(silence_store.PREFIX + "%"))
        session.execute(stored.execution_options(synchronize_session=False))


@pytest.fixture
def store() -> Iterator[None]:
    """The session's database without silences, before and after: a silence left behind would
    silence other modules' alerts."""
    migrate()
    _forget_silences()
    yield
    _forget_silences()


def test_silences_are_variables_kept_and_ended_under_a_lock(store: None) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import silence_store

    first, second = silence(), silence(tag="team-data")
    with create_session() as session:
        silence_store.save_new(session, first)
    with create_session() as session:
        silence_store.save_new(session, second)
    with create_session() as session:
        assert set(silence_store.load(session)) == {first, second}
        ended = silence_store.end_early(session, first.id, NOW + HOUR, "bob")
    assert (ended.ended_at, ended.ended_by) == (NOW + HOUR, "bob")
    with create_session() as session:
        assert set(silence_store.load(session)) == {ended, second}
        with pytest.raises(LookupError, match="no silence 'nope'"):
            silence_store.end_early(session, "nope", NOW, "bob")
    assert json.loads(Variable.get(silence_store.PREFIX + second.id))["reason"] == "warehouse upgrade"


def test_airflow_db_clean_leaves_silences_alone(store: None) -> None:
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from airflow_provider_signal.alerts import silence_store

    kept = silence()
    with create_session() as session:
        silence_store.save_new(session, kept)
        session.add(Log(event="signal_alert_delivered", owner="signal_alerts"))
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    cleaned = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "db",
            "clean",
            "--clean-before-timestamp",
            future,
            "--yes",
            "--skip-archive",
        ],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    with create_session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Log).where(Log.event == "signal_alert_delivered"))
            == 0
        )
        assert [s.id for s in silence_store.load(session)] == [kept.id]


# -- the command -----------------------------------------------------------------------------------


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMMAND), *args], env=dict(os.environ), capture_output=True, text=True, timeout=300, check=False
    )


def test_silence_add_list_and_expire_from_the_command(store: None) -> None:
    added = command(
        "silence", "add", "--for", "2h", "--dag-id", "warehouse_*", "--kind", "failure", "--reason", "upgrade"
    )
    assert added.returncode == 0, added.stderr
    assert "made: DAGs warehouse_*, failure alerts" in added.stdout
    silence_id = re.search(r"^Silence (\w+) made:", added.stdout, re.MULTILINE)[1]  # type: ignore[index]
    listed = command("silence", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (shown,) = [json.loads(line) for line in listed.stdout.splitlines() if line.startswith('{"')]
    assert (shown["id"], shown["state"], shown["author"], shown["reason"]) == (
        silence_id,
        "active",
        __import__("getpass").getuser(),
        "upgrade",
    )
    expired = command("silence", "expire", silence_id)
    assert expired.returncode == 0 and f"Silence {silence_id} ended" in expired.stdout, expired.stderr
    assert command("silence", "list").stdout.strip() == "No silence is active or upcoming."
    assert silence_id in command("silence", "list", "--all").stdout
    missing = command("silence", "expire", "nope")
    assert missing.returncode == 1 and "no silence 'nope'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["silence", "add", "--reason", "x"], "one of the arguments --for --until is required"),
        (["silence", "add", "--for", "4 hours", "--reason", "x"], "argument --for"),
        (["silence", "add", "--until", "tonight", "--reason", "x"], "argument --until"),
        (["silence", "add", "--for", "1h", "--kind", "warnings", "--reason", "x"], "argument --kind"),
        (["silence", "add", "--for", "40d", "--reason", "x"], "at most 30 days"),
        (["silence", "add", "--for", "1h", "--reason", " "], "reason"),
        (["silence", "frobnicate"], "argument ACTION"),
    ],
)
def test_a_bad_argument_is_a_clear_error_naming_it(args: list[str], named: str, store: None) -> None:
    done = command(*args)
    assert done.returncode == 2 and named in done.stderr, done.stderr


# -- the sender ------------------------------------------------------------------------------------


def test_a_silenced_run_is_recorded_not_sent_and_the_next_one_after_it_alerts(
    store: None, signal_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import records, silence_store
    from airflow_provider_signal.alerts.config import AlertSettings
    from airflow_provider_signal.alerts.events import event_from_dag_run
    from airflow_provider_signal.alerts.sender import AlertSender
    from alerts_db import add_dag, add_run, clean_slate, outcome_rows

    clean_slate()
    now = datetime.now(timezone.utc)
    add_dag("sil_warehouse_load", tags=["team-data"])
    add_dag("sil_other")
    upgrade = new_silence(
        reason="warehouse upgrade", author="alice", now=now, ends_at=now + HOUR, tag="team-data"
    )
    with create_session() as session:
        silence_store.save_new(session, upgrade)
    clock = [now]
    settings = AlertSettings(
        enabled=True, destinations=("447700900999",), group_wait=0, group_interval=0, cooldown=3600
    )
    sender = AlertSender(settings, clock=lambda: clock[0])

    def fail(dag_id: str, run_id: str) -> None:
        run = add_run(dag_id, run_id, "failed", clock[0])
        sender.process(event_from_dag_run("failure", run, "task_failure"))

    fail("sil_warehouse_load", "run_1")
    fail("sil_other", "run_1")  # not matched: sent
    assert [m.text.split("\n")[1] for m in signal_api.messages] == ["DAG: sil_other"]
    assert outcome_rows("sil_warehouse_load") == [(records.SILENCED, "run_1")]
    assert any(
        f"silenced by 'warehouse upgrade' (silence {upgrade.id} by alice" in r.getMessage()
        for r in caplog.records
    )
    with create_session() as session:
        silence_store.end_early(session, upgrade.id, clock[0] + timedelta(minutes=5), "bob")
    clock[0] += timedelta(minutes=10)
    fail("sil_warehouse_load", "run_2")  # the silence is over, and a silenced run started no cooldown
    assert sum("DAG: sil_warehouse_load" in m.text for m in signal_api.messages) == 1
    assert outcome_rows("sil_warehouse_load")[-1] == (records.DELIVERED["failure"], "run_2")


def test_when_a_silence_ends_each_route_hears_once_what_it_kept_quiet(store: None, signal_api: Any) -> None:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import silence_store
    from airflow_provider_signal.alerts.config import AlertSettings
    from airflow_provider_signal.alerts.events import event_from_dag_run
    from airflow_provider_signal.alerts.sender import AlertSender
    from alerts_db import add_dag, add_run, clean_slate

    clean_slate()
    now = datetime.now(timezone.utc)
    add_dag("sum_orders", tags=["team-data"])
    add_dag("sum_ledger", tags=["team-data"])
    add_dag("sum_misc")
    upgrade = new_silence(
        reason="warehouse upgrade", author="alice", now=now, ends_at=now + HOUR, dag_id_pattern="sum_*"
    )
    quiet = new_silence(
        reason="nothing happened", author="carol", now=now, ends_at=now + HOUR, dag_id_pattern="none_*"
    )
    with create_session() as session:
        silence_store.save_new(session, upgrade)
        silence_store.save_new(session, quiet)
    clock = [now]
    settings = AlertSettings(
        enabled=True,
        destinations=("447700900999",),
        routes={"team-data": ("447700900111",)},
        group_wait=0,
        group_interval=0,
        cooldown=0,
    )
    sender = AlertSender(settings, clock=lambda: clock[0])

    def fail(dag_id: str, run_id: str, state: str = "failed") -> None:
        clock[0] += timedelta(seconds=1)
        run = add_run(dag_id, run_id, state, clock[0])
        sender.process(event_from_dag_run("failure", run, "task_failure"))

    for number in range(3):
        fail("sum_orders", f"run_{number}")
    fail("sum_ledger", "run_0")
    fail("sum_misc", "run_0")
    add_run("sum_ledger", "run_1", "success", clock[0] + timedelta(seconds=2))  # ledger is fine again
    assert signal_api.messages == []
    sender.sweep()
    assert signal_api.messages == []  # still silenced: no summary yet
    clock[0] += timedelta(minutes=2)
    with create_session() as session:
        silence_store.end_early(session, upgrade.id, clock[0], "bob")
        silence_store.end_early(session, quiet.id, clock[0], "bob")
    clock[0] += timedelta(seconds=1)
    sender.sweep()
    by_number = {m.destination: m.text for m in signal_api.messages}
    assert set(by_number) == {"447700900111", "447700900999"}  # one per route; none for the quiet one
    team = by_number["447700900111"]
    assert team.startswith("🔕 Silence over: 'warehouse upgrade'\nDuring the silence 'warehouse upgrade' (")
    assert "by alice; ended early by bob): 4 failed runs of 2 DAGs; 1 still failing" in team
    assert "Still failing: sum_orders" in team and "sum_misc" not in team
    assert "1 failed run of 1 DAG; 1 still failing" in by_number["447700900999"]
    sender.sweep()
    clock[0] += timedelta(minutes=5)
    sender.sweep()
    assert len(signal_api.messages) == 2  # once
