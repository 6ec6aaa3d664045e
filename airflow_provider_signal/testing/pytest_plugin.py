"""pytest plugin (entry point ``pytest11``): the ``signal_api`` fixture.

``signal_api`` starts a :class:`~airflow_provider_signal.testing.SignalAPIEmulator`
on 127.0.0.1 for one test and points ``AIRFLOW_CONN_SIGNAL_DEFAULT`` at it, so code
that sends through the ``signal_default`` connection talks to the emulator::

    def test_on_call_is_alerted(signal_api):
        run_my_dag_that_fails()
        assert signal_api.messages[0].destination == "447700900123"

Faults: ``signal_api.fail_next(2, status=503)``; counters: ``request_count``,
``connection_count``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_signal.testing.emulator import SignalAPIEmulator


@pytest.fixture
def signal_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[SignalAPIEmulator]:
    """A running Signal API emulator, with ``AIRFLOW_CONN_SIGNAL_DEFAULT`` pointing at it.

    Each test gets its own emulator and a fresh random password (``signal_api.password``).
    """
    from airflow_provider_signal.testing.emulator import SignalAPIEmulator

    emulator = SignalAPIEmulator(
        system_id="pytest-system", password=f"pw-{secrets.token_urlsafe(16)}"
    ).start()
    monkeypatch.setenv("AIRFLOW_CONN_SIGNAL_DEFAULT", emulator.connection_json())
    try:
        yield emulator
    finally:
        emulator.stop()
