"""Test helpers: a local Signal API emulator and a pytest plugin (fixture ``signal_api``).

Nothing here is imported by the provider itself; import it only in tests.
"""

from __future__ import annotations

from airflow_provider_signal.testing.emulator import Fault, ReceivedMessage, SignalAPIEmulator

__all__ = ["Fault", "ReceivedMessage", "SignalAPIEmulator"]
