"""A real SQLite metadata database for the alert tests: migrated once, with helpers that add a
DAG (and its tags) and finished runs the way the scheduler records them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import airflow

AIRFLOW_3 = int(airflow.__version__.split(".")[0]) >= 3
_migrated: list[bool] = []


def migrate() -> None:
    """``airflow db migrate`` on this test session's AIRFLOW_HOME, once."""
    if _migrated:
        return
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    _migrated.append(True)


def add_dag(dag_id: str, tags: list[str] = ()) -> None:  # type: ignore[assignment]
    from airflow.models.dag import DagModel, DagTag
    from airflow.utils.session import create_session

    with create_session() as session:
        if AIRFLOW_3:
            from airflow.models.dagbundle import DagBundleModel

            if session.get(DagBundleModel, "dags-folder") is None:
                session.add(DagBundleModel(name="dags-folder"))
                session.flush()
            session.add(DagModel(dag_id=dag_id, bundle_name="dags-folder", fileloc="/dags/x.py"))
        else:
            session.add(DagModel(dag_id=dag_id, fileloc="/dags/x.py"))
        session.flush()
        for tag in tags:
            session.add(DagTag(name=tag, dag_id=dag_id))


def add_run(dag_id: str, run_id: str, state: str, end: datetime, seconds: float = 30) -> Any:
    """A finished run that ended at ``end``; returns the DagRun (detached)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    logical = {"logical_date" if AIRFLOW_3 else "execution_date": end - timedelta(seconds=seconds)}
    with create_session() as session:
        run = DagRun(dag_id=dag_id, run_id=run_id, run_type="scheduled", state=state, **logical)
        run.start_date = end - timedelta(seconds=seconds)
        run.end_date = end
        session.add(run)
        session.flush()
        session.expunge(run)
    return run


def alert_rows(dag_id: str) -> list[tuple[str, str]]:
    """(event, run_id) of the alert rows in Airflow's audit log, oldest first (every step)."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(Log.event, Log.run_id)
            .where(Log.dag_id == dag_id, Log.event.like("signal_alert%"))
            .order_by(Log.id)
        ).all()
    return [(row.event, row.run_id) for row in rows]


T0 = (datetime.now(timezone.utc) - timedelta(minutes=10)).replace(second=0, microsecond=0)
"""Recent enough that every run is within the default max_delivery_age (an hour), also for the
tests that run after a line's deployment tests (``--deployments-first``: half an hour and more
after this module is imported), and old enough that the runs tests put a few minutes after it
have ended."""


def outcome_rows(dag_id: str) -> list[tuple[str, str]]:
    """(event, run_id) of the rows that record an outcome (no attempts), oldest first."""
    from airflow_provider_signal.alerts.records import OUTCOMES

    return [(event, run_id) for event, run_id in alert_rows(dag_id) if event in OUTCOMES]


def clean_slate() -> None:
    """No runs and no alert rows left by earlier tests: the outbox and the sweep read every DAG's,
    so a notice another test left queued would join this test's messages."""
    from airflow.models.dagrun import DagRun
    from airflow.models.log import Log
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Log).where(Log.owner == "signal_alerts"))
        session.execute(delete(TaskInstance))
        session.execute(delete(DagRun))


def forget(dag_prefix: str) -> None:
    """Every silence, and the DAGs (with their tags) whose ids start with ``dag_prefix``."""
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    from airflow_provider_signal.alerts.silence_store import PREFIX

    like = dag_prefix.replace("_", "\\_") + "%"
    with create_session() as session:
        for statement in (
            delete(Variable).where(Variable.key.like(PREFIX + "%")),
            delete(DagTag).where(DagTag.dag_id.like(like, escape="\\")),
            delete(DagModel).where(DagModel.dag_id.like(like, escape="\\")),
        ):
            session.execute(statement.execution_options(synchronize_session=False))
