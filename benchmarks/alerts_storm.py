"""7. Storms: many runs failing at once on one route, a lone failure, and the database time of the
sweep and of one decision as the history grows (issue 23).

Storm: one worker per size (a fresh interpreter, a migrated SQLite metadata database, the
emulator in its own process over HTTP), ``[signal_alerts]`` with its defaults (``group_wait``
10 s, ``group_interval`` 60 s, ``queue_size`` 100, ``sweep_interval`` 30 s) and one destination.
A real :class:`~airflow_provider_signal.alerts.sender.AlertSender` sweeps as a scheduler's does;
once its first sweep is done, N DAGs' runs are written as failed and handed to ``submit`` one
after the other, as the listener does. The emulator's messages are read back (its control
endpoint) and parsed: a group text names a run on a ``• dag_id`` line or counts it in ``And N
more``; a single-run text names it on ``DAG: dag_id``. Figures: messages sent, the time from the
first ``submit`` to the message that completes the coverage, and the sender thread's CPU time
over that span (its thread clock, ``pthread_getcpuclockid``, read from outside the thread).

The largest storm runs once more with ``queue_size`` 2,000 (room for every run: none dropped).

Lone failure: the same worker, one failed run at a time, each on its own route (a DAG tag routed to
its own number: a quiet route), one every 1.5 s; ``submit`` to the emulator's receipt.

Database time: PostgreSQL started by tests/distributed_support.py, a fresh database per size
migrated with ``airflow db migrate``, seeded with SQL (``generate_series``): runs over a year
across 2,000 DAGs, 3 % of each DAG's runs failed, 20 running and 10 queued; per failed run two
task instances (one failed, one upstream_failed) and the provider's three alert rows; one other
``log`` row per run. Then, in three rounds taking the sizes in turn (a busy spell of the machine
hits both), the wall time on the worker of ``sweep.unalerted_runs`` (a first sweep with a new
cursor, and a later one with the first's cursor) and of one failure's decision
(``triage.triage`` in a session rolled back, and its reads ``run_state``, ``dag_state``,
``held_back_since`` alone), every round's samples pooled.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchlib import ROOT, EmulatorProcess, Figure, Summary, migrate, run_worker, worker_args, write_result

STORM_SIZES = (10, 100, 1000)
LONE_SAMPLES = 20
LONE_SPACING = 1.5
DB_SIZES = (10_000, 1_000_000)
DB_DAGS = 2000
STORM_NUMBER = "44770090300{index}"
LONE_NUMBER = "4477009040{index:02d}"
SLACK = 5.0
"""The goal: the last run of a storm covered within group_interval + group_wait + this."""
MAX_MESSAGES = 3
DB_RATIO = 3.0
SAMPLES = 20
DB_ROUNDS = 3
"""Timing workers per database size, taken in turn (small, large, large, small, ...)."""
DECISION_DAG = "bench_dag_0097"
"""The DAG whose failure is decided: 3 % of its runs failed and alerted (2 of its 5 at 10,000 runs)."""
ROOMY = 2000
"""``queue_size`` of the storm run again at the largest size with room for every run in the queue."""


# -- parsing the messages ------------------------------------------------------------------------

_TITLE = re.compile(r"❌ Airflow: (\d+) DAG runs failed")
_LISTED = re.compile(r"• [\w.-]+(?: \((\d+) runs)?")
_REST = re.compile(r"And (\d+) more(?: \((\d+) runs\))?$")


def runs_covered(text: str) -> int:
    """Runs a failure message names or counts: one for a single-run text, else its DAG lines
    (with their run counts) and its ``And N more``."""
    if text.startswith("❌ Airflow DAG run failed"):
        return 1
    total = 0
    for line in text.splitlines():
        listed, rest = _LISTED.match(line), _REST.match(line)
        if listed:
            total += int(listed.group(1) or 1)
        elif rest:
            total += int(rest.group(2) or rest.group(1))
    return total


def title_count(text: str) -> int:
    """The runs a group title says (one for a single-run text)."""
    title = _TITLE.match(text)
    return int(title.group(1)) if title else 1 if text.startswith("❌ Airflow DAG run failed") else 0


# -- helpers of the workers (a fresh interpreter with Airflow configured) ------------------------


def _messages(control_url: str, destination: str) -> list[dict[str, Any]]:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{control_url}/_emulator/messages", timeout=10) as answer:
        every = json.loads(answer.read())
    return [m for m in every if m["destination"].lstrip("+") == destination]


def _thread_cpu(thread: threading.Thread | None) -> float:
    """CPU seconds the thread has used (Linux: its own clock, read from this thread)."""
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _add_dags(dag_ids: Sequence[str], tags: Callable[[str], list[str]] = lambda _: []) -> None:
    from airflow.models.dag import DagModel, DagTag
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        for dag_id in dag_ids:
            session.add(DagModel(dag_id=dag_id, bundle_name="dags-folder", fileloc="/dags/storm.py"))
        session.flush()
        for dag_id in dag_ids:
            for tag in tags(dag_id):
                session.add(DagTag(name=tag, dag_id=dag_id))


def _failed_runs(dag_ids: Sequence[str], run_id: str) -> list[Any]:
    """One failed run per DAG, ended now (detached DagRun objects, as the listener gets them)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    end = datetime.now(timezone.utc)
    runs = []
    with create_session() as session:
        for dag_id in dag_ids:
            run = DagRun(
                dag_id=dag_id, run_id=run_id, run_type="scheduled", state=DagRunState.FAILED, logical_date=end
            )
            run.start_date, run.end_date = end - timedelta(seconds=30), end
            session.add(run)
            runs.append(run)
        session.flush()
        for run in runs:
            session.expunge(run)
    return runs


def _sweeping_sender(settings: Any) -> Any:
    """An AlertSender that sweeps as a scheduler's does, once its first (full) sweep is done."""
    from airflow_provider_signal.alerts.sender import AlertSender

    sender = AlertSender(settings)
    sender.start_sweeping()
    deadline = time.monotonic() + 60
    while sender.cursor.full_reads < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    return sender


def _clean_slate() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from alerts_db import clean_slate

    clean_slate()


def storm_worker(size: int, control_url: str) -> dict[str, Any]:
    """N runs failing at once on one route, through a sweeping sender's ``submit``."""
    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.alerts.events import event_from_dag_run

    settings = load_settings()
    destination = settings.destinations[0].lstrip("+")
    _clean_slate()
    dag_ids = [f"storm{size}q{settings.queue_size}_{n:04d}" for n in range(size)]  # a DAG per run
    _add_dags(dag_ids)
    sender = _sweeping_sender(settings)
    events = [event_from_dag_run("failure", run, "task_failure") for run in _failed_runs(dag_ids, "storm")]
    thread = sender._thread
    cpu_before, process_before = _thread_cpu(thread), time.process_time()
    first = time.time()
    accepted = sum(sender.submit(event) for event in events)
    budget = settings.group_wait + 2 * settings.group_interval + 2 * settings.sweep_interval + 30
    covered_at, messages = None, []
    while time.time() < first + budget:
        messages = _messages(control_url, destination)
        runs = sum(runs_covered(m["text"]) for m in messages)
        if runs >= size:
            covered_at = max(m["received_at"] for m in messages)
            break
        time.sleep(0.2)
    cpu, process_cpu = _thread_cpu(thread) - cpu_before, time.process_time() - process_before
    time.sleep(SLACK)  # a late duplicate of a covered run would show here
    messages = _messages(control_url, destination)
    sender.close(5)
    return {
        "size": size,
        "accepted": accepted,
        "dropped": sender.dropped,
        "covered_after": None if covered_at is None else covered_at - first,
        "budget": budget,
        "messages": [
            {
                "after": m["received_at"] - first,
                "covers": runs_covered(m["text"]),
                "title": title_count(m["text"]),
                "text": m["text"],
            }
            for m in sorted(messages, key=lambda m: m["received_at"])
        ],
        "thread_cpu": cpu,
        "process_cpu": process_cpu,
        "full_reads": sender.cursor.full_reads,
        "settings": _timing(settings),
    }


def _timing(settings: Any) -> dict[str, float]:
    names = ("group_wait", "group_interval", "queue_size", "sweep_interval", "max_delivery_age")
    return {name: float(getattr(settings, name)) for name in names}


def lone_worker(samples: int, control_url: str) -> dict[str, Any]:
    """One failed run at a time, each on a route of its own; ``submit`` to the emulator's receipt."""
    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.alerts.events import event_from_dag_run

    settings = load_settings()
    _clean_slate()
    dag_ids = [f"lone_{n:02d}" for n in range(samples)]
    _add_dags(dag_ids, lambda dag_id: [f"route-{dag_id}"])
    sender = _sweeping_sender(settings)
    submitted: dict[str, float] = {}
    for dag_id in dag_ids:
        [run] = _failed_runs([dag_id], "lone")
        submitted[dag_id] = time.time()
        sender.submit(event_from_dag_run("failure", run, "task_failure"))
        time.sleep(LONE_SPACING)
    latencies: list[float] = []
    deadline = time.monotonic() + settings.group_wait + 60
    while len(latencies) < samples and time.monotonic() < deadline:
        latencies = [
            received - submitted[dag_id]
            for index, dag_id in enumerate(dag_ids)
            for received in _arrivals(control_url, LONE_NUMBER.format(index=index))[:1]
        ]
        time.sleep(0.2)
    sender.close(5)
    return {"latencies": latencies, "samples": samples, "settings": _timing(settings)}


def _arrivals(control_url: str, destination: str) -> list[float]:
    return sorted(m["received_at"] for m in _messages(control_url, destination))


# -- the database worker (PostgreSQL) ------------------------------------------------------------

_SEED = """
INSERT INTO dag_bundle (name, active) VALUES ('dags-folder', true) ON CONFLICT DO NOTHING;
INSERT INTO dag (dag_id, is_paused, is_stale, bundle_name, fileloc, timetable_type,
                 partition_mapper_info, max_active_tasks, max_consecutive_failed_dag_runs,
                 has_task_concurrency_limits)
SELECT 'bench_dag_' || lpad(d::text, 4, '0'), false, false, 'dags-folder', '/dags/bench.py',
       'CronTriggerTimetable', '{}', 16, 0, false
FROM generate_series(0, :dags - 1) AS d;
INSERT INTO dag_run (dag_id, run_id, run_type, state, logical_date, run_after, queued_at,
                     start_date, end_date, clear_number)
SELECT 'bench_dag_' || lpad((i % :dags)::text, 4, '0'), 'scheduled__' || i, 'scheduled',
       CASE WHEN i >= :rows - 10 THEN 'queued' WHEN i >= :rows - 30 THEN 'running'
            WHEN (i / :dags + i % :dags) % 100 < 3 THEN 'failed' ELSE 'success' END,
       t, t, t, t + interval '5 seconds',
       CASE WHEN i >= :rows - 30 THEN NULL ELSE t + interval '95 seconds' END, 0
FROM generate_series(0, :rows - 1) AS i,
     LATERAL (SELECT :now - interval '365 days' * (:rows - i)::float / :rows
                     - interval '100 seconds' AS t) AS at;
INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, try_number, pool, pool_slots,
                           state, start_date, end_date)
SELECT gen_random_uuid(), task, r.dag_id, r.run_id, -1, 1, 'default_pool', 1,
       CASE task WHEN 'load' THEN 'failed' ELSE 'upstream_failed' END, r.start_date, r.end_date
FROM dag_run r, (VALUES ('load'), ('report')) AS tasks(task)
WHERE r.state = 'failed';
INSERT INTO log (dttm, dag_id, task_id, run_id, event, owner, extra)
SELECT r.end_date, r.dag_id, 'load', r.run_id, 'success', 'airflow', NULL
FROM dag_run r WHERE r.state = 'success';
INSERT INTO log (dttm, dag_id, run_id, event, owner, extra)
SELECT r.end_date + step.after, r.dag_id, r.run_id, step.event, 'signal_alerts',
       json_build_object('kind', 'failure', 'run_end', r.end_date, 'clear_number', 0)::text
FROM dag_run r,
     (VALUES ('signal_alert_queued', interval '1 second'), ('signal_alert_attempt', interval '11 seconds'),
             ('signal_alert_failed', interval '12 seconds')) AS step(event, after)
WHERE r.state = 'failed';
ANALYZE;
"""


def _seed(rows: int, now: datetime) -> dict[str, Any]:
    from airflow.settings import engine
    from sqlalchemy import text

    assert engine is not None, "Airflow's ORM is configured at import"

    started = time.monotonic()
    with engine.begin() as connection:
        for statement in filter(str.strip, _SEED.split(";\n")):
            connection.execute(text(statement), {"rows": rows, "dags": DB_DAGS, "now": now})
    with engine.connect() as connection:
        counts = {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)  # noqa: S608
            for table in ("dag", "dag_run", "task_instance", "log")
        }
    return {"seconds": time.monotonic() - started, "counts": counts}


def _timed(call: Callable[[], Any], samples: int = SAMPLES) -> list[float]:
    call()  # warm-up: the ORM's compiled statements, the server's caches
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def _decision_times(settings: Any, now: datetime) -> dict[str, list[float]]:
    """One failure's decision for a DAG with a history, in sessions rolled back."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from airflow_provider_signal.alerts import records
    from airflow_provider_signal.alerts.events import event_from_dag_run
    from airflow_provider_signal.alerts.triage import triage

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.run_id == DECISION_RUN)).one()
        event = event_from_dag_run("failure", run, "task_failure")
        last_alert_id = records.dag_state(session, event, now, settings.max_delivery_age).last_alert_id

    def rolled_back(body: Callable[[Session], Any]) -> Callable[[], None]:
        def call() -> None:
            from airflow import settings as airflow_settings

            assert airflow_settings.Session is not None
            session = airflow_settings.Session()
            try:
                body(session)
            finally:
                session.rollback()
                session.close()

        return call

    return {
        "triage": _timed(rolled_back(lambda s: triage(s, settings, event, now))),
        "run_state": _timed(rolled_back(lambda s: records.run_state(s, event))),
        "dag_state": _timed(
            rolled_back(lambda s: records.dag_state(s, event, now, settings.max_delivery_age))
        ),
        "held_back_since": _timed(
            rolled_back(lambda s: records.held_back_since(s, event.dag_id, last_alert_id))
        ),
    }


DECISION_RUN = "manual__storm_decision"


def db_seed_worker(rows: int) -> dict[str, Any]:
    """Seed ``rows`` runs, and the failed run whose decision is timed."""
    seeded = _seed(rows, datetime.now(timezone.utc))
    _failed_runs([DECISION_DAG], DECISION_RUN)
    return seeded


def db_time_worker(rows: int) -> dict[str, Any]:
    """Time the sweep (a first one, then later ones with its cursor) and one decision."""
    from airflow_provider_signal.alerts.config import AlertSettings
    from airflow_provider_signal.alerts.sweep import SweepCursor, unalerted_runs

    now = datetime.now(timezone.utc)
    settings = AlertSettings(enabled=True, destinations=("+447700903999",))
    cursor = SweepCursor()
    first_found = len(unalerted_runs(settings, now, cursor))
    return {
        "rows": rows,
        "first_sweep": _timed(lambda: unalerted_runs(settings, now, SweepCursor()), 5),
        "later_sweep": _timed(lambda: unalerted_runs(settings, now, cursor)),
        "found": first_found,
        "tracked": len(cursor.tracked),
        "decision": _decision_times(settings, now),
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, part=str, size=int, control=str)
    if args.part == "storm":
        result = storm_worker(args.size, args.control)
    elif args.part == "lone":
        result = lone_worker(args.size, args.control)
    elif args.part == "seed":
        result = db_seed_worker(args.size)
    else:
        result = db_time_worker(args.size)
    write_result(args.result, result)
    os._exit(0)  # the sender's daemon thread and Airflow's engine: nothing left to wait for


# -- the orchestrator ----------------------------------------------------------------------------


def _alerts_env(env: dict[str, str], emulator: EmulatorProcess, **keys: str) -> dict[str, str]:
    extra = {f"AIRFLOW__SIGNAL_ALERTS__{key.upper()}": value for key, value in keys.items()}
    return {
        **env,
        "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json,
        "AIRFLOW__SIGNAL_ALERTS__ENABLED": "True",
        **extra,
    }


def storms(env: dict[str, str], log_dir: Path, sizes: Sequence[int], lone: int) -> dict[str, Any]:
    """The storm workers (one per size) and the lone-failure worker, on SQLite."""
    migrate(env)
    results: dict[str, Any] = {"storms": [], "password_in_logs": False}
    with EmulatorProcess() as emulator:
        for index, (size, queue_size) in enumerate([*((size, None) for size in sizes), (max(sizes), ROOMY)]):
            keys = {"destinations": f"+{STORM_NUMBER.format(index=index)}"}
            if queue_size is not None:
                keys["queue_size"] = str(queue_size)
            worker = run_worker(
                "alerts_storm.py",
                ["--part", "storm", "--size", str(size), "--control", emulator.url],
                _alerts_env(env, emulator, **keys),
                log_dir / f"storm-{size}{'-roomy' if queue_size else ''}",
            )
            results["storms"].append(worker.result)
            results["password_in_logs"] |= emulator.password in worker.output
        routes = {f"route-lone_{n:02d}": [f"+{LONE_NUMBER.format(index=n)}"] for n in range(lone)}
        worker = run_worker(
            "alerts_storm.py",
            ["--part", "lone", "--size", str(lone), "--control", emulator.url],
            _alerts_env(env, emulator, destinations="+447700903998", routes=json.dumps(routes)),
            log_dir / "lone",
        )
        results["lone"] = worker.result
        results["password_in_logs"] |= emulator.password in worker.output
    return results


def databases(env: dict[str, str], log_dir: Path, sizes: Sequence[int]) -> list[dict[str, Any]]:
    """PostgreSQL (tests/distributed_support.py), a database per size, migrated and seeded; then
    the sizes timed in turn, ``DB_ROUNDS`` times, so a busy spell of the machine hits both."""
    sys.path.insert(0, str(ROOT / "tests"))
    from distributed_support import BackingServices

    services = BackingServices(log_dir / "postgres")
    (log_dir / "postgres").mkdir(parents=True, exist_ok=True)
    services.start()
    try:
        with tempfile.TemporaryDirectory(prefix="airflow-signal-bench-pg-") as homes:
            envs = {rows: _database(services, env, Path(homes), f"storm_{rows}") for rows in sizes}
            seeds = {rows: _db_worker("seed", rows, envs[rows], log_dir) for rows in sizes}
            rounds: dict[int, list[dict[str, Any]]] = {rows: [] for rows in sizes}
            for turn in range(DB_ROUNDS):
                for rows in sizes if turn % 2 == 0 else reversed(sizes):
                    rounds[rows].append(_db_worker("time", rows, envs[rows], log_dir))
        return [{**_pooled(rounds[rows]), "seed": seeds[rows]} for rows in sizes]
    finally:
        services.stop()


def _database(services: Any, env: dict[str, str], homes: Path, name: str) -> dict[str, str]:
    """A new database ``name`` on the server, migrated; the environment of its workers."""
    from airflow_support import run_command
    from distributed_support import DB_USER, _postgres_bin

    server = ["-h", "127.0.0.1", "-p", str(services.pg_port), "-U", DB_USER]
    created = run_command([str(_postgres_bin("createdb")), *server, name], timeout=60)
    if created.returncode != 0:
        raise RuntimeError(f"createdb {name} failed:\n{created.stdout}{created.stderr}")
    home = homes / name
    home.mkdir()
    url = services.sql_alchemy_conn.rsplit("/", 1)[0] + f"/{name}"
    pg_env = {**env, "AIRFLOW_HOME": str(home), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url}
    migrate(pg_env)
    return pg_env


def _db_worker(part: str, rows: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    args = ["--part", part, "--size", str(rows), "--control", ""]
    result: dict[str, Any] = run_worker(
        "alerts_storm.py", args, env, log_dir / f"db-{part}-{rows}", 1800
    ).result
    return result


def _pooled(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The samples of every round together."""
    first = rounds[0]
    return {
        "rows": first["rows"],
        "rounds": len(rounds),
        "found": first["found"],
        "tracked": first["tracked"],
        "first_sweep": [t for r in rounds for t in r["first_sweep"]],
        "later_sweep": [t for r in rounds for t in r["later_sweep"]],
        "decision": {name: [t for r in rounds for t in r["decision"][name]] for name in first["decision"]},
    }


def run(env: dict[str, str], log_dir: Path, quick: bool = False) -> dict[str, Any]:
    sizes = (10, 100) if quick else STORM_SIZES
    db_sizes = (1_000, 100_000) if quick else DB_SIZES
    result = storms(env, log_dir, sizes, 5 if quick else LONE_SAMPLES)
    result["databases"] = databases(env, log_dir, db_sizes)
    return result


# -- figures -------------------------------------------------------------------------------------


def _p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) >= 2 else max(samples)


def _storm_figures(storm: dict[str, Any]) -> list[Figure]:
    timing = storm["settings"]
    section = (
        f"7. storm: N runs failing at once on one route (SQLite, AlertSender thread, defaults: group_wait "
        f"{timing['group_wait']:g} s, group_interval {timing['group_interval']:g} s, queue_size "
        f"{timing['queue_size']:g})"
    )
    size, messages = storm["size"], storm["messages"]
    deadline = timing["group_interval"] + timing["group_wait"] + SLACK
    after = storm["covered_after"]
    covers = sum(m["covers"] for m in messages)
    sent = f"{len(messages)} (runs named or counted: {', '.join(str(m['covers']) for m in messages)})"
    return [
        Figure(
            section,
            f"N = {size}: messages sent"
            + (
                f" ({storm['dropped']} of {size} dropped from the queue: the sweep decides them)"
                if storm["dropped"]
                else ""
            ),
            sent,
            f"≤ {MAX_MESSAGES}, every run once",
            len(messages) <= MAX_MESSAGES and covers == size,
        ),
        Figure(
            section,
            f"N = {size}: first failure submitted → the message covering the last one",
            "never" if after is None else f"{after:.1f} s",
            f"≤ {deadline:g} s",
            after is not None and after <= deadline,
        ),
        Figure(
            section,
            f"N = {size}: sender thread's CPU time over that span (process: {storm['process_cpu']:.2f} s)",
            f"{storm['thread_cpu']:.2f} s",
        ),
    ]


def _lone_figures(lone: dict[str, Any]) -> list[Figure]:
    timing = lone["settings"]
    section = (
        f"7. lone failure on a quiet route (SQLite, defaults: group_wait {timing['group_wait']:g} s); "
        "before grouping: 33.0 ms median end to end (section 6, 2026-12-02)"
    )
    latencies = lone["latencies"]
    if not latencies:
        return [Figure(section, "submit → alert received by the API", "never", "", False)]
    summary = Summary.of(latencies)
    return [
        Figure(
            section,
            f"submit → alert received by the API ({len(latencies)} of {lone['samples']} arrived)",
            summary.format(1, "s"),
            f"≈ group_wait ({timing['group_wait']:g} s)",
        ),
        Figure(
            section,
            "the same, p95",
            f"{_p95(latencies):.2f} s",
            "≤ group_wait + 1 s",
            _p95(latencies) <= timing["group_wait"] + 1,
        ),
    ]


def _db_figures(found: list[dict[str, Any]]) -> list[Figure]:
    small, large = found[0], found[-1]
    ratio = large["rows"] / small["rows"]
    section = (
        f"7. database time on PostgreSQL, {small['rows']:,} → {large['rows']:,} runs "
        f"({DB_DAGS:,} DAGs over a year, 3 % failed)"
    )

    def row(label: str, pick: Callable[[dict[str, Any]], list[float]], goal: bool) -> Figure:
        before, after = Summary.of(pick(small)), Summary.of(pick(large))
        slower = after.median / before.median
        return Figure(
            section,
            f"{label}: {before.format(1e3, 'ms')} → {after.format(1e3, 'ms')}",
            f"{slower:.2f}× at {ratio:g}× the runs",
            f"≤ {DB_RATIO:g}×" if goal else "",
            slower <= DB_RATIO if goal else None,
        )

    seeded = ", ".join(f"{r['rows']:,}: {r['seed']['seconds']:.0f} s" for r in found)
    return [
        row("first sweep (reads the whole window)", lambda r: r["first_sweep"], False),
        row("later sweep (by primary key)", lambda r: r["later_sweep"], True),
        row("one failure's decision (`triage`, rolled back)", lambda r: r["decision"]["triage"], True),
        row("… its `run_state` read", lambda r: r["decision"]["run_state"], False),
        row("… its `dag_state` read", lambda r: r["decision"]["dag_state"], False),
        row("… its `held_back_since` read", lambda r: r["decision"]["held_back_since"], False),
        Figure(
            section,
            "rows seeded (dag_run / task_instance / log) and seconds to seed",
            "; ".join(
                f"{r['seed']['counts']['dag_run']:,} / {r['seed']['counts']['task_instance']:,} / "
                f"{r['seed']['counts']['log']:,}"
                for r in found
            )
            + f" ({seeded})",
        ),
    ]


def figures(result: dict[str, Any]) -> list[Figure]:
    rows = [figure for storm in result["storms"] for figure in _storm_figures(storm)]
    rows += _lone_figures(result["lone"])
    if result.get("databases"):
        rows += _db_figures(result["databases"])
    return rows


if __name__ == "__main__":
    main()
