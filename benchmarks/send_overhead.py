"""2. Send overhead: ``SignalHook.send_message`` against a bare ``requests.Session().post``.

Both send the same body with the same Basic auth and headers over one kept-alive
connection each, to the emulator running in its own process. The hook reads a real
Airflow connection (``AIRFLOW_CONN_SIGNAL_DEFAULT``). Sends are interleaved in blocks
(hook block, bare block, then bare block, hook block, ...), each send timed on its own
with ``time.perf_counter``; the figure is the ratio of the two medians, per round and
over all rounds.

The bare baseline does what a careful caller must do at the least: encode the JSON
body, post it with a time-out, check the status and decode the answer.

A third sender, a second hook whose logger is switched off, is timed alongside as a
diagnostic: it shows how much of the hook's overhead is the one INFO line Airflow's
logging writes per message ("Signal message sent to ...").
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib import (
    DESTINATION,
    TEXT,
    EmulatorProcess,
    Summary,
    run_worker,
    worker_args,
    write_result,
)


def main(argv: Sequence[str] | None = None) -> None:
    args = worker_args(argv, sends=int, rounds=int, block=int)
    conn = json.loads(os.environ["AIRFLOW_CONN_SIGNAL_DEFAULT"])

    import requests

    from airflow_provider_signal.hooks.signal import SignalHook

    hook = SignalHook()  # signal_default, from the environment
    quiet_hook = SignalHook()
    quiet_hook._log = _NoLog()  # diagnostic only: the same hook without its per-message log line

    session = requests.Session()
    session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    session.auth = (conn["login"], conn["password"])
    url = f"{conn['host']}/signal/message"
    body = {"destination": DESTINATION.lstrip("+"), "text": TEXT}

    def bare() -> Any:
        response = session.post(url, data=json.dumps(body, ensure_ascii=False).encode(), timeout=(5.0, 10.0))
        response.raise_for_status()
        return response.json()

    def through_hook() -> Any:
        return hook.send_message(TEXT, DESTINATION)

    def through_quiet_hook() -> Any:
        return quiet_hook.send_message(TEXT, DESTINATION)

    senders: dict[str, Callable[[], Any]] = {
        "hook": through_hook,
        "bare": bare,
        "hook_no_log": through_quiet_hook,
    }
    names = list(senders)
    for send in senders.values():  # warm-up: connection lookup, lazy imports, TCP connect
        for _ in range(args.block):
            send()
    rounds: list[dict[str, list[float]]] = []
    for _ in range(args.rounds):
        samples: dict[str, list[float]] = {name: [] for name in senders}
        for block in range(args.sends // args.block):
            shift = block % len(names)
            for name in names[shift:] + names[:shift]:
                send = senders[name]
                timings = samples[name]
                for _ in range(args.block):
                    started = time.perf_counter()
                    send()
                    timings.append(time.perf_counter() - started)
        rounds.append(samples)
    hook.close()
    quiet_hook.close()
    session.close()
    write_result(args.result, rounds)


class _NoLog:
    def info(self, *args: Any, **kwargs: Any) -> None:
        pass

    warning = error = debug = info


def run(sends: int, rounds: int, block: int, env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    with EmulatorProcess() as emulator:
        emulator.control.reset()
        worker = run_worker(
            "send_overhead.py",
            ["--sends", str(sends), "--rounds", str(rounds), "--block", str(block)],
            {**env, "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json},
            log_dir,
        )
        stats = emulator.control.stats()
        leaked = emulator.password in worker.output
    data: list[dict[str, list[float]]] = worker.result
    pooled = {name: Summary.of([t for samples in data for t in samples[name]]) for name in data[0]}

    def ratio_per_round(name: str) -> Summary:
        return Summary.of([Summary.of(r[name]).median / Summary.of(r["bare"]).median for r in data])

    expected = len(pooled) * (block + sends * rounds)
    return {
        "hook": pooled["hook"],
        "bare": pooled["bare"],
        "hook_no_log": pooled["hook_no_log"],
        "ratio": pooled["hook"].median / pooled["bare"].median,
        "ratio_rounds": ratio_per_round("hook"),
        "ratio_no_log": pooled["hook_no_log"].median / pooled["bare"].median,
        "ratio_no_log_rounds": ratio_per_round("hook_no_log"),
        "sends": sends,
        "rounds": rounds,
        "block": block,
        "messages_received": stats["messages"],
        "messages_expected": expected,
        "connections": stats["connections"],
        "password_in_logs": leaked,
    }


if __name__ == "__main__":
    main()
