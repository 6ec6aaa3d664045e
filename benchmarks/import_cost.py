"""1. Import cost at DAG parse time.

Each sample is a fresh interpreter that runs ``from airflow.sdk import DAG`` (what a DAG
file does first) and then times, with ``time.perf_counter``, the import of one target's
modules and public names, as ``from ... import ...`` statements do. The same span's CPU time
(``time.thread_time``) is kept too: on a busy machine it leaves out the waits for a core.
Targets are sampled round-robin (order rotated every round) so a slow spell of the machine
hits all of them alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchlib import DESTINATION, Summary

TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "signal": {
        "airflow_provider_signal.notifications.signal": ("SignalNotifier", "send_signal_notification"),
        "airflow_provider_signal.callbacks": (
            "signal_failure_callback",
            "signal_retry_callback",
            "signal_success_callback",
        ),
        "airflow_provider_signal.operators.signal": ("SignalSendOperator",),
    },
    "slack": {"airflow.providers.slack.notifications.slack": ("SlackNotifier", "send_slack_notification")},
    "smtp": {"airflow.providers.smtp.notifications.smtp": ("SmtpNotifier", "send_smtp_notification")},
    "apprise": {
        "airflow.providers.apprise.notifications.apprise": ("AppriseNotifier", "send_apprise_notification")
    },
}
"""Per target, the modules a DAG file imports and the names it takes from them (a
``from module import name`` statement: a name loaded lazily is paid for here too)."""

FLOOR_PACKAGE = "import_floor"
FLOOR_MODULES = (
    "notifications/__init__",
    "_compat",
    "notifications/signal",
    "callbacks",
    "operators/__init__",
    "operators/signal",
)
"""The modules ours loads at parse (``defaults`` is loaded with the provider info before), as
empty files: what the import machinery alone costs for that many modules on this machine."""
TARGETS["floor"] = {
    f"{FLOOR_PACKAGE}.{path.removesuffix('/__init__').replace('/', '.')}": () for path in FLOOR_MODULES
}

_SAMPLE = """
import json, sys, time
from airflow.sdk import DAG
modules = {modules!r}
__import__(next(iter(modules)).split(".")[0])  # the top-level package, loaded before as ours is
before = set(sys.modules)
started, started_cpu = time.perf_counter(), time.thread_time()
for name, names in modules.items():
    module = __import__(name, fromlist=names)  # as `from name import names` does
    for attribute in names:
        getattr(module, attribute)
elapsed, cpu = time.perf_counter() - started, time.thread_time() - started_cpu
result = {{
    "seconds": elapsed,
    "cpu_seconds": cpu,
    "new_modules": len(set(sys.modules) - before),
    "requests_before": "requests" in before,
    "requests_imported": "requests" in sys.modules and "requests" not in before,
}}
if {check_dag!r}:
    # Build a DAG the way users do; requests must still be absent (it loads at the first send).
    from airflow_provider_signal.callbacks import signal_failure_callback, signal_retry_callback
    from airflow_provider_signal.notifications.signal import send_signal_notification
    from airflow_provider_signal.operators.signal import SignalSendOperator

    with DAG(
        "bench_signal",
        schedule=None,
        default_args={{
            "on_failure_callback": signal_failure_callback(),
            "on_retry_callback": signal_retry_callback,
        }},
        on_failure_callback=send_signal_notification(destinations={destination!r}),
    ):
        SignalSendOperator(task_id="send", text="Loaded {{{{ ds }}}}", destinations={destination!r})
    result["requests_after_dag"] = "requests" in sys.modules
print("BENCH-RESULT " + json.dumps(result))
"""


def _code(target: str) -> str:
    return _SAMPLE.format(modules=TARGETS[target], check_dag=target == "signal", destination=DESTINATION)


def _sample(target: str, env: dict[str, str]) -> tuple[dict[str, Any], str]:
    args = [sys.executable, "-c", _code(target)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("BENCH-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"import sample of {target} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1].split(" ", 1)[1]), proc.stderr


# -- the measurement -----------------------------------------------------------------------------


def _floor_package(root: Path) -> None:
    for path in ("__init__", *FLOOR_MODULES):
        module = root / FLOOR_PACKAGE / f"{path}.py"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text("")


def run(samples: int, env: dict[str, str], log: Path) -> dict[str, Any]:
    root = Path(env["AIRFLOW_HOME"]) / "import-floor"
    _floor_package(root)
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))}
    order = list(TARGETS)
    for target in order:  # warm-up: byte-code caches, Airflow's first-run files; not counted
        _sample(target, env)
    raw: dict[str, list[dict[str, Any]]] = {target: [] for target in order}
    for round_no in range(samples):
        shift = round_no % len(order)
        for target in order[shift:] + order[:shift]:
            raw[target].append(_sample(target, env)[0])
        print(f"  import round {round_no + 1}/{samples}", file=sys.stderr, flush=True)
    log.write_text(json.dumps({"raw": raw}, indent=1))
    seconds = {target: [sample["seconds"] for sample in raw[target]] for target in order}
    cpu = {target: [sample["cpu_seconds"] for sample in raw[target]] for target in order}
    signal = raw["signal"]
    return {
        "seconds": {target: Summary.of(values) for target, values in seconds.items()},
        "cpu_seconds": {target: Summary.of(values) for target, values in cpu.items()},
        "above_floor": Summary.of(
            [ours - floor for ours, floor in zip(seconds["signal"], seconds["floor"], strict=True)]
        ),
        "ratio_to_slack": Summary.of(
            [ours / slack for ours, slack in zip(seconds["signal"], seconds["slack"], strict=True)]
        ),
        "requests_imported": {
            target: sum(sample["requests_imported"] for sample in raw[target]) for target in order
        },
        "requests_before": {
            target: sum(sample["requests_before"] for sample in raw[target]) for target in order
        },
        "requests_after_dag": sum(sample["requests_after_dag"] for sample in signal),
        "new_modules": {
            target: Summary.of([s["new_modules"] for s in raw[target]]).median for target in order
        },
        "samples": samples,
    }
