"""Where Airflow keeps its base classes on each supported line; the only module that knows.

- Airflow 3.1+: everything in ``airflow.sdk``.
- Airflow 3.0: ``airflow.sdk`` except ``BaseHook`` (still ``airflow.hooks.base``).
- Airflow 2.11: the classic ``airflow.models`` / ``airflow.hooks`` / ``airflow.notifications`` paths.
- ``AirflowFailException`` (fail a task without retrying it): ``airflow.sdk.exceptions``
  where it exists, else ``airflow.exceptions``.

Each name is looked up at its newest home first (so nothing warns about deprecation on
the newest Airflow) and only when first asked for (so a DAG file that imports the
notifier does not pay for the hook's base class).

It also hands out what differs between lines in how a task runs (masking and redacting
secrets, what ``airflow dags test`` leaves out of a callback's context on 3.0-3.2): those
live in :mod:`airflow_provider_signal._compat_runtime`, imported at their first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseNotifier, BaseOperator, Connection, Context
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_provider_signal._compat_runtime import (
        exception_being_reported,
        mask_secret,
        redact_secrets,
        sensitive_key_names,
        task_log_url,
    )

_HOMES: dict[str, tuple[str, ...]] = {
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "BaseHook": ("airflow.sdk", "airflow.hooks.base"),
    "BaseOperator": ("airflow.sdk", "airflow.models.baseoperator"),
    "BaseNotifier": ("airflow.sdk", "airflow.notifications.basenotifier"),
    "Connection": ("airflow.sdk", "airflow.models.connection"),
    "Context": ("airflow.sdk", "airflow.utils.context"),
}
_AT_SEND = frozenset(
    {"exception_being_reported", "mask_secret", "redact_secrets", "sensitive_key_names", "task_log_url"}
)
"""What only a send needs, in ``_compat_runtime``: loaded at its first use, not when a DAG file
imports the notifier or the operator."""


def __getattr__(name: str) -> Any:
    if name in _AT_SEND:
        value = getattr(import_module("airflow_provider_signal._compat_runtime"), name)
        globals()[name] = value
        return value
    homes = _HOMES.get(name)
    if homes is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module_name in homes:
        try:
            value = getattr(import_module(module_name), name)
        except (ImportError, AttributeError):
            continue
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise ImportError(f"{name} was found in none of {homes}: is a supported Airflow (2.11+) installed?")


__all__ = [
    "AirflowFailException",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "Connection",
    "Context",
    "exception_being_reported",
    "mask_secret",
    "redact_secrets",
    "sensitive_key_names",
    "task_log_url",
]
