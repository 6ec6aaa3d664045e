"""5. Deployment-wide alerts: the plugin's import cost, and the scheduler thread's time per failed run.

Import: each sample is a fresh interpreter that imports ``airflow.plugins_manager`` (what
Airflow has loaded when it reads plugins) and then times, with ``time.perf_counter``, the
import of ``airflow_provider_signal.alerts.plugin`` (the class body decides whether to
register the listener), with ``[signal_alerts] enabled`` off and on, alternating.

Listener: one worker with a migrated SQLite metadata database and the emulator (its own
process) told to hang on every request. It calls the listener's ``on_dag_run_failed`` the way
the scheduler does, with a DagRun object per failed run (a new DAG each, so no cooldown
applies), and times each call on the calling thread; the background sender meanwhile reads
the database and waits on the hanging API. Once with room in the queue, once with a full
queue (every call then drops its alert and logs an error).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import EmulatorProcess, Figure, Summary, migrate, run_worker, worker_args, write_result

START, END = "BENCH-IMPORT-START", "BENCH-IMPORT-END"
_IMPORT_SAMPLE = """
import json, sys, time
import airflow.plugins_manager
before = set(sys.modules)
started = time.perf_counter()
import airflow_provider_signal.alerts.plugin as plugin
elapsed = time.perf_counter() - started
print(json.dumps({
    "seconds": elapsed,
    "listeners": len(plugin.SignalAlertsPlugin.listeners),
    "requests_imported": "requests" in sys.modules and "requests" not in before,
    "requests_before": "requests" in before,
}))
"""


def _import_sample(env: dict[str, str], enabled: bool) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_SAMPLE],
        env={**env, "AIRFLOW__SIGNAL_ALERTS__ENABLED": str(enabled)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def import_cost(samples: int, env: dict[str, str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for _ in range(1):  # warm-up, untimed: disk caches, .pyc files
        _import_sample(env, False)
        _import_sample(env, True)
    for index in range(samples):
        order = ("off", "on") if index % 2 == 0 else ("on", "off")
        for name in order:
            runs[name].append(_import_sample(env, name == "on"))
    return {
        name: {
            "seconds": Summary.of([r["seconds"] for r in result]),
            "listeners": sorted({r["listeners"] for r in result}),
            "requests_imported": sum(r["requests_imported"] for r in result),
            "requests_before": sum(r["requests_before"] for r in result),
            "n": len(result),
        }
        for name, result in runs.items()
    }


# -- the listener worker ---------------------------------------------------------------------------


def _dag_run(index: int) -> Any:
    from datetime import datetime, timedelta, timezone

    from airflow.models.dagrun import DagRun

    end = datetime.now(timezone.utc)
    logical = {"logical_date": end} if hasattr(DagRun, "logical_date") else {"execution_date": end}
    run = DagRun(
        dag_id=f"bench_dag_{index}",
        run_id=f"bench_run_{index}",
        run_type="scheduled",
        state="failed",
        **logical,
    )
    run.start_date = end - timedelta(seconds=42)
    run.end_date = end
    return run


def _time_calls(listener: Any, first: int, count: int) -> list[float]:
    runs = [_dag_run(first + n) for n in range(count)]
    timings = []
    for run in runs:
        started = time.perf_counter()
        listener.on_dag_run_failed(dag_run=run, msg="task_failure")
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, calls=int)
    import logging

    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.alerts.listener import SignalAlertListener

    settings = load_settings()
    roomy = SignalAlertListener()
    first_run = _dag_run(-1)
    first_started = time.perf_counter()
    roomy.on_dag_run_failed(dag_run=first_run, msg="task_failure")  # reads settings, starts the thread
    first_call = time.perf_counter() - first_started
    queued = _time_calls(roomy, 0, args.calls)
    # A full queue: the sender holds one alert on the hanging API and 2 wait; the rest are dropped.
    from dataclasses import replace

    full = SignalAlertListener(settings=replace(settings, queue_size=2))
    logging.getLogger("airflow_provider_signal").setLevel(logging.ERROR)
    dropped = _time_calls(full, 100_000, args.calls)
    sender = full._sender
    write_result(
        args.result,
        {
            "first_call": first_call,
            "queued": queued,
            "dropped": dropped,
            "dropped_count": sender.dropped if sender else 0,
            "send_timeout": settings.send_timeout,
            "queue_size": settings.queue_size,
        },
    )
    os._exit(0)  # the sender threads are waiting on the hanging API: do not wait for them


def listener_time(calls: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    migrate(env)
    with EmulatorProcess() as emulator:
        emulator.control.fail_next(1000, action="hang", hang_seconds=120)
        worker = run_worker(
            "alerts.py",
            ["--calls", str(calls)],
            {
                **env,
                "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json,
                "AIRFLOW__SIGNAL_ALERTS__ENABLED": "True",
                "AIRFLOW__SIGNAL_ALERTS__DESTINATIONS": "+447700900123",
                "AIRFLOW__SIGNAL_ALERTS__QUEUE_SIZE": str(calls + 10),
            },
            log_dir,
        )
        requests = emulator.control.stats()["requests"]
    data = worker.result
    return {
        "calls": calls,
        "first_call": data["first_call"],
        "queued": Summary.of(data["queued"]),
        "queued_max": max(data["queued"]),
        "dropped": Summary.of(data["dropped"]),
        "dropped_count": data["dropped_count"],
        "send_timeout": data["send_timeout"],
        "api_requests": requests,
        "password_in_logs": emulator.password in worker.output,
    }


def run(import_samples: int, calls: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    return {"import": import_cost(import_samples, env), "listener": listener_time(calls, env, log_dir)}


def figures(result: dict[str, Any]) -> list[Figure]:
    ms, us = 1e3, 1e6
    section = "5. alerts for every DAG (`[signal_alerts]`)"
    off, on = result["import"]["off"], result["import"]["on"]
    listener = result["listener"]
    requests = off["requests_imported"] + on["requests_imported"]
    queued, dropped = listener["queued"], listener["dropped"]
    return [
        Figure(
            section,
            f"plugin import, alerts off (listeners registered: {'/'.join(map(str, off['listeners']))})",
            off["seconds"].format(ms, "ms"),
            "≤ 5 ms",
            off["seconds"].median <= 0.005,
        ),
        Figure(
            section,
            f"plugin import, alerts on (listeners registered: {'/'.join(map(str, on['listeners']))})",
            on["seconds"].format(ms, "ms"),
            "≤ 20 ms",
            on["seconds"].median <= 0.020,
        ),
        Figure(
            section,
            "samples where the plugin import imported `requests` (off + on)",
            f"{requests} of {off['n'] + on['n']}",
            "0",
            requests == 0,
        ),
        Figure(
            section,
            f"listener per failed run, API hanging, alert queued ({listener['calls']} runs; max "
            f"{listener['queued_max'] * us:.0f} µs)",
            queued.format(us, "µs"),
            "< 1 ms",
            queued.median < 0.001,
        ),
        Figure(
            section,
            f"listener per failed run, queue full: alert dropped, logged ({listener['dropped_count']} "
            "dropped)",
            dropped.format(us, "µs"),
            "< 1 ms",
            dropped.median < 0.001,
        ),
        Figure(
            section,
            "listener, first failed run in a process (reads `[signal_alerts]`, starts the thread)",
            f"{listener['first_call'] * ms:.2f} ms",
        ),
    ]


if __name__ == "__main__":
    main()
