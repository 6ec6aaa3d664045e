"""Ready-made alert callbacks: attach them to a task, ``default_args`` or a DAG.

    from airflow_provider_signal.callbacks import signal_failure_callback

    DAG(..., default_args={"on_failure_callback": signal_failure_callback()})

Each returns a :class:`~airflow_provider_signal.notifications.signal.SignalNotifier`
with the default alert text for its kind (DAG, task, run, logical date, try n of m,
duration, the error's type and first line, log link). Passing a callback without
calling it (``on_failure_callback=signal_failure_callback``) works too: it then sends
to the connection's default recipients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_signal.defaults import DEFAULT_CONN_ID
from airflow_provider_signal.notifications.signal import SignalNotifier


def _alert(
    kind: str,
    destinations: Any,
    signal_conn_id: str,
    text: str | None,
    timeout: float | None,
    retries: int | None,
) -> SignalNotifier | None:
    if isinstance(destinations, Mapping):  # used without calling it: Airflow passed the context
        SignalNotifier(kind=kind, signal_conn_id=signal_conn_id, text=text)(destinations)
        return None
    return SignalNotifier(
        kind=kind,
        destinations=destinations,
        signal_conn_id=signal_conn_id,
        text=text,
        timeout=timeout,
        retries=retries,
    )


def signal_failure_callback(
    destinations: str | list[str] | None = None,
    signal_conn_id: str = DEFAULT_CONN_ID,
    text: str | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
) -> Any:
    """A callback that alerts when a task or DAG run fails (``timeout`` and ``retries``
    override the connection's for this alert, to bound it tighter)."""
    return _alert("failure", destinations, signal_conn_id, text, timeout, retries)


def signal_success_callback(
    destinations: str | list[str] | None = None,
    signal_conn_id: str = DEFAULT_CONN_ID,
    text: str | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
) -> Any:
    """A callback that reports a task or DAG run that succeeded (``timeout`` and ``retries``
    as for :func:`signal_failure_callback`)."""
    return _alert("success", destinations, signal_conn_id, text, timeout, retries)


def signal_retry_callback(
    destinations: str | list[str] | None = None,
    signal_conn_id: str = DEFAULT_CONN_ID,
    text: str | None = None,
    *,
    timeout: float | None = None,
    retries: int | None = None,
) -> Any:
    """A callback that warns when a task failed and will be retried (``timeout`` and
    ``retries`` as for :func:`signal_failure_callback`)."""
    return _alert("retry", destinations, signal_conn_id, text, timeout, retries)
