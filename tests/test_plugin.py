"""The user-facing pytest plugin, as a user meets it: in a foreign project.

pytester writes a tiny test file into an empty directory (no conftest, no ini file) and
runs pytest on it in a fresh interpreter, so the ``signal_api`` fixture can only come from
the ``pytest11`` entry point of the installed package.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import json
import os

import pytest

from airflow_provider_signal.errors import SignalDeliveryError
from airflow_provider_signal.hooks.signal import SignalHook

first_emulator = {}


def send(text, **hook_kwargs):
    hook = SignalHook(**hook_kwargs)
    try:
        return hook.send_message(text, "+44 7700 900123")
    finally:
        hook.close()


def test_signal_default_points_at_the_emulator(signal_api):
    conn = json.loads(os.environ["AIRFLOW_CONN_SIGNAL_DEFAULT"])
    assert conn["host"] == signal_api.url and conn["password"] == signal_api.password
    first_emulator.update(url=signal_api.url, password=signal_api.password)

    send("from a user's test")

    [message] = signal_api.messages
    assert (message.destination, message.text) == ("447700900123", "from a user's test")


def test_faults_and_counters(signal_api):
    signal_api.fail_next(1, status=503)
    send("after one retry", backoff_factor=0)
    signal_api.fail_next(1, status=500, body={"error": "boom"})
    with pytest.raises(SignalDeliveryError, match="HTTP 500"):
        send("refused")

    assert signal_api.request_count == 3
    assert signal_api.connection_count >= 1
    assert [m.text for m in signal_api.messages] == ["after one retry"]


def test_each_test_gets_a_fresh_emulator_and_password(signal_api):
    assert signal_api.messages == [] and signal_api.request_count == 0
    assert signal_api.url != first_emulator["url"]
    assert signal_api.password != first_emulator["password"]


def test_the_connection_is_removed_after_the_test():
    assert "AIRFLOW_CONN_SIGNAL_DEFAULT" not in os.environ


def test_a_wrong_expectation_fails(signal_api):
    send("one message")
    assert len(signal_api.messages) == 2, "expected to fail"
"""


def test_the_signal_api_fixture_works_in_a_foreign_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_dag=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=120)

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: expected to fail",
            "FAILED test_user_dag.py::test_a_wrong_expectation_fails*",
        ]
    )


def test_the_fixture_comes_from_the_pytest11_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user_dag="""
        def test_uses_the_fixture(signal_api):
            assert signal_api.url.startswith("http://127.0.0.1:")
        """
    )
    with_plugin = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    with_plugin.assert_outcomes(passed=1)

    without_plugin = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:signal_api", timeout=60
    )
    without_plugin.assert_outcomes(errors=1)
    without_plugin.stdout.fnmatch_lines(["*fixture 'signal_api' not found*"])
