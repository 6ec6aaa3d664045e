"""`make demo`, last step (Airflow 3): a DAG file that stops importing, and its Signal message.

In a deployment the DAG processor records the import error and the scheduler's watcher sends the
message. Here, cheaply: ``airflow dags reserialize`` parses a copy of ``demo/dags`` twice (the file
imports, then a bad import is appended), which records the DAG and then the import error as the
DAG processor would; then one sweep of the scheduler's watcher runs in a subprocess and sends.
Airflow 2.11's ``dags reserialize`` records no import errors, so the step is skipped there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

SWEEP = (
    "from airflow_provider_signal.alerts.config import load_settings\n"
    "from airflow_provider_signal.alerts.import_watcher import ImportErrorWatcher\n"
    "print(ImportErrorWatcher(load_settings()).sweep())\n"
)


def show_broken_file(
    airflow: Callable[[list[str], dict[str, str]], subprocess.CompletedProcess[str]],
    env: dict[str, str],
    source: Path,
) -> str | None:
    """Break a copy of ``source`` (a DAG file), let one sweep send; the sweep's error if any."""
    if int(version("apache-airflow").split(".", 1)[0]) < 3:
        return None
    folder = Path(env["AIRFLOW_HOME"]) / "broken-dags"
    folder.mkdir(exist_ok=True)
    copy = folder / source.name
    shutil.copy(source, copy)
    step_env = {
        **env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "AIRFLOW__SIGNAL_ALERTS__NOTIFY_ON": "failure,import_error",
        "AIRFLOW__SIGNAL_ALERTS__IMPORT_ERROR_WINDOW": "0",
    }
    for step in ("imports", "broken"):
        if step == "broken":
            copy.write_text(source.read_text() + "\nimport warehouse_client  # not installed\n")
        done = airflow(["dags", "reserialize"], step_env)
        if done.returncode != 0:
            return f"airflow dags reserialize ({step}) failed:\n{done.stderr[-2000:]}"
    sweep = subprocess.run(
        [sys.executable, "-c", SWEEP], env=step_env, capture_output=True, text=True, timeout=600, check=False
    )
    if sweep.returncode != 0 or sweep.stdout.strip().splitlines()[-1:] != ["1"]:
        return f"the import-error sweep sent nothing:\n{sweep.stdout[-2000:]}{sweep.stderr[-2000:]}"
    return None
