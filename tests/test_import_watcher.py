"""The import-error watcher's sweep, in-process, against the emulator and a real SQLite metadata
database: what the DAG processor writes in ``import_error`` becomes one message per breakage,
change and fix; a send that certainly failed is retried, one that may have arrived is not."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.import_watcher import ImportErrorWatcher
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


def records() -> list[dict[str, Any]]:
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        extras = session.scalars(
            select(Log.extra).where(Log.event.in_(ie.IMPORT_EVENTS)).order_by(Log.id)
        ).all()
    return [json.loads(extra) for extra in extras]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def watcher(signal_api: SignalAPIEmulator) -> Callable[..., tuple[ImportErrorWatcher, Clock]]:
    def build(**settings: Any) -> tuple[ImportErrorWatcher, Clock]:
        values: dict[str, Any] = {
            "enabled": True,
            "destinations": (ONCALL,),
            "routes": {"team-data": (TEAM,)},
            "send_retries": 0,
            "send_timeout": 2,
            "import_error_window": 0,
        }
        values.update(settings)
        clock = Clock()
        return ImportErrorWatcher(AlertSettings(**values), clock=clock), clock

    return build


def test_one_message_per_breakage_change_and_fix(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    add_dag("imp_orders", "orders.py", tags=("team-data",))
    sweeper, clock = watcher()
    set_error("orders.py", "ModuleNotFoundError: No module named 'x'")
    assert sweeper.sweep() == 1
    for _ in range(3):  # re-parsed with the same error
        clock.advance(10)
        set_error("orders.py", "ModuleNotFoundError: No module named 'x'")
        assert sweeper.sweep() == 0
    set_error("orders.py", "NameError: name 'y' is not defined")
    clock.advance(10)
    assert sweeper.sweep() == 1
    set_error("orders.py", None)
    clock.advance(100)
    assert sweeper.sweep() == 1
    assert sweeper.sweep() == 0
    broken, changed, fixed = signal_api.messages
    assert {m.destination for m in signal_api.messages} == {TEAM}
    assert broken.text.startswith("❌ Airflow DAG file broken\nFile: orders.py")
    assert (
        "DAGs: imp_orders" in broken.text and "Error: ModuleNotFoundError: No module named 'x'" in broken.text
    )
    assert "New error: NameError: name 'y' is not defined" in changed.text
    assert fixed.text.startswith("✅ Airflow DAG file fixed\nFile: orders.py")
    assert "Broken for: 2 min 20 s" in fixed.text  # 30 s of re-parses, 10 s, 100 s
    assert [(r["kind"], r["delivered"]) for r in records()] == [
        ("broken", True),
        ("changed", True),
        ("fixed", True),
    ]


def test_files_broken_within_the_window_make_one_message(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    sweeper, clock = watcher(import_error_window=20)
    set_error("a.py", "RuntimeError: helper broken")
    assert sweeper.sweep() == 0
    clock.advance(10)
    set_error("b.py", "RuntimeError: helper broken")
    assert sweeper.sweep() == 0
    clock.advance(10)
    assert sweeper.sweep() == 1
    [message] = signal_api.messages
    assert message.text.startswith("❌ Airflow DAG file broken: 2 files\n")
    assert "File: a.py" in message.text and "File: b.py" in message.text
    assert message.destination == ONCALL  # no DAG known: the default recipients


def test_an_import_error_alert_masks_credentials_in_the_error_and_keeps_its_link(
    signal_api: SignalAPIEmulator,
    watcher: Callable[..., tuple[ImportErrorWatcher, Clock]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for section in ("API", "WEBSERVER"):  # [api] base_url on 3.x, [webserver] on 2.11
        monkeypatch.setenv(f"AIRFLOW__{section}__BASE_URL", "http://host:8080")
    sweeper, _ = watcher()
    set_error(
        "creds.py",
        "OperationalError: could not connect to postgresql://etl:S3cr3t-pw@db.internal:5432/warehouse; "
        "token=ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    )
    assert sweeper.sweep() == 1
    [message] = signal_api.messages
    lines = message.text.splitlines()
    assert (
        "Error: OperationalError: could not connect to postgresql://etl:***@db.internal:5432/warehouse; "
        "token=***" in lines
    )
    assert "S3cr3t-pw" not in message.text and "ghp_" not in message.text
    assert lines[-1] in ("Import errors: http://host:8080/dags", "Import errors: http://host:8080/home")


def test_an_import_error_is_redacted_before_it_is_cut_to_its_line(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    from airflow_provider_signal import _compat

    secret = "Qz7-Secret-0123456789abcdef"
    _compat.mask_secret(secret)  # a value Airflow's masker knows (a connection the file read)
    sweeper, _ = watcher()
    set_error("long.py", "RuntimeError: " + "x" * 260 + secret)  # the line is cut (at 300) inside it
    assert sweeper.sweep() == 1
    [message] = signal_api.messages
    for size in range(6, len(secret) + 1):
        assert secret[:size] not in message.text


def test_a_muted_file_is_recorded_and_not_sent(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    add_dag("imp_scratch", "scratch.py", tags=("signal_alerts:mute",))
    sweeper, _ = watcher()
    set_error("scratch.py", "SyntaxError: invalid syntax")
    assert sweeper.sweep() == 0
    assert sweeper.sweep() == 0
    assert signal_api.messages == []
    assert [r["delivered"] for r in records()] == ["muted"]


def test_a_send_that_certainly_failed_is_retried_one_that_may_have_arrived_is_sent_once_more_marked(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    sweeper, clock = watcher()
    set_error("a.py", "RuntimeError: one")
    signal_api.fail_next(1, status=503)
    assert sweeper.sweep() == 0
    assert records() == []  # the claim was withdrawn
    clock.advance(10)
    assert sweeper.sweep() == 1
    set_error("a.py", "RuntimeError: two")
    signal_api.fail_next(2, action="hang", hang_seconds=5)  # the first copy and the marked one
    clock.advance(10)
    assert sweeper.sweep() == 0
    clock.advance(10)
    assert sweeper.sweep() == 0  # the marked copy hangs too: never a third
    clock.advance(10)
    assert sweeper.sweep() == 0
    assert [(r["kind"], r["delivered"], r["copy"]) for r in records()] == [
        ("broken", True, 1),
        ("changed", "maybe", 2),
    ]
    assert len(signal_api.messages) == 1
    assert signal_api.request_count == 4  # 503, sent, hang, hang (marked)
    assert "Sent again: the first attempt may not have arrived" in signal_api.requests[-1].body.decode()


def test_a_message_whose_scheduler_died_mid_send_arrives_marked_at_the_next_sweep(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
) -> None:
    import subprocess
    import sys

    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import owners

    add_dag("imp_killed", "killed.py", tags=("team-data",))
    set_error("killed.py", "RuntimeError: warehouse down")
    sweeper, clock = watcher()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = owners.Owner(None, owners.hostname(), int(dead.stdout))  # a process that has exited
    alive = owners.this_process(None)
    with create_session() as session:  # what a killed scheduler left: recorded, not yet sent
        [outcome] = ie.decide(
            ie.histories(ie.read_records(session)), ie.current_errors(session), clock.now, 0
        )[0]
        ie.claim(
            session,
            outcome,
            clock.now,
            ["imp_killed"],
            False,
            recipients=[TEAM],
            copy=1,
            owner=gone.as_extra(),
            deadline=(clock.now + timedelta(minutes=5)).isoformat(),
        )
    set_error("other.py", "RuntimeError: in flight")
    with create_session() as session:  # and a send of a live process, still within its deadline
        outcomes, _ = ie.decide(
            ie.histories(ie.read_records(session)), ie.current_errors(session), clock.now, 0
        )
        [other] = [o for o in outcomes if o.filename.endswith("other.py")]
        ie.claim(
            session,
            other,
            clock.now,
            [],
            False,
            recipients=[ONCALL],
            copy=1,
            owner=alive.as_extra(),
            deadline=(clock.now + timedelta(minutes=5)).isoformat(),
        )
    assert sweeper.sweep() == 1
    [message] = signal_api.messages
    assert message.destination == TEAM and "File: killed.py" in message.text
    assert "Sent again: the first attempt may not have arrived" in message.text
    assert sweeper.sweep() == 0  # delivered now; the live process's send is left to it
    assert [(r["file"].rsplit("/", 1)[-1], r["delivered"]) for r in records()] == [
        ("killed.py", True),
        ("other.py", False),
    ]


def test_a_silenced_file_is_recorded_and_not_sent_and_files_outside_it_are(
    signal_api: SignalAPIEmulator, watcher: Callable[..., tuple[ImportErrorWatcher, Clock]]
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
        sweeper, _ = watcher()
        set_error("warehouse.py", "ModuleNotFoundError: No module named 'warehouse_client'")
        set_error("reports.py", "SyntaxError: invalid syntax")
        assert sweeper.sweep() == 1
        assert sweeper.sweep() == 0
    finally:
        with create_session() as session:
            stored = delete(Variable).where(Variable.key == silence_store.PREFIX + upgrade.id)
            session.execute(stored.execution_options(synchronize_session=False))
    (message,) = signal_api.messages
    assert "reports.py" in message.text and "warehouse.py" not in message.text
    assert sorted((r["file"].rsplit("/", 1)[-1], r["delivered"], r.get("silence")) for r in records()) == [
        ("reports.py", True, None),
        ("warehouse.py", "silenced", upgrade.id),
    ]
