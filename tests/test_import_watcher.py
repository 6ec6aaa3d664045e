"""The import-error watcher's sweep and the outbox that sends its notices, in-process, against the
emulator and a real SQLite metadata database: what the DAG processor writes in ``import_error``
becomes one message per breakage, change and fix; a send that certainly failed is retried, one
that may have arrived is sent once more marked and never a third time; a notice whose scheduler
died is sent by the next flush; files share their group's ``group_interval``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_signal.alerts import file_notices, outbox, owners
from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.import_watcher import ImportErrorWatcher
from airflow_provider_signal.alerts.pipeline import Pipeline
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import AIRFLOW_3, T0, migrate

ONCALL = "447700900999"
TEAM = "447700900111"
BUNDLE = "dags-folder" if AIRFLOW_3 else ""
TRACE = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'


@pytest.fixture(scope="module", autouse=True)
def metadata_db() -> None:
    migrate()


def _path(name: str) -> str:
    """As Airflow stores it: relative to the bundle on Airflow 3, absolute on 2.11."""
    if AIRFLOW_3:
        return name
    from airflow.configuration import conf

    return os.path.join(os.path.abspath(conf.get("core", "dags_folder")), name)


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    def wipe() -> None:
        with create_session() as session:
            for statement in (
                delete(ie._import_error_model()),
                delete(Log).where(Log.event.in_(ie.IMPORT_EVENTS)),
                delete(Log).where(Log.run_id.like(f"{file_notices.RUN_PREFIX}%")),
                delete(DagTag).where(DagTag.dag_id.like("imp_%")),
                delete(DagModel).where(DagModel.dag_id.like("imp_%")),
            ):
                session.execute(statement.execution_options(synchronize_session=False))

    wipe()
    yield
    wipe()


def add_dag(dag_id: str, file: str, tags: tuple[str, ...] = ()) -> None:
    from airflow.models.dag import DagModel, DagTag
    from airflow.utils.session import create_session

    with create_session() as session:
        if AIRFLOW_3:
            from airflow.models.dagbundle import DagBundleModel

            if session.get(DagBundleModel, BUNDLE) is None:
                session.add(DagBundleModel(name=BUNDLE))
                session.flush()
            dag = DagModel(dag_id=dag_id, bundle_name=BUNDLE, fileloc=f"/dags/{file}")
            dag.relative_fileloc = file
        else:
            dag = DagModel(dag_id=dag_id, fileloc=_path(file))
        session.add(dag)
        session.flush()
        for tag in tags:
            session.add(DagTag(name=tag, dag_id=dag_id))


def set_error(file: str, last_line: str | None) -> None:
    """What the DAG processor does: a row per failing file, rewritten at each parse, deleted when fixed."""
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    model = ie._import_error_model()
    with create_session() as session:
        gone = delete(model).where(model.filename == _path(file))
        session.execute(gone.execution_options(synchronize_session=False))
        if last_line is not None:
            fields: dict[str, Any] = {"filename": _path(file), "stacktrace": TRACE + last_line + "\n"}
            if AIRFLOW_3:
                fields["bundle_name"] = BUNDLE
            session.add(model(timestamp=T0, **fields))


def decisions() -> list[dict[str, Any]]:
    """The watcher's decision rows, oldest first."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        extras = session.scalars(
            select(Log.extra).where(Log.event.in_(ie.IMPORT_EVENTS)).order_by(Log.id)
        ).all()
    return [json.loads(extra) for extra in extras]


def outbox_rows(file: str) -> list[str]:
    """The events of the outbox rows of ``file``'s notices, oldest first."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(Log.event, Log.run_id, Log.extra).where(Log.run_id.like(f"{file_notices.RUN_PREFIX}%"))
        rows = session.execute(query.order_by(Log.id)).all()
    ours = {row.run_id for row in rows if (json.loads(row.extra).get("file") or {}).get("path") == file}
    return [row.event for row in rows if row.run_id in ours]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Alerts:
    """A scheduler's two threads, one step each: the watcher's sweep, then the sender's flush."""

    def __init__(self, settings: AlertSettings, api: SignalAPIEmulator) -> None:
        self.clock = Clock()
        self.api = api
        self.watcher = ImportErrorWatcher(settings, clock=self.clock)
        self.pipeline = Pipeline(settings, self.clock, lambda: owners.this_process(None))

    def step(self, seconds: float = 0) -> int:
        """Advance the clock, sweep, flush; the messages delivered."""
        self.clock.advance(seconds)
        before = len(self.api.messages)
        self.watcher.sweep()
        self.pipeline.flush()
        return len(self.api.messages) - before


@pytest.fixture
def alerts(signal_api: SignalAPIEmulator) -> Callable[..., Alerts]:
    def build(**settings: Any) -> Alerts:
        values: dict[str, Any] = {
            "enabled": True,
            "destinations": (ONCALL,),
            "routes": {"team-data": (TEAM,)},
            "send_retries": 0,
            "send_timeout": 2,
            "import_error_window": 0,
            "group_interval": 0,
        }
        values.update(settings)
        return Alerts(AlertSettings(**values), signal_api)

    return build


def test_one_message_per_breakage_change_and_fix(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    add_dag("imp_orders", "orders.py", tags=("team-data",))
    scheduler = alerts()
    set_error("orders.py", "ModuleNotFoundError: No module named 'x'")
    assert scheduler.step() == 1
    for _ in range(3):  # re-parsed with the same error
        set_error("orders.py", "ModuleNotFoundError: No module named 'x'")
        assert scheduler.step(10) == 0
    set_error("orders.py", "NameError: name 'y' is not defined")
    assert scheduler.step(10) == 1
    set_error("orders.py", None)
    assert scheduler.step(100) == 1
    assert scheduler.step() == 0
    broken, changed, fixed = signal_api.messages
    assert {m.destination for m in signal_api.messages} == {TEAM}
    assert broken.text.startswith("❌ Airflow DAG file broken\nFile: orders.py")
    assert (
        "DAGs: imp_orders" in broken.text and "Error: ModuleNotFoundError: No module named 'x'" in broken.text
    )
    assert "New error: NameError: name 'y' is not defined" in changed.text
    assert fixed.text.startswith("✅ Airflow DAG file fixed\nFile: orders.py")
    assert "Broken for: 2 min 20 s" in fixed.text  # 30 s of re-parses, 10 s, 100 s
    assert [(r["kind"], r["delivered"]) for r in decisions()] == [
        ("broken", "queued"),
        ("changed", "queued"),
        ("fixed", "queued"),
    ]
    delivered = ["signal_alert_queued", "signal_alert_attempt", "signal_import_delivered"]
    assert outbox_rows("orders.py") == delivered * 3


def test_files_broken_within_the_window_make_one_message(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    scheduler = alerts(import_error_window=20)
    set_error("a.py", "RuntimeError: helper broken")
    assert scheduler.step() == 0
    set_error("b.py", "RuntimeError: helper broken")
    assert scheduler.step(10) == 0
    assert scheduler.step(10) == 1
    [message] = signal_api.messages
    assert message.text.startswith("❌ Airflow DAG file broken: 2 files\n")
    assert "File: a.py" in message.text and "File: b.py" in message.text
    assert message.destination == ONCALL  # no DAG known: the default recipients


def test_news_for_the_same_recipients_waits_for_the_groups_interval_and_then_goes_out_together(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    scheduler = alerts(group_interval=60)
    set_error("a.py", "RuntimeError: one")
    assert scheduler.step() == 1
    set_error("b.py", "RuntimeError: two")
    assert scheduler.step(10) == 0  # 10 s after the group's last message
    set_error("c.py", "RuntimeError: three")
    assert scheduler.step(10) == 0
    set_error("a.py", None)  # a fix is another group (kind): not held by the broken files' interval
    assert scheduler.step(10) == 1
    assert scheduler.step(29) == 0
    assert scheduler.step(1) == 1  # 60 s after the first
    first, fixed, later = signal_api.messages
    assert "File: a.py" in first.text and fixed.text.startswith("✅ Airflow DAG file fixed\nFile: a.py")
    assert later.text.startswith("❌ Airflow DAG file broken: 2 files\n")
    assert "File: b.py" in later.text and "File: c.py" in later.text


def test_an_import_error_alert_masks_credentials_in_the_error_and_keeps_its_link(
    signal_api: SignalAPIEmulator,
    alerts: Callable[..., Alerts],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for section in ("API", "WEBSERVER"):  # [api] base_url on 3.x, [webserver] on 2.11
        monkeypatch.setenv(f"AIRFLOW__{section}__BASE_URL", "http://host:8080")
    scheduler = alerts()
    set_error(
        "creds.py",
        "OperationalError: could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; "
        "token=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    )
    assert scheduler.step() == 1
    [message] = signal_api.messages
    lines = message.text.splitlines()
    assert (
        "Error: OperationalError: could not connect to postgresql://etl:***@db.internal:5432/warehouse; "
        "token=***" in lines
    )
    assert "S3cr3t-pw" not in message.text and "ghp_" not in message.text
    assert lines[-1] in ("Import errors: http://host:8080/dags", "Import errors: http://host:8080/home")


def test_an_import_error_is_redacted_before_it_is_cut_to_its_line(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    from airflow_provider_signal import _compat

    secret = "Qz7-Secret-0123456789abcdef"
    _compat.mask_secret(secret)  # a value Airflow's masker knows (a connection the file read)
    scheduler = alerts()
    set_error("long.py", "RuntimeError: " + "x" * 260 + secret)  # the line is cut (at 300) inside it
    assert scheduler.step() == 1
    [message] = signal_api.messages
    for size in range(6, len(secret) + 1):
        assert secret[:size] not in message.text


def test_a_muted_file_is_recorded_and_not_sent(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    add_dag("imp_scratch", "scratch.py", tags=("signal_alerts:mute",))
    scheduler = alerts()
    set_error("scratch.py", "SyntaxError: invalid syntax")
    assert scheduler.step() == 0
    assert scheduler.step() == 0
    assert signal_api.messages == []
    assert [r["delivered"] for r in decisions()] == ["muted"]
    assert outbox_rows("scratch.py") == []


def test_a_send_that_certainly_failed_is_retried_one_that_may_have_arrived_is_sent_once_more_marked(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts], caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = alerts()
    set_error("a.py", "RuntimeError: one")
    signal_api.fail_next(1, status=503)
    assert scheduler.step() == 0
    assert scheduler.step(10) == 1  # retried after its back-off
    set_error("a.py", "RuntimeError: two")
    signal_api.fail_next(2, action="hang", hang_seconds=5)  # the first copy and the marked one
    assert scheduler.step(10) == 0
    assert scheduler.step(10) == 0  # the marked copy hangs too: never a third
    with caplog.at_level("ERROR"):
        assert scheduler.step(10) == 0
    assert outbox_rows("a.py") == [
        "signal_alert_queued",
        "signal_alert_attempt",
        "signal_alert_not_delivered",  # 503: certainly not delivered
        "signal_alert_queued",
        "signal_alert_attempt",
        "signal_import_delivered",
        "signal_alert_queued",  # the new error
        "signal_alert_attempt",
        "signal_alert_not_delivered",  # hung: may have arrived
        "signal_alert_queued",
        "signal_alert_attempt",
        "signal_alert_not_delivered",  # the marked copy hung too
        "signal_alert_queued",
        "signal_alert_given_up",  # when its turn came: never a third copy
    ]
    assert len(signal_api.messages) == 1
    assert signal_api.request_count == 4  # 503, sent, hang, hang (marked)
    assert "Sent again: the first attempt may not have arrived" in signal_api.requests[-1].body.decode()
    [given_up] = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert "Signal alert for DAG file 'a.py' (changed) given up" in given_up


def test_a_message_whose_scheduler_died_mid_send_arrives_marked_at_the_next_flush(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    import subprocess
    import sys

    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts.decision import Rules

    add_dag("imp_killed", "killed.py", tags=("team-data",))
    set_error("killed.py", "RuntimeError: warehouse down")
    set_error("other.py", "RuntimeError: in flight")
    scheduler = alerts()
    assert scheduler.watcher.sweep() == 2  # decided and queued; then its scheduler claims them
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = owners.Owner(None, owners.hostname(), int(dead.stdout))  # a process that has exited
    alive = owners.this_process(None)
    now, deadline = scheduler.clock.now, scheduler.clock.now + timedelta(minutes=5)
    with create_session() as session:  # each marked in flight, its request out; one owner is dead
        notices = {n.file.path: n for n in outbox.open_notices(session, now, 3600) if n.file is not None}
        rules = Rules(0, 3600)
        outbox.claim(session, [notices["killed.py"]], gone, now, deadline, rules)
        outbox.claim(session, [notices["other.py"]], alive, now, deadline, rules)
    assert scheduler.step() == 1
    [message] = signal_api.messages
    assert message.destination == TEAM and "File: killed.py" in message.text
    assert "Sent again: the first attempt may not have arrived" in message.text
    assert scheduler.step() == 0  # delivered now; the live process's send is left to it
    assert outbox_rows("killed.py")[-1] == "signal_import_delivered"
    assert outbox_rows("other.py") == ["signal_alert_queued", "signal_alert_attempt"]
    assert scheduler.step(301) == 1  # the live one's deadline passed: it may have arrived
    assert "File: other.py" in signal_api.messages[-1].text
    assert "Sent again: the first attempt may not have arrived" in signal_api.messages[-1].text


def test_a_silenced_file_is_recorded_and_not_sent_and_files_outside_it_are(
    signal_api: SignalAPIEmulator, alerts: Callable[..., Alerts]
) -> None:
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_signal.alerts import silence_store
    from airflow_provider_signal.alerts.silences import new_silence

    add_dag("imp_warehouse", "warehouse.py", tags=("team-data",))
    add_dag("imp_reports", "reports.py")
    upgrade = new_silence(
        reason="warehouse upgrade",
        author="alice",
        now=T0,
        ends_at=T0 + timedelta(hours=1),
        dag_id_pattern="imp_ware*",
    )
    with create_session() as session:
        silence_store.save_new(session, upgrade)
    try:
        scheduler = alerts()
        set_error("warehouse.py", "ModuleNotFoundError: No module named 'warehouse_client'")
        set_error("reports.py", "SyntaxError: invalid syntax")
        assert scheduler.step() == 1
        assert scheduler.step() == 0
    finally:
        with create_session() as session:
            stored = delete(Variable).where(Variable.key == silence_store.PREFIX + upgrade.id)
            session.execute(stored.execution_options(synchronize_session=False))
    (message,) = signal_api.messages
    assert "reports.py" in message.text and "warehouse.py" not in message.text
    assert sorted((r["file"].rsplit("/", 1)[-1], r["delivered"], r.get("silence")) for r in decisions()) == [
        ("reports.py", "queued", None),
        ("warehouse.py", "silenced", upgrade.id),
    ]
