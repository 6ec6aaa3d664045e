"""6. Deployment-wide alerts end to end: from a run's end to the API receiving its alert, and from
the API coming back after an outage to the last pending alert delivered.

Both in a real single-node deployment started for the benchmark (the tests' harness,
``tests/airflow_support.py``: SQLite, the scheduler, the DAG processor, the API server, the
emulator), with ``[signal_alerts]`` on, ``cooldown = 0`` so every failed run alerts and no grouping
(``group_wait = group_interval = 0``): this measures the pipeline itself; the grouping's wait is
section 7's lone-failure figure.

Latency: failing runs of ``alerts_outage`` (tests/dag_files/alerts_dags.py) triggered one after
the other; for each, the run's ``end_date`` (REST API) to the emulator's ``received_at``, and the
provider's own timer ``signal_alerts.delivery_delay`` read from the StatsD socket.

Recovery: the emulator answers 503 to everything while a few runs fail, for ``outage`` seconds
(30) from the first run's end and until every alert has been tried twice; then it answers again.
The figure is the time from then to the last alert received. The sender retries with back-off
(1 s doubling, capped at 60 s), so the goal is the cap.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchlib import ROOT, Figure, Summary

sys.path.insert(0, str(ROOT / "tests"))

DAG_ID = "alerts_outage"
BACKOFF_CAP = 60.0


def _config() -> dict[str, dict[str, Any]]:
    from airflow_support import ALERTS_CONFIG

    alerts = {**ALERTS_CONFIG["signal_alerts"], "cooldown": 0, "group_wait": 0, "group_interval": 0}
    return {"signal_alerts": alerts}


def _end_of(deployment: Any, run_id: str) -> float:
    import urllib.parse

    run = deployment.api("GET", f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id)}")
    return datetime.fromisoformat(str(run["end_date"]).replace("Z", "+00:00")).timestamp()


def _arrival(deployment: Any, run_id: str, timeout: float = 180.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in deployment.emulator.messages:
            if f"Run: {run_id}" in message.text:
                return float(message.received_at)
        time.sleep(0.05)
    raise RuntimeError(f"no alert for {run_id} within {timeout:g} s")


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[-1] if len(samples) >= 2 else max(samples)


def run(latency_runs: int = 20, outage_runs: int = 5, outage: float = 30.0) -> dict[str, Any]:
    from airflow_support import DAG_FILES, METRICS_PREFIX, Deployment

    home = Path(tempfile.mkdtemp(prefix="signal-bench-alerts-"))
    deployment = Deployment(home, [DAG_FILES / "alerts_dags.py"], _config())
    try:
        deployment.start()
        deployment.wait_for_dags(DAG_ID)
        latencies = []
        for _ in range(latency_runs):
            run_id = deployment.trigger(DAG_ID)
            deployment.wait_for_run(DAG_ID, run_id)
            latencies.append(_arrival(deployment, run_id) - _end_of(deployment, run_id))
        timer = deployment.statsd.timings(f"{METRICS_PREFIX}.signal_alerts.delivery_delay")

        deployment.emulator.fail_next(1000, status=503)
        before = deployment.emulator.request_count
        run_ids = [deployment.trigger(DAG_ID) for _ in range(outage_runs)]
        for run_id in run_ids:
            deployment.wait_for_run(DAG_ID, run_id)
        # every alert tried at least twice: the outage is being ridden out with back-off
        deadline = time.monotonic() + 120
        while deployment.emulator.request_count - before < 2 * outage_runs and time.monotonic() < deadline:
            time.sleep(0.2)
        first_end = min(_end_of(deployment, run_id) for run_id in run_ids)
        time.sleep(max(0.0, first_end + outage - time.time()))  # an outage of ``outage`` s at least
        outage_seconds = time.time() - first_end
        back = time.time()
        deployment.emulator.clear_faults()
        last = max(_arrival(deployment, run_id) for run_id in run_ids)
    finally:
        deployment.stop()
    return {
        "latency": Summary.of(latencies),
        "p95": _p95(latencies),
        "timer_ms": Summary.of(timer) if timer else None,
        "recovery": last - back,
        "outage": outage_seconds,
        "outage_runs": outage_runs,
    }


def figures(result: dict[str, Any]) -> list[Figure]:
    section = "6. deployment-wide alerts end to end (single-node deployment, SQLite)"
    latency: Summary = result["latency"]
    timer: Summary | None = result["timer_ms"]
    rows = [
        Figure(section, "run's end → alert received by the API", latency.format(1e3, "ms")),
        Figure(section, "the same, p95", f"{result['p95'] * 1e3:.0f} ms", "≤ 1 s", result["p95"] <= 1.0),
    ]
    if timer is not None:
        rows.append(Figure(section, "`signal_alerts.delivery_delay` timer on StatsD", timer.format(1, "ms")))
    rows.append(
        Figure(
            section,
            f"API back after {result['outage']:.0f} s of 503 ({result['outage_runs']} alerts pending)"
            " → last one delivered",
            f"{result['recovery']:.1f} s",
            f"≤ {BACKOFF_CAP:g} s (the back-off cap)",
            result["recovery"] <= BACKOFF_CAP,
        )
    )
    return rows


if __name__ == "__main__":
    for figure in figures(run(*(int(arg) for arg in sys.argv[1:3]))):
        print(f"{figure.measure}: {figure.value}  (goal {figure.target or '-'}, met {figure.met})")
