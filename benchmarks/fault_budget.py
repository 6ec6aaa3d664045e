"""4. Time budget under faults: how long a failure callback takes when the API misbehaves.

The ready-made ``signal_failure_callback(destination)`` is called with a minimal
callback context, on a connection with the default settings (no ``timeout`` or
``retries`` extras), while the API hangs, refuses connections, or answers 503 forever
(with and without a long ``Retry-After``). Each scenario runs in a fresh worker
process; its time is compared with ``SignalClientSettings.time_budget`` of the
settings the hook actually read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import (
    DESTINATION,
    EmulatorControl,
    EmulatorProcess,
    Summary,
    closed_port,
    run_worker,
    worker_args,
    write_result,
)

_UNAVAILABLE = {"status": 503, "body": {"error": "Service Unavailable"}}
SCENARIOS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "hang": ("API accepts, never answers", {"action": "hang", "hang_seconds": 60}),
    "refused": ("connection refused (closed port)", None),
    "503": ("HTTP 503 forever", _UNAVAILABLE),
    "503-retry-after": (
        "HTTP 503 forever, Retry-After: 3600",
        {**_UNAVAILABLE, "headers": {"Retry-After": "3600"}},
    ),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOGGER_SUFFIX = re.compile(r"\s+\[[\w.]+\](\s+loc=\S+)?\s*$")


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, scenario=str, runs=int, emulator=str)
    from airflow_provider_signal.callbacks import signal_failure_callback
    from airflow_provider_signal.hooks.signal import SignalHook

    settings = SignalHook().settings  # what every callback's hook reads: the connection's defaults
    fault = SCENARIOS[args.scenario][1]
    control = EmulatorControl(args.emulator) if fault is not None else None
    runs = []
    for _ in range(args.runs):
        if control is not None:
            control.reset()
            control.fail_next(10_000, **fault)  # "forever" for this run
        callback = signal_failure_callback(DESTINATION)
        context = {"dag": None, "ti": None, "exception": ValueError("benchmark: the task failed")}
        raised = None
        started = time.perf_counter()
        try:
            callback(context)
        except Exception as error:  # an alert must never raise into the task
            raised = repr(error)
        elapsed = time.perf_counter() - started
        attempts = control.stats()["requests"] if control is not None else None
        runs.append({"seconds": elapsed, "raised": raised, "requests": attempts})
    write_result(
        args.result,
        {
            "budget": settings.time_budget,
            "timeout": settings.timeout,
            "retries": settings.retries,
            "runs": runs,
        },
    )


def _causes(output: str) -> list[str]:
    """The 'alert was not sent' lines the callback logged, one per run."""
    lines = [_ANSI.sub("", line) for line in output.splitlines() if "was not sent" in line]
    return [_LOGGER_SUFFIX.sub("", line.split("unchanged): ", 1)[-1]).strip() for line in lines]


def run(scenario: str, runs: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    fault = SCENARIOS[scenario][1]
    with EmulatorProcess() as emulator:
        connection = emulator.connection_json
        if fault is None:
            conn = json.loads(connection)
            conn["host"] = f"http://127.0.0.1:{closed_port()}"
            connection = json.dumps(conn)
        worker = run_worker(
            "fault_budget.py",
            ["--scenario", scenario, "--runs", str(runs), "--emulator", emulator.url],
            {**env, "AIRFLOW_CONN_SIGNAL_DEFAULT": connection},
            log_dir / scenario,
        )
        leaked = emulator.password in worker.output
    data = worker.result
    seconds = Summary.of([r["seconds"] for r in data["runs"]])
    return {
        "scenario": scenario,
        "label": SCENARIOS[scenario][0],
        "seconds": seconds,
        "budget": data["budget"],
        "timeout": data["timeout"],
        "retries": data["retries"],
        "within_budget": seconds.high <= data["budget"],
        "raised": [r["raised"] for r in data["runs"] if r["raised"]],
        "requests": [r["requests"] for r in data["runs"]],
        "causes": _causes(worker.output),
        "password_in_logs": leaked,
    }


if __name__ == "__main__":
    main()
