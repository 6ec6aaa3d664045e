"""3. Fan-out: one ``send_message`` to many recipients.

Each run creates a ``SignalHook`` (as the operator and the notifier do), sends one text
to every recipient, closes the hook, and asks the emulator how many requests, messages
and TCP connections it saw. Timed: hook creation, connection look-up, all sends and the
close. One untimed send first pays the one-off imports (``requests``), as the first send
of a worker process would.

Scenarios (``run``): a fast local API, with the default pool and one at a time
(``workers=1``); an API that answers every request ``latency`` seconds late, one at a time
(the provider before the fan-out pool, whose deadline never bites at this latency) and
with the default pool; an API that never answers, with a short time-out, against the
deadline of one ``time_budget``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchlib import TEXT, EmulatorControl, EmulatorProcess, Summary, run_worker, worker_args, write_result

HANG_TIMEOUT = 2.0
"""Read time-out (seconds, no retry) of the never-answering scenario: a ``time_budget`` of 4 s."""


def recipients(count: int) -> list[str]:
    return [f"+4477009{index:05d}" for index in range(count)]


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, recipients=int, runs=int, emulator=str, workers=int, latency=float, hang=int)
    from airflow_provider_signal.errors import SignalDeliveryError
    from airflow_provider_signal.hooks.signal import SignalHook

    control = EmulatorControl(args.emulator)
    numbers = recipients(args.recipients)
    warm = SignalHook()
    warm.send_message(TEXT, numbers[0])
    warm.close()
    runs = []
    for _ in range(args.runs):
        control.reset()
        control_connections = 0  # each control request after the reset is one connection
        if args.latency:
            control.fail_next(args.recipients, delay=args.latency)  # answered normally, late
            control_connections += 1
        if args.hang:
            control.fail_next(args.recipients, action="hang", hang_seconds=5)
            control_connections += 1
        started = time.perf_counter()
        hook = SignalHook()
        if args.workers:
            hook.fanout_workers = args.workers
        try:
            results, failures = hook.send_message(TEXT, numbers), []
        except SignalDeliveryError as error:
            results, failures = error.results, error.failures
        hook.close()
        elapsed = time.perf_counter() - started
        stats = control.stats()
        runs.append(
            {
                "seconds": elapsed,
                "results": len(results),
                "failures": len(failures),
                "maybe_delivered": sum(f.maybe_delivered for f in failures),
                "budget": hook.settings.time_budget,
                "workers": getattr(hook, "fanout_workers", 1),  # 1: a provider before the pool
                "connections": stats["connections"] - control_connections,
                "requests": stats["requests"],
                "messages": stats["messages"],
            }
        )
    write_result(args.result, runs)


def _scenario(
    name: str,
    emulator: EmulatorProcess,
    count: int,
    runs: int,
    env: dict[str, str],
    log_dir: Path,
    **opts: Any,
) -> dict[str, Any]:
    conn = json.loads(emulator.connection_json)
    conn["extra"] = {**conn.get("extra", {}), **opts.pop("extra", {})}
    worker = run_worker(
        "fanout.py",
        [
            *("--recipients", str(count), "--runs", str(runs), "--emulator", emulator.url),
            *("--workers", str(opts.get("workers", 0)), "--latency", str(opts.get("latency", 0.0))),
            *("--hang", str(int(opts.get("hang", False)))),
        ],
        {**env, "AIRFLOW_CONN_SIGNAL_DEFAULT": json.dumps(conn)},
        log_dir / name,
    )
    data: list[dict[str, Any]] = worker.result
    return {
        "recipients": count,
        "workers": data[0]["workers"],
        "budget": data[0]["budget"],
        "seconds": Summary.of([r["seconds"] for r in data]),
        "connections": [r["connections"] for r in data],
        "requests": [r["requests"] for r in data],
        "delivered": [r["results"] for r in data],
        "failed": [r["failures"] for r in data],
        "maybe_delivered": [r["maybe_delivered"] for r in data],
        "all_delivered": all(r["messages"] == count and r["results"] == count for r in data),
        "password_in_logs": emulator.password in worker.output,
    }


def run(
    count: int, runs: int, env: dict[str, str], log_dir: Path, latency_count: int = 20, latency: float = 0.2
) -> dict[str, Any]:
    with EmulatorProcess() as emulator:
        fast = _scenario("fast", emulator, count, runs, env, log_dir)
        fast_sequential = _scenario("fast-sequential", emulator, count, runs, env, log_dir, workers=1)
        slow_sequential = _scenario(
            "slow-sequential", emulator, latency_count, runs, env, log_dir, workers=1, latency=latency
        )
        slow_pool = _scenario("slow-pool", emulator, latency_count, runs, env, log_dir, latency=latency)
        hang = _scenario(
            "hang",
            emulator,
            latency_count,
            max(1, runs // 2),
            env,
            log_dir,
            hang=True,
            extra={"timeout": HANG_TIMEOUT, "retries": 0},
        )
    return {
        **fast,
        "per_recipient": Summary.of([s / count for s in fast["seconds"].samples]),
        "fast_sequential": fast_sequential,
        "latency": latency,
        "slow_sequential": slow_sequential,
        "slow_pool": slow_pool,
        "hang": hang,
        "password_in_logs": any(
            s["password_in_logs"] for s in (fast, fast_sequential, slow_sequential, slow_pool, hang)
        ),
    }


if __name__ == "__main__":
    main()
