"""Where Airflow keeps its base classes on each supported line; the only module that knows.

- Airflow 3.1+: everything in ``airflow.sdk``.
- Airflow 3.0: ``airflow.sdk`` except ``BaseHook`` (still ``airflow.hooks.base``).
- Airflow 2.11: the classic ``airflow.models`` / ``airflow.hooks`` / ``airflow.notifications`` paths.
- ``AirflowFailException`` (fail a task without retrying it): ``airflow.sdk.exceptions``
  where it exists, else ``airflow.exceptions``.

Each name is looked up at its newest home first (so nothing warns about deprecation on
the newest Airflow) and only when first asked for (so a DAG file that imports the
notifier does not pay for the hook's base class).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, BaseNotifier, BaseOperator, Connection, Context
    from airflow.sdk.exceptions import AirflowFailException

_HOMES: dict[str, tuple[str, ...]] = {
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "BaseHook": ("airflow.sdk", "airflow.hooks.base"),
    "BaseOperator": ("airflow.sdk", "airflow.models.baseoperator"),
    "BaseNotifier": ("airflow.sdk", "airflow.notifications.basenotifier"),
    "Connection": ("airflow.sdk", "airflow.models.connection"),
    "Context": ("airflow.sdk", "airflow.utils.context"),
}


def __getattr__(name: str) -> Any:
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


def mask_secret(secret: str) -> None:
    """Tell Airflow's log masker to hide ``secret`` from every log line."""
    try:
        from airflow.sdk.log import mask_secret as sdk_mask_secret
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import mask_secret as classic_mask_secret

        classic_mask_secret(secret)
    else:
        sdk_mask_secret(secret)


__all__ = [
    "AirflowFailException",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "Connection",
    "Context",
    "mask_secret",
]
