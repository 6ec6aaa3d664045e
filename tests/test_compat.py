"""One provider, two Airflow lines: base classes resolve, nothing we import warns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_signal import _compat

OUR_MODULES = [
    "airflow_provider_signal.hooks.signal",
    "airflow_provider_signal.operators.signal",
    "airflow_provider_signal.notifications.signal",
    "airflow_provider_signal.callbacks",
]


def airflow_major() -> int:
    import airflow

    return int(airflow.__version__.split(".")[0])


@pytest.mark.parametrize("name", ["BaseHook", "BaseOperator", "BaseNotifier", "Connection", "Context"])
def test_each_base_resolves_to_its_home_on_this_airflow_line(name: str) -> None:
    value = getattr(_compat, name)
    module = value.__module__
    if airflow_major() >= 3 and name != "BaseHook":
        assert module.startswith("airflow.sdk"), module
    if airflow_major() == 2:
        assert not module.startswith("airflow.sdk"), module


def test_unknown_names_are_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _compat.NoSuchThing  # noqa: B018


def _warnings_raised_by(code: str) -> list[dict[str, str]]:
    probe = f"""
import json, warnings
import airflow
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
{code}
print("WARNINGS=" + json.dumps([
    {{"category": w.category.__name__, "message": str(w.message), "filename": w.filename}}
    for w in caught
    if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))
]))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("WARNINGS="))
    return json.loads(line.removeprefix("WARNINGS="))


def test_importing_and_using_our_modules_raises_no_deprecation_warning() -> None:
    code = "\n".join(f"    import {module}" for module in OUR_MODULES) + (
        "\n    from airflow_provider_signal.hooks.signal import SignalHook"
        "\n    SignalHook('signal_default')"
        "\n    from airflow_provider_signal.operators.signal import SignalSendOperator"
        "\n    from airflow_provider_signal.callbacks import signal_failure_callback"
        "\n    signal_failure_callback(['447700900123'])"
    )
    ours = [
        w for w in _warnings_raised_by(code) if "airflow_provider_signal" in (w["filename"] + w["message"])
    ]
    assert ours == []


def test_providers_manager_reads_our_form_without_a_deprecation_warning() -> None:
    if airflow_major() < 3:
        pytest.skip("on 2.11 the form comes from the hook methods, which is the supported way there")
    code = (
        "    from airflow.providers_manager import ProvidersManager\n"
        "    manager = ProvidersManager()\n"
        "    manager.connection_form_widgets, manager.field_behaviours\n"
    )
    ours = [w for w in _warnings_raised_by(code) if "SignalHook" in w["message"] or "signal" in w["message"]]
    assert ours == []
