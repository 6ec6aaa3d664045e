"""Registration with Airflow: entry point, provider_info schema, connection form, cheap imports."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_signal.provider_info import get_provider_info
from airflow_support import json_output, run_airflow


def test_provider_info_validates_against_airflows_own_schema() -> None:
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "airflow-provider-signal"
    [conn_type] = info["connection-types"]
    assert conn_type["connection-type"] == "signal"
    assert conn_type["hook-name"] == "Signal"
    assert conn_type["hook-class-name"] == "airflow_provider_signal.hooks.signal.SignalHook"
    assert info["notifications"] == ["airflow_provider_signal.notifications.signal.SignalNotifier"]


def test_every_module_and_class_named_in_provider_info_imports() -> None:
    from importlib import import_module

    info = get_provider_info()
    modules = [m for kind in ("hooks", "operators") for entry in info[kind] for m in entry["python-modules"]]
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info["notifications"]
    for module in modules:
        import_module(module)
    for dotted in classes:
        module, _, name = dotted.rpartition(".")
        assert isinstance(getattr(import_module(module), name), type)


def test_conn_fields_declare_the_form_airflow_3_2_reads_without_the_hook() -> None:
    [conn_type] = get_provider_info()["connection-types"]
    fields = conn_type["conn-fields"]
    assert set(fields) == {"auth", "destinations", "timeout", "retries"}
    for name, field in fields.items():
        assert field["label"] and field["description"], name
    assert fields["auth"]["schema"]["enum"] == ["basic", "payload"]
    assert fields["auth"]["schema"]["default"] == "basic"
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"port", "schema"}
    assert behaviour["relabeling"] == {"login": "System ID", "password": "Password", "host": "API URL"}
    assert behaviour["placeholders"]["host"] == "https://api.melroselabs.com"


def test_entry_point_is_registered() -> None:
    [entry] = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.dist is not None and e.dist.name == "airflow-provider-signal"
    ]
    assert entry.load() is get_provider_info


def test_providers_manager_knows_the_signal_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-signal" in manager.providers
    hook = manager.hooks["signal"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_signal.hooks.signal.SignalHook"
    assert hook.connection_id_attribute_name == "signal_conn_id"
    if _form_needs_fab() and importlib.util.find_spec("flask_appbuilder") is None:
        # Airflow 3.0-3.1 build every provider's form fields with wtforms/FAB; without the FAB
        # provider no hook gets its fields or labels (apache/airflow#55841; README, Airflow versions).
        assert "signal" not in manager.field_behaviours
        return
    widgets = manager.connection_form_widgets
    assert {"extra__signal__auth", "extra__signal__destinations", "extra__signal__timeout"} <= set(widgets)
    behaviour = manager.field_behaviours["signal"]
    assert set(behaviour["hidden_fields"]) == {"port", "schema"}
    assert behaviour["relabeling"]["login"] == "System ID"


def _form_needs_fab() -> bool:
    """Airflow 3.0 and 3.1 read the connection form from the hook's wtforms widgets only."""
    from airflow import __version__

    major, minor = (int(part) for part in __version__.split(".")[:2])
    return major == 3 and minor < 2


def test_hook_form_methods_match_the_declared_form() -> None:
    reason = "the wtforms widgets serve Airflow 2.11 and 3.0-3.1, where the FAB UI brings wtforms"
    pytest.importorskip("wtforms", reason=reason)
    pytest.importorskip("flask_appbuilder", reason=reason)
    from airflow_provider_signal.hooks.signal import SignalHook

    widgets = SignalHook.get_connection_form_widgets()
    assert set(widgets) == {"auth", "destinations", "timeout", "retries"}
    behaviour = SignalHook.get_ui_field_behaviour()
    assert behaviour["relabeling"]["host"] == "API URL"
    assert set(behaviour["hidden_fields"]) == {"port", "schema"}


_PRINT_IMPORTED = "print(json.dumps({m: m in sys.modules for m in ('airflow', 'requests', 'urllib3')}))"


def _imported_after(code: str, lines: int = 1) -> Any:
    """Which of airflow, requests, urllib3 a fresh interpreter holds after ``code``; with ``lines``
    above 1, ``code`` prints more of them (``_PRINT_IMPORTED``): a list, in order."""
    probe = f"import sys, json\n{code}\n{_PRINT_IMPORTED}\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    printed = [json.loads(line) for line in out.stdout.strip().splitlines()[-lines:]]
    return printed[0] if lines == 1 else printed


def test_importing_the_package_imports_neither_airflow_nor_requests() -> None:
    seen = _imported_after("import airflow_provider_signal, airflow_provider_signal.provider_info")
    assert seen == {"airflow": False, "requests": False, "urllib3": False}
    seen = _imported_after("import airflow_provider_signal.client, airflow_provider_signal.validation")
    assert seen == {"airflow": False, "requests": False, "urllib3": False}


@pytest.mark.parametrize(
    "module",
    [
        "airflow_provider_signal.hooks.signal",
        "airflow_provider_signal.operators.signal",
        "airflow_provider_signal.notifications.signal",
        "airflow_provider_signal.callbacks",
    ],
)
def test_our_airflow_facing_modules_do_not_import_requests(module: str) -> None:
    # Airflow 2.11's own base classes import requests; only what we add on top counts.
    base = (
        "from airflow_provider_signal import _compat\n"
        "_compat.BaseHook, _compat.BaseOperator, _compat.BaseNotifier"
    )
    # one interpreter (Airflow takes seconds to import): what the base classes loaded, then the module
    before, after = _imported_after(f"{base}\n{_PRINT_IMPORTED}\nimport {module}", lines=2)
    assert after["requests"] == before["requests"]
    assert after["urllib3"] == before["urllib3"]


DAG_FACING = {
    "airflow_provider_signal._compat",
    "airflow_provider_signal.callbacks",
    "airflow_provider_signal.defaults",
    "airflow_provider_signal.limits",
    "airflow_provider_signal.notifications",
    "airflow_provider_signal.notifications.signal",
    "airflow_provider_signal.operators",
    "airflow_provider_signal.operators.signal",
}
"""All of ours that a DAG file may load when it is parsed; the rest (the text builders, the hook,
the client, the redaction) waits for the first send."""

_BUILD_A_DAG = """
import json, sys
try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow.models.dag import DAG
from airflow_provider_signal import _compat
_compat.BaseOperator, _compat.BaseNotifier
before = {name for name in sys.modules if name.startswith("airflow_provider_signal")}

from airflow_provider_signal.callbacks import signal_failure_callback, signal_retry_callback
from airflow_provider_signal.notifications.signal import SignalNotifier, send_signal_notification
from airflow_provider_signal.operators.signal import SignalSendOperator

with DAG(
    "parse_only",
    schedule=None,
    default_args={"on_failure_callback": signal_failure_callback(timeout=5, retries=1)},
    on_failure_callback=[send_signal_notification(destinations="+447700900001"), signal_retry_callback],
    on_success_callback=SignalNotifier(text="Done {{ ds }}", timeout="{{ params.t }}"),
):
    SignalSendOperator(task_id="send", text="Loaded {{ ds }}", destinations="+447700900001")
after = {name for name in sys.modules if name.startswith("airflow_provider_signal")}
print(json.dumps(sorted(after - before)))
"""


def test_parsing_a_dag_loads_nothing_a_send_alone_needs() -> None:
    # Whatever Airflow itself loads at start-up (our provider info, on Airflow 3) is left out:
    # only what importing the notifier, the callbacks and the operator, and building a DAG with
    # them, adds counts. A module-level import of the text builders or the hook fails here.
    out = subprocess.run([sys.executable, "-c", _BUILD_A_DAG], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert loaded - DAG_FACING == set()
    assert "airflow_provider_signal.notifications.signal" in loaded  # the probe did import ours


def test_airflow_cli_lists_the_provider() -> None:
    out = run_airflow("providers", "list", "--output", "json", timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    packages = {p["package_name"] for p in json_output(out.stdout)}
    assert "airflow-provider-signal" in packages
