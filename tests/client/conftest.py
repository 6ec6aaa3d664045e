"""Fixtures for the client's own tests: a ``SignalClient`` on the emulator, no Airflow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_signal.client import SignalClient, SignalClientSettings


@pytest.fixture
def make_client(signal_api: Any) -> Iterator[Callable[..., SignalClient]]:
    """Build a client for the emulator (``backoff_factor`` 0: retries do not sleep), closed after."""
    clients: list[SignalClient] = []

    def build(**fields: Any) -> SignalClient:
        fields.setdefault("api_url", signal_api.url)
        fields.setdefault("backoff_factor", 0)
        settings = SignalClientSettings(signal_api.system_id, signal_api.password, **fields)
        clients.append(SignalClient(settings))
        return clients[-1]

    yield build
    for client in clients:
        client.close()
