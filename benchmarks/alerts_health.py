"""8. Health watcher: the cost of one check on the metadata database, and the time from a
component's last heartbeat to the message at the API.

Cost: one worker per database (a migrated SQLite metadata database of its own; then PostgreSQL
started by tests/distributed_support.py, a database migrated with ``airflow db migrate``, when
PostgreSQL is installed), the ``job`` table seeded with a scheduler, a triggerer and a DAG
processor heartbeating now. :meth:`HealthWatcher.check` is timed many times in a row with a fixed
clock (nothing changes: the usual case), after one untimed warm-up; the SQL statements of each
check are counted, and their time in the driver summed, by SQLAlchemy's ``before_cursor_execute``
and ``after_cursor_execute`` events on Airflow's engine. Then a check that opens an incident (the
scheduler's heartbeat older than the threshold, the real clock): it takes the health lock and
writes the decision and its notice; the decision and outbox rows are deleted between samples
(the lock's sentinel row stays, as it does in a deployment). Only the seeded rows are in the
tables. The goal, 5 ms of database time per check, is held to the check's whole wall time (ORM
and session included).

Heartbeat to message: one worker with a real :class:`HealthWatcher` thread (``start``, as in a
scheduler) and an :class:`AlertSender` it wakes, the emulator in its own process as the Signal
connection; the three components heartbeat every 5 s (Airflow's default), on a thread. At T
(after the watcher's first check, and a pause of 1 s plus a random part of one check interval),
the scheduler's heartbeat is written a last time; the figure is T to the emulator's receipt of
``🚨 Airflow scheduler down``. Once the sender has recorded it delivered, the heartbeat is
written again and the incident's rows deleted in one transaction. With a short threshold (10 s,
a check every 2 s, ``group_wait`` 0) a few times; with the defaults (180 s, 30 s, ``group_wait``
10 s) once, beside the rest of the section (not in ``--quick``: there the bound is reported).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import alerts_storm
from benchlib import (
    ROOT,
    EmulatorProcess,
    Figure,
    Summary,
    airflow_home,
    migrate,
    run_worker,
    worker_args,
    write_result,
)

GOAL_MS = 5.0
"""The goal: at most this much database time per check that finds nothing new."""
SLACK = 1.0
"""The goal: the message within health_threshold + health_interval + group_wait + this (the
check's own time and the send)."""
SHORT = (10.0, 2.0, 0.0)
DEFAULTS = (180.0, 30.0, 10.0)
"""``health_threshold``, ``health_interval``, ``group_wait``."""
CHECKS, CHECKS_QUICK = 500, 100
OPENING_SHARE = 10
"""Checks that open an incident: one for every this many that find nothing new."""
LATENCIES, LATENCIES_QUICK = 8, 3
BEAT = 5.0
"""Seconds between two heartbeats of a running component (Airflow's ``job_heartbeat_sec``)."""
DOWN = "🚨 Airflow scheduler down"
SHORT_NUMBER, DEFAULT_NUMBER = "447700900999", "447700900998"
SCHEDULER, TRIGGERER, DAG_PROCESSOR = 1, 2, 3
JOBS = {SCHEDULER: "SchedulerJob", TRIGGERER: "TriggererJob", DAG_PROCESSOR: "DagProcessorJob"}


# -- helpers of the workers (a fresh interpreter with Airflow configured) ------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _settings(threshold: float, interval: float, group_wait: float, destination: str) -> Any:
    from airflow_provider_signal.alerts.config import AlertSettings

    return AlertSettings(
        enabled=True,
        notify_on=frozenset({"failure", "health"}),
        destinations=(destination,),
        health_threshold=threshold,
        health_interval=interval,
        group_wait=group_wait,
    )


def _seed_jobs(at: datetime) -> None:
    """The three components' ``job`` rows, started an hour ago, heartbeating at ``at``."""
    from airflow.jobs.job import Job
    from airflow.utils.session import create_session
    from sqlalchemy import insert

    with create_session() as session:
        for job_id, job_type in JOBS.items():
            session.execute(
                insert(Job.__table__).values(
                    id=job_id,
                    job_type=job_type,
                    state="running",
                    hostname="h",
                    start_date=at - timedelta(hours=1),
                    latest_heartbeat=at,
                )
            )


def _beat(session: Any, job_ids: Sequence[int], at: datetime) -> None:
    from airflow.jobs.job import Job
    from sqlalchemy import update

    table = Job.__table__
    session.execute(update(table).where(table.c.id.in_(list(job_ids))).values(latest_heartbeat=at))


def _wipe_health(session: Any) -> None:
    """The health decisions and their notices' rows; the lock's sentinel row stays."""
    from airflow.models.log import Log
    from sqlalchemy import delete

    from airflow_provider_signal.alerts import health_notices

    for statement in (
        delete(Log).where(Log.event.like("signal_health%")),
        delete(Log).where(Log.run_id.like(f"{health_notices.RUN_PREFIX}%")),
    ):
        session.execute(statement.execution_options(synchronize_session=False))


class _Statements:
    """SQL statements sent through Airflow's engine, and their time in the driver."""

    def __init__(self) -> None:
        from airflow import settings
        from sqlalchemy import event

        self.count, self.seconds = 0, 0.0
        self._started: list[float] = []
        event.listen(settings.engine, "before_cursor_execute", self._before)
        event.listen(settings.engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self.count += 1
        self._started.append(time.perf_counter())

    def _after(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._started.pop()

    def measure(self, call: Callable[[], Any]) -> tuple[float, int, float, Any]:
        """Wall time, statements and driver time of ``call()``, and what it returned."""
        count, seconds = self.count, self.seconds
        started = time.perf_counter()
        value = call()
        elapsed = time.perf_counter() - started
        return elapsed, self.count - count, self.seconds - seconds, value


def _samples(measured: list[tuple[float, int, float, Any]]) -> dict[str, list[Any]]:
    return {
        "seconds": [m[0] for m in measured],
        "statements": [m[1] for m in measured],
        "db_seconds": [m[2] for m in measured],
        "queued": [m[3] for m in measured],
    }


def cost_worker(checks: int, openings: int) -> dict[str, Any]:
    """Checks that find nothing new, then checks that each open an incident."""
    from airflow import settings as airflow_settings
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts.health_watcher import HealthWatcher

    threshold, interval, group_wait = DEFAULTS
    settings = _settings(threshold, interval, group_wait, SHORT_NUMBER)
    now = _now()
    _seed_jobs(now)
    quiet = HealthWatcher(settings, clock=lambda: now, name="bench")
    quiet.started_at = now
    statements = _Statements()
    quiet.check()  # warm-up: the ORM's compiled statements, the database's caches
    quiet_samples = [statements.measure(quiet.check) for _ in range(checks)]

    with create_session() as session:
        _beat(session, [SCHEDULER], now - timedelta(seconds=threshold + 60))
    opening = HealthWatcher(settings, clock=_now, name="bench")
    opening.started_at = now
    opened = []
    for _ in range(openings + 1):  # the first one is the warm-up (and creates the lock's row)
        with create_session() as session:
            _wipe_health(session)
        opened.append(statements.measure(opening.check))
    engine = airflow_settings.engine
    assert engine is not None
    return {
        "database": engine.dialect.name,
        "quiet": _samples(quiet_samples),
        "opening": _samples(opened[1:]),
        "settings": {"threshold": threshold, "interval": interval, "group_wait": group_wait},
    }


class _Heartbeats:
    """The components' heartbeats, written every ``BEAT`` seconds on a thread, as Airflow's jobs do;
    :meth:`stop` writes the scheduler's last one, :meth:`resume` its next."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._silent: set[int] = set()
        self._done = threading.Event()
        threading.Thread(target=self._run, name="bench-heartbeats", daemon=True).start()

    def _run(self) -> None:
        from airflow.utils.session import create_session

        while not self._done.wait(BEAT):
            with self._lock, create_session() as session:
                _beat(session, [j for j in JOBS if j not in self._silent], _now())

    def stop(self, job_id: int) -> float:
        """Write ``job_id``'s last heartbeat; its time (epoch seconds)."""
        from airflow.utils.session import create_session

        with self._lock:
            at = _now()
            with create_session() as session:
                _beat(session, [job_id], at)
            self._silent.add(job_id)
        return at.timestamp()

    def resume(self, job_id: int) -> None:
        """Heartbeat ``job_id`` again and forget the health incidents, in one transaction."""
        from airflow.utils.session import create_session

        with self._lock:
            with create_session() as session:
                _beat(session, [job_id], _now())
                _wipe_health(session)
            self._silent.discard(job_id)

    def close(self) -> None:
        self._done.set()


def _delivered() -> bool:
    """Whether the sender has recorded a health message as delivered (it settles after the send)."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_provider_signal.alerts.records import HEALTH_DELIVERED

    with create_session() as session:
        return session.scalar(select(Log.id).where(Log.event == HEALTH_DELIVERED).limit(1)) is not None


def _down_after(control_url: str, destination: str, since: float, deadline: float) -> tuple[float, str]:
    """The first ``scheduler down`` message received after ``since``: its time and text (the
    emulator's clock; how often it is asked does not change the figure)."""
    while time.time() < deadline:
        for message in alerts_storm._messages(control_url, destination):
            if message["received_at"] >= since and message["text"].startswith(DOWN):
                return float(message["received_at"]), str(message["text"])
        time.sleep(0.5)
    return -1.0, ""


def latency_worker(
    samples: int, threshold: float, interval: float, group_wait: float, control_url: str, destination: str
) -> dict[str, Any]:
    """A real watcher thread and sender; the scheduler's last heartbeat to the message, ``samples`` times."""
    from airflow_provider_signal.alerts.health_watcher import FIRST_CHECK_DELAY, HealthWatcher
    from airflow_provider_signal.alerts.sender import AlertSender

    settings = _settings(threshold, interval, group_wait, destination)
    _seed_jobs(_now())
    beats = _Heartbeats()
    sender = AlertSender(settings)
    watcher = HealthWatcher(settings, wake=sender.wake)
    watcher.start(lambda: "scheduler")
    rng = random.Random(8)
    first_check = time.monotonic() + max(FIRST_CHECK_DELAY, interval)
    latencies: list[float] = []
    texts: list[str] = []
    for _ in range(samples):
        time.sleep(max(0.0, first_check - time.monotonic()) + rng.uniform(1.0, 1.0 + interval))
        last = beats.stop(SCHEDULER)
        bound = threshold + interval + group_wait
        time.sleep(threshold)  # no message can come sooner
        received, text = _down_after(control_url, destination, last, last + bound + 60)
        if received < 0:
            break
        latencies.append(received - last)
        texts.append(text)
        deadline = time.monotonic() + 30
        while not _delivered() and time.monotonic() < deadline:
            time.sleep(0.1)
        beats.resume(SCHEDULER)
    watcher.stop()
    beats.close()
    sender.close(5)
    return {
        "latencies": latencies,
        "samples": samples,
        "texts": texts[:1],
        "settings": {"threshold": threshold, "interval": interval, "group_wait": group_wait},
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(
        argv, part=str, samples=int, threshold=float, interval=float, group_wait=float, control=str
    )
    if args.part == "cost":
        result = cost_worker(args.samples, max(1, args.samples // OPENING_SHARE))
    else:
        number = SHORT_NUMBER if args.part == "short" else DEFAULT_NUMBER
        result = latency_worker(
            args.samples, args.threshold, args.interval, args.group_wait, args.control, number
        )
    write_result(args.result, result)
    os._exit(0)  # the watcher's and the sender's daemon threads: nothing left to wait for


# -- the orchestrator ----------------------------------------------------------------------------


def _worker_args(part: str, samples: int, timing: tuple[float, float, float], control: str) -> list[str]:
    threshold, interval, group_wait = timing
    return [
        *("--part", part, "--samples", str(samples), "--threshold", str(threshold)),
        *("--interval", str(interval), "--group-wait", str(group_wait), "--control", control),
    ]


def _postgres_cost(env: dict[str, str], log_dir: Path, checks: int) -> dict[str, Any] | None:
    """The cost worker on PostgreSQL (tests/distributed_support.py); ``None`` when not installed."""
    sys.path.insert(0, str(ROOT / "tests"))
    from distributed_support import BackingServices, _postgres_bin

    if _postgres_bin("initdb") is None:
        return None
    services = BackingServices(log_dir / "postgres")
    (log_dir / "postgres").mkdir(parents=True, exist_ok=True)
    services.start()
    try:
        with tempfile.TemporaryDirectory(prefix="airflow-signal-bench-pg-") as homes:
            pg_env = alerts_storm._database(services, env, Path(homes), "health")
            args = _worker_args("cost", checks, DEFAULTS, "")
            result: dict[str, Any] = run_worker("alerts_health.py", args, pg_env, log_dir / "cost-pg").result
            return result
    finally:
        services.stop()


def run(env: dict[str, str], log_dir: Path, quick: bool = False) -> dict[str, Any]:
    """The defaults' sample (not in ``quick``) in the background, mostly idle for minutes, while the
    short threshold's samples and the cost workers (SQLite, then PostgreSQL) run."""
    checks = CHECKS_QUICK if quick else CHECKS
    results: dict[str, Any] = {}
    with airflow_home() as home, EmulatorProcess() as emulator, ThreadPoolExecutor(1) as background:
        homes = {name: home / name for name in ("cost", "short", "default")}
        envs = {name: {**env, "AIRFLOW_HOME": str(path)} for name, path in homes.items()}
        for path in homes.values():
            path.mkdir()
        migrate(envs["cost"])
        for name in ("short", "default"):  # a copy of the migrated database, untouched yet
            shutil.copy(homes["cost"] / "airflow.db", homes[name] / "airflow.db")
            envs[name]["AIRFLOW_CONN_SIGNAL_DEFAULT"] = emulator.connection_json
        defaults = None
        if not quick:
            args = _worker_args("default", 1, DEFAULTS, emulator.url)
            defaults = background.submit(
                run_worker, "alerts_health.py", args, envs["default"], log_dir / "latency-default"
            )
        args = _worker_args("short", LATENCIES_QUICK if quick else LATENCIES, SHORT, emulator.url)
        workers = [run_worker("alerts_health.py", args, envs["short"], log_dir / "latency-short")]
        results["short"] = workers[-1].result
        args = _worker_args("cost", checks, DEFAULTS, "")
        workers.append(run_worker("alerts_health.py", args, envs["cost"], log_dir / "cost-sqlite"))
        results["costs"] = [workers[-1].result]
        postgres = _postgres_cost(env, log_dir, checks)
        if postgres is not None:
            results["costs"].append(postgres)
        if defaults is not None:
            workers.append(defaults.result())
            results["defaults"] = workers[-1].result
        results["password_in_logs"] = any(emulator.password in worker.output for worker in workers)
    return results


# -- figures -------------------------------------------------------------------------------------


def _counts(counts: Sequence[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{statistics.median(counts):g} ({low}–{high})"


def _cost_figures(cost: dict[str, Any]) -> list[Figure]:
    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(cost["database"], cost["database"])
    quiet, opening = cost["quiet"], cost["opening"]
    section = f"8. health watcher, one check on {database} (a scheduler, a triggerer, a DAG processor)"
    wall, driver = Summary.of(quiet["seconds"]), Summary.of(quiet["db_seconds"])
    opened = Summary.of(opening["seconds"])
    return [
        Figure(
            section,
            "`HealthWatcher.check()`, nothing changed (the usual case): wall time",
            wall.format(1e3, "ms"),
            f"≤ {GOAL_MS:g} ms",
            wall.median * 1e3 <= GOAL_MS,
        ),
        Figure(section, "… the same, p95", f"{alerts_storm._p95(quiet['seconds']) * 1e3:.2f} ms"),
        Figure(section, "… of it in the database driver (cursor execute)", driver.format(1e3, "ms")),
        Figure(section, "… SQL statements per check", _counts(quiet["statements"])),
        Figure(
            section,
            "a check that opens an incident (health lock, decision, notice): wall time; p95",
            f"{opened.format(1e3, 'ms')}; {alerts_storm._p95(opening['seconds']) * 1e3:.1f} ms",
        ),
        Figure(
            section,
            f"… SQL statements (notices queued per check: {_counts(opening['queued'])})",
            _counts(opening["statements"]),
        ),
    ]


def _latency_figure(section: str, result: dict[str, Any] | None, timing: tuple[float, ...]) -> Figure:
    threshold, interval, group_wait = timing
    bound = threshold + interval + group_wait
    label = (
        f"health_threshold {threshold:g} s, health_interval {interval:g} s, group_wait {group_wait:g} s: "
        "the scheduler's last heartbeat → `🚨 Airflow scheduler down` received"
    )
    target = f"≤ {bound + SLACK:g} s (threshold + interval + group_wait + {SLACK:g} s)"
    if result is None:
        return Figure(section, label, f"not measured (--quick); expected ≤ {bound:g} s", target)
    latencies = result["latencies"]
    if not latencies:
        return Figure(section, label, "never", target, False)
    summary = Summary.of(latencies)
    if len(latencies) < result["samples"]:
        label += f" ({len(latencies)} of {result['samples']} arrived)"
    met = len(latencies) == result["samples"] and summary.high <= bound + SLACK
    return Figure(section, label, summary.format(1, "s"), target, met)


def figures(result: dict[str, Any]) -> list[Figure]:
    rows = [figure for cost in result["costs"] for figure in _cost_figures(cost)]
    if len(result["costs"]) == 1:
        rows.append(Figure("8. health watcher, one check (PostgreSQL)", "not measured", "not installed"))
    section = "8. health watcher, heartbeat to message (SQLite, a real watcher thread and AlertSender)"
    rows.append(_latency_figure(section, result["short"], SHORT))
    rows.append(_latency_figure(section, result.get("defaults"), DEFAULTS))
    return rows


if __name__ == "__main__":
    main()
