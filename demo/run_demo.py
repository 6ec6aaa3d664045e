"""`make demo`: run the example DAGs end to end against the local Signal API emulator.

Uses a throwaway AIRFLOW_HOME with SQLite, runs each example DAG with
`airflow dags test`, prints every message the emulator received, and exits 0 when
the expected messages (including the failure alert of the task that fails on
purpose) arrived. Nothing is left running.

Last, ``demo/dags/demo_nightly_report.py`` (a DAG with no callbacks at all) fails with
``[signal_alerts] enabled``: its alert comes from the deployment-wide listener alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from broken_file import show_broken_file

from airflow_provider_signal.testing import SignalAPIEmulator

AIRFLOW_MAJOR = int(version("apache-airflow").split(".", 1)[0])
ROOT = Path(__file__).resolve().parent.parent
DAGS = ("example_signal_send", "example_signal_alerts")
ALERTS_DAG = "demo_nightly_report"
ALERTS_CONFIG = {
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "demo" / "dags"),
    "AIRFLOW__SIGNAL_ALERTS__ENABLED": "True",
    "AIRFLOW__SIGNAL_ALERTS__ROUTES": '{"team-data": ["+447700900555"]}',
    "AIRFLOW__API__BASE_URL": "http://localhost:8080",  # Airflow 3: the run's link
    "AIRFLOW__WEBSERVER__BASE_URL": "http://localhost:8080",  # Airflow 2.11
}


def airflow(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="airflow-signal-demo-"))
    emulator = SignalAPIEmulator(system_id="demo", password="demo-password").start()  # noqa: S106
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_SIGNAL_DEFAULT": emulator.connection_json(),
    }
    print(f"Signal API emulator on {emulator.url}; throwaway AIRFLOW_HOME {home}")
    try:
        started = time.monotonic()
        migrate = airflow(["db", "migrate"], env)
        if migrate.returncode != 0:
            print(migrate.stdout[-3000:], migrate.stderr[-3000:], sep="\n")
            print("FAILED: airflow db migrate")
            return 1
        for dag_id in (*DAGS, ALERTS_DAG):
            before = len(emulator.messages)
            run = airflow(["dags", "test", dag_id], {**env, **ALERTS_CONFIG} if dag_id == ALERTS_DAG else env)
            print(f"\n== airflow dags test {dag_id} (exit {run.returncode})")
            if run.returncode not in (0, 1) or ("Traceback" in run.stderr and "ValueError" not in run.stderr):
                print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
            for message in emulator.messages[before:]:
                print(f"\n-> to {message.destination}:")
                print("   " + message.text.replace("\n", "\n   "))
        before = len(emulator.messages)
        source = ROOT / "demo" / "dags" / f"{ALERTS_DAG}.py"
        broken = show_broken_file(airflow, {**env, **ALERTS_CONFIG}, source)
        print("\n== a DAG file that stops importing ([signal_alerts] notify_on import_error)")
        if broken:
            print(broken)
        for message in emulator.messages[before:]:
            print(f"\n-> to {message.destination}:")
            print("   " + message.text.replace("\n", "\n   "))
        messages = emulator.messages
        texts = "\n".join(m.text for m in messages)
        expected = {
            "report to two people": sum("loaded 1250 rows" in m.text for m in messages) == 2,
            "success alert for extract": "succeeded" in texts and "Task: extract" in texts,
            "failure alert for load": "Task: load" in texts and "ValueError: could not load 42 rows" in texts,
            "DAG-level failure alert": "DAG example_signal_alerts run" in texts,
            "[signal_alerts] alert for a DAG without callbacks, to its team": any(
                m.destination == "447700900555"
                and f"DAG: {ALERTS_DAG}" in m.text
                and "Failed tasks: extract" in m.text
                for m in messages
            ),
            "[signal_alerts] message for a broken DAG file (Airflow 3)": AIRFLOW_MAJOR < 3
            or any(m.text.startswith("❌ Airflow DAG file broken") for m in messages),
        }
        print(f"\n{len(messages)} message(s) delivered in {time.monotonic() - started:.0f} s")
        for what, ok in expected.items():
            print(f"  [{'ok' if ok else 'MISSING'}] {what}")
        return 0 if all(expected.values()) else 1
    finally:
        emulator.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
