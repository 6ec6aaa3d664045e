"""Import-error alerts in a real Airflow deployment (tests/airflow_support.py): the DAG processor
records import errors, the scheduler's watcher reads them and sends through the emulator.

The shared single-node deployment (``notify_on`` includes ``import_error``) serves every scenario,
in order; each scenario breaks its own file (tests/dag_files/imports/) by overwriting it, so one
scenario's message never counts as another's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_provider_signal.testing import ReceivedMessage
from airflow_support import (
    AIRFLOW_3,
    ALERTS_CONFIG,
    DAG_FILES,
    DEFAULT_DESTINATION,
    TEAM_DATA,
    Deployment,
    wait_until,
)

FILES = DAG_FILES / "imports"
CONFIG = ALERTS_CONFIG  # notify_on has import_error; a 2 s watch interval
DAG_IDS = (
    "imports_solo",
    "imports_muted",
    "imports_hang",
    "imports_healthy",
    "imports_shared_a",
    "imports_shared_b",
    "imports_shared_c",
    "imports_killed",
)
MISSING_IMPORT = "\nimport imports_missing_package\n"


@pytest.fixture(scope="module")
def imports(airflow_deployment: Deployment) -> Deployment:
    airflow_deployment.wait_for_dags(*DAG_IDS)
    return airflow_deployment


def about(name: str) -> Callable[[ReceivedMessage], bool]:
    return lambda message: name in message.text


def messages_about(deployment: Deployment, name: str) -> list[ReceivedMessage]:
    return [m for m in deployment.emulator.messages if about(name)(m)]


def wait_for_messages(deployment: Deployment, name: str, count: int) -> list[ReceivedMessage]:
    wait_until(
        lambda: len(messages_about(deployment, name)) >= count,
        f"no {count} message(s) about {name}",
        deployment,
    )
    return messages_about(deployment, name)


def alerts_log(deployment: Deployment) -> str:
    """Every component's log: the scheduler decides, any process that sends may send."""
    return "\n".join(Path(c.log_path).read_text(errors="replace") for c in deployment.components.values())


def parsed_at(deployment: Deployment, name: str) -> str | None:
    """The time of the file's last failed parse (Airflow updates its import error each time)."""
    for error in deployment.api("GET", "/importErrors")["import_errors"]:
        if str(error["filename"]).endswith(name):
            return str(error["timestamp"])
    return None


def wait_for_failed_parses(deployment: Deployment, name: str, count: int) -> None:
    seen: set[str] = set()

    def parsed() -> bool:
        stamp = parsed_at(deployment, name)
        if stamp:
            seen.add(stamp)
        return len(seen) >= count

    wait_until(parsed, f"{count} failed parses of {name} not seen", deployment)


def original(name: str) -> str:
    return (FILES / name).read_text()


def write(deployment: Deployment, name: str, text: str) -> None:
    (deployment.dags_folder / name).write_text(text)


def test_a_broken_file_sends_one_message_however_often_it_is_parsed(imports: Deployment) -> None:
    started = time.monotonic()
    write(imports, "imports_solo.py", original("imports_solo.py") + MISSING_IMPORT)
    [message] = wait_for_messages(imports, "imports_solo.py", 1)
    wait_for_failed_parses(imports, "imports_solo.py", 3)
    time.sleep(2 * float(CONFIG["signal_alerts"]["import_error_interval"]))  # a sweep after the last parse
    assert len(messages_about(imports, "imports_solo.py")) == 1
    text = message.text
    assert text.startswith("❌ Airflow DAG file broken\nFile: imports_solo.py")
    if AIRFLOW_3:
        assert "File: imports_solo.py (bundle dags-folder)" in text
    assert "\nDAGs: imports_solo\n" in text
    assert "Error: ModuleNotFoundError: No module named 'imports_missing_package'" in text
    assert "\nFirst seen: " in text
    assert f"Import errors: {imports.url}/{'dags' if AIRFLOW_3 else 'home'}" in text
    assert message.destination == TEAM_DATA  # routed by the tags of the DAG the file defined
    print(f"broken file: one message, 3 parses, in {time.monotonic() - started:.0f} s")


def test_a_different_error_in_the_broken_file_sends_one_more(imports: Deployment) -> None:
    write(imports, "imports_solo.py", original("imports_solo.py") + "\ndef broken(:\n")
    _, second = wait_for_messages(imports, "imports_solo.py", 2)
    assert second.text.startswith("❌ Airflow DAG file broken\nFile: imports_solo.py")
    assert "New error: SyntaxError" in second.text
    wait_for_failed_parses(imports, "imports_solo.py", 2)
    time.sleep(4)
    assert len(messages_about(imports, "imports_solo.py")) == 2


def test_the_file_fixed_sends_one_fixed_message(imports: Deployment) -> None:
    write(imports, "imports_solo.py", original("imports_solo.py"))
    *_, fixed = wait_for_messages(imports, "imports_solo.py", 3)
    assert fixed.text.startswith("✅ Airflow DAG file fixed\nFile: imports_solo.py")
    assert "\nBroken for: " in fixed.text
    time.sleep(8)
    assert len(messages_about(imports, "imports_solo.py")) == 3


def test_a_broken_shared_module_sends_one_message_naming_its_three_files(imports: Deployment) -> None:
    write(imports, "imports_helper.py", 'raise RuntimeError("imports_helper is broken")\n')
    try:
        [message] = wait_for_messages(imports, "imports_shared_a.py", 1)
        time.sleep(6)
        shared = [m for m in imports.emulator.messages if "imports_shared_" in m.text]
        assert shared == [message]
        assert message.text.startswith("❌ Airflow DAG file broken: 3 files\n")
        for name in ("a", "b", "c"):
            assert f"File: imports_shared_{name}.py" in message.text
            assert f"DAGs: imports_shared_{name}" in message.text
        assert message.text.count("Error: RuntimeError: imports_helper is broken") == 3
        assert message.destination == DEFAULT_DESTINATION
    finally:
        write(imports, "imports_helper.py", original("imports_helper.py"))


def test_a_muted_dags_file_sends_nothing(imports: Deployment) -> None:
    write(imports, "imports_muted.py", original("imports_muted.py") + MISSING_IMPORT)
    wait_until(
        lambda: "(broken) for imports_muted.py not sent: its DAGs are muted" in alerts_log(imports),
        "no 'muted' line in the scheduler's log",
        imports,
    )
    assert messages_about(imports, "imports_muted.py") == []


def test_a_hanging_api_holds_up_neither_parsing_nor_runs(imports: Deployment) -> None:
    imports.emulator.fail_next(1000, action="hang", hang_seconds=60)
    try:
        started = time.monotonic()
        write(imports, "imports_hang.py", original("imports_hang.py") + MISSING_IMPORT)
        runs = [imports.trigger("imports_healthy") for _ in range(2)]
        wait_until(
            lambda: "DAG file 'imports_hang.py' (broken) not delivered" in alerts_log(imports),
            "the hanging send not logged",
            imports,
        )
        wait_for_failed_parses(imports, "imports_hang.py", 3)  # parsing goes on meanwhile
        for run_id in runs:  # and so do other DAGs' runs
            assert imports.wait_for_run("imports_healthy", run_id) == "success"
        took = time.monotonic() - started
        wait_until(  # the marked copy hangs too: then nothing more is sent, API back or not
            lambda: "DAG file 'imports_hang.py' (broken) given up: two copies" in alerts_log(imports),
            "the marked copy not logged",
            imports,
        )
    finally:
        imports.emulator.clear_faults()
    assert "did not answer within 3 s" in alerts_log(imports)
    # It may have arrived: sent once more, marked (that copy hung too), and never a third time.
    assert "sending it again once, marked as a possible repeat" in alerts_log(imports)
    imports.check_components()
    time.sleep(3 * float(CONFIG["signal_alerts"]["import_error_interval"]))
    assert messages_about(imports, "imports_hang.py") == []
    print(f"hanging API: 3 failed parses seen and 2 runs finished in {took:.0f} s")


def test_a_scheduler_killed_between_recording_and_sending_an_import_error_still_sends_it(
    imports: Deployment,
) -> None:
    imports.emulator.fail_next(1000, action="hang", hang_seconds=120)
    try:
        before = imports.emulator.request_count
        write(imports, "imports_killed.py", original("imports_killed.py") + MISSING_IMPORT)
        wait_until(  # recorded and its own request out, hanging
            lambda: any(b"imports_killed.py" in r.body for r in imports.emulator.requests[before:]),
            "the import error's request never left",
            imports,
        )
        imports.kill("scheduler")
        imports.emulator.clear_faults()
        imports.start_again("scheduler")
        restarted = time.monotonic()
        [message] = wait_for_messages(imports, "imports_killed.py", 1)
        print(f"import error after a SIGKILL: sent {time.monotonic() - restarted:.0f} s after the restart")
    finally:
        imports.emulator.clear_faults()
        imports.start_again("scheduler")
    assert "File: imports_killed.py" in message.text
    assert "Sent again: the first attempt may not have arrived" in message.text
    imports.wait_until_healthy()
    time.sleep(3 * float(CONFIG["signal_alerts"]["import_error_interval"]))
    assert len(messages_about(imports, "imports_killed.py")) == 1
