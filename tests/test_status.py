"""``airflow-signal status``: what the alerting is doing, read from the rows the pipeline wrote.

Real rows, made by the real pipeline against the emulator and a real SQLite metadata database: a
delivered alert, a run held back by its DAG's cooldown, a notice waiting after a 503, a DAG file's
notice, a silence. Then the same status read in-process and through the installed command.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_signal.alerts import file_notices, outbox, owners, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.import_text import FileReport
from airflow_provider_signal.alerts.kinds import FAILURE, IMPORT_ERROR
from airflow_provider_signal.alerts.pipeline import Pipeline
from airflow_provider_signal.alerts.silences import new_silence
from airflow_provider_signal.alerts.status import as_text, read_status, to_json
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import T0, add_dag, add_run, clean_slate, forget, migrate

COMMAND = Path(sys.executable).with_name("airflow-signal")
ONCALL = "447700900999"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    """No runs, alert rows or silences before and after: the outbox and silences are read whole."""
    migrate()
    clean_slate()
    forget("st_")
    yield
    clean_slate()
    forget("st_")


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def made_rows(signal_api: SignalAPIEmulator) -> tuple[AlertSettings, Clock, str]:
    """A delivered alert and a held-back run of st_loads, a notice of st_down waiting after a 503, a
    broken file's notice not yet due, and an active silence; the silence's id."""
    from airflow.utils.session import create_session

    settings = AlertSettings(
        enabled=True, destinations=(ONCALL,), group_wait=0, group_interval=0, send_retries=0, send_timeout=2
    )
    clock = Clock(T0 + timedelta(minutes=1))
    pipeline = Pipeline(settings, clock, lambda: owners.this_process(None))
    add_dag("st_loads")
    add_dag("st_down")
    pipeline.take(event_from_dag_run(FAILURE, add_run("st_loads", "r1", "failed", T0), ""))
    pipeline.flush()
    assert len(signal_api.messages) == 1
    pipeline.take(
        event_from_dag_run(FAILURE, add_run("st_loads", "r2", "failed", T0 + timedelta(seconds=20)), "")
    )
    signal_api.fail_next(1, status=503)
    pipeline.take(
        event_from_dag_run(FAILURE, add_run("st_down", "r3", "failed", T0 + timedelta(seconds=30)), "")
    )
    pipeline.flush()
    upgrade = new_silence(
        reason="warehouse upgrade", author="alice", now=clock.now, ends_at=clock.now + timedelta(hours=2)
    )
    with create_session() as session:
        outbox.queue(
            session,
            file_notices.subject(4242, IMPORT_ERROR, clock.now),
            clock.now,
            recipients=(),
            due=clock.now + timedelta(minutes=5),
            file=FileReport("team/orders.py", error="SyntaxError: invalid syntax"),
        )
        silence_store.save_new(session, upgrade)
    return settings, clock, upgrade.id


def test_the_status_shows_what_waits_what_was_sent_what_cools_down_and_the_silences(
    signal_api: SignalAPIEmulator,
) -> None:
    from airflow.utils.session import create_session

    settings, clock, silence_id = made_rows(signal_api)
    with create_session() as session:
        status = read_status(session, settings, clock.now)
    [down, broken] = status.pending  # by when they are due
    assert (down.what, down.kind, down.tries) == ("DAG 'st_down' run 'r3'", "failure", 1)
    assert "HTTP 503" in down.cause
    assert (broken.what, broken.kind, broken.tries) == (
        "DAG file 'team/orders.py' (broken)",
        "import_error",
        0,
    )
    assert [(r.outcome, r.what, r.kind) for r in status.recent] == [
        ("delivered", "DAG 'st_loads' run 'r1'", "failure")
    ]
    [loads] = status.cooling
    assert (loads.dag_id, loads.held) == ("st_loads", 1)
    assert loads.until - loads.alerted_at == timedelta(seconds=settings.cooldown)
    assert [s.id for s in status.silences] == [silence_id]
    text = "\n".join(as_text(status))
    assert "Waiting in the outbox: 2" in text and "1 attempt(s) failed (last: " in text
    assert "DAG 'st_loads': alerted " in text and "1 run(s) held back" in text
    assert f"  {silence_id}  active  " in text and "'warehouse upgrade' by alice" in text
    assert json.loads(json.dumps(to_json(status)))["silences"][0]["state"] == "active"


def test_the_command_prints_the_status_as_text_and_as_json(signal_api: SignalAPIEmulator) -> None:
    _, _, silence_id = made_rows(signal_api)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(COMMAND), "status", *args], capture_output=True, text=True, timeout=300)

    shown = command("--json")
    assert shown.returncode == 0, shown.stderr
    [line] = [line for line in shown.stdout.splitlines() if line.startswith('{"at"')]  # 2.11 may log here too
    body = json.loads(line)
    assert [p["what"] for p in body["pending"]] == [
        "DAG 'st_down' run 'r3'",
        "DAG file 'team/orders.py' (broken)",
    ]
    assert [(r["outcome"], r["what"]) for r in body["recent"]] == [("delivered", "DAG 'st_loads' run 'r1'")]
    assert [(c["dag_id"], c["held"]) for c in body["cooling"]] == [("st_loads", 1)]
    assert [(s["id"], s["author"], s["state"]) for s in body["silences"]] == [(silence_id, "alice", "active")]
    text = command()
    assert text.returncode == 0, text.stderr
    assert "Waiting in the outbox: 2" in text.stdout and "Inside their cooldown: 1" in text.stdout
