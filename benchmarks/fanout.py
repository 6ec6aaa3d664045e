"""3. Fan-out: one ``send_message`` to many recipients.

Each run creates a ``SignalHook`` (as the operator and the notifier do), sends one text
to every recipient, closes the hook, and asks the emulator how many TCP connections it
accepted. Timed: hook creation, connection look-up, all sends and the close. One
untimed send first pays the one-off imports (``requests``), as the first send of a
worker process would.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import TEXT, EmulatorControl, EmulatorProcess, Summary, run_worker, worker_args, write_result


def recipients(count: int) -> list[str]:
    return [f"+4477009{index:05d}" for index in range(count)]


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, recipients=int, runs=int, emulator=str)
    from airflow_provider_signal.hooks.signal import SignalHook

    control = EmulatorControl(args.emulator)
    numbers = recipients(args.recipients)
    warm = SignalHook()
    warm.send_message(TEXT, numbers[0])
    warm.close()
    runs = []
    for _ in range(args.runs):
        control.reset()
        started = time.perf_counter()
        hook = SignalHook()
        results = hook.send_message(TEXT, numbers)
        hook.close()
        elapsed = time.perf_counter() - started
        stats = control.stats()
        runs.append(
            {
                "seconds": elapsed,
                "results": len(results),
                "connections": stats["connections"],
                "requests": stats["requests"],
                "messages": stats["messages"],
            }
        )
    write_result(args.result, runs)


def run(count: int, runs: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    with EmulatorProcess() as emulator:
        worker = run_worker(
            "fanout.py",
            ["--recipients", str(count), "--runs", str(runs), "--emulator", emulator.url],
            {**env, "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json},
            log_dir,
        )
        leaked = emulator.password in worker.output
    data: list[dict[str, Any]] = worker.result
    return {
        "recipients": count,
        "seconds": Summary.of([r["seconds"] for r in data]),
        "per_recipient": Summary.of([r["seconds"] / count for r in data]),
        "connections": [r["connections"] for r in data],
        "all_delivered": all(r["messages"] == count and r["results"] == count for r in data),
        "requests": [r["requests"] for r in data],
        "password_in_logs": leaked,
    }


if __name__ == "__main__":
    main()
