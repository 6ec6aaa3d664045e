"""Where Airflow keeps its base classes on each supported line; the only module that knows.

- Airflow 3.1+: everything in ``airflow.sdk``.
- Airflow 3.0: ``airflow.sdk`` except ``BaseHook`` (still ``airflow.hooks.base``).
- Airflow 2.11: the classic ``airflow.models`` / ``airflow.hooks`` / ``airflow.notifications`` paths.
- ``AirflowFailException`` (fail a task without retrying it): ``airflow.sdk.exceptions``
  where it exists, else ``airflow.exceptions``.

Each name is looked up at its newest home first (so nothing warns about deprecation on
the newest Airflow) and only when first asked for (so a DAG file that imports the
notifier does not pay for the hook's base class).

It also holds what differs between lines in how a task runs: masking a secret
(``mask_secret``), and what ``airflow dags test`` leaves out of a callback's context on
3.0-3.2 (``exception_being_reported``, ``task_log_url``).
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import FrameType
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
    """Tell Airflow's log masker to hide ``secret`` from every log line.

    Under ``airflow dags test`` / ``dag.test()`` on Airflow 3 the task's "supervisor" runs in this
    very process, and its in-process channel logs each request at DEBUG, the secret included
    (``Sending request msg=MaskSecret(value=...)``). There the secret goes to this process's masker
    only, which is the supervisor's masker too; elsewhere Airflow's ``mask_secret`` also tells a
    separate supervisor process, which writes the task's log.
    """
    try:
        from airflow.sdk.log import mask_secret as sdk_mask_secret
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import mask_secret as classic_mask_secret

        classic_mask_secret(secret)
        return
    local_masker = _in_process_supervisor_masker()
    if local_masker is not None:
        local_masker.add_mask(secret)
    else:
        sdk_mask_secret(secret)


def _in_process_supervisor_masker() -> Any:
    """This process's secrets masker when the task's supervisor runs in-process, else ``None``."""
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if type(comms).__name__ != "InProcessSupervisorComms":
        return None
    for module_name in _MASKER_HOMES:
        try:
            return import_module(module_name)._secrets_masker()
        except (ImportError, AttributeError):
            continue
    return None  # an unknown layout: fall back to Airflow's own mask_secret


# Where the task SDK keeps its masker: 3.0, then 3.1+.
_MASKER_HOMES = ("airflow.sdk.execution_time.secrets_masker", "airflow.sdk._shared.secrets_masker")
_ALL_MASKER_HOMES = (
    *_MASKER_HOMES,
    "airflow._shared.secrets_masker",  # 3.1+ core (scheduler, API server, models.Connection)
    "airflow.utils.log.secrets_masker",  # 2.11 (on 3.x a shim to one of the above)
)


def redact_secrets(text: str) -> str:
    """``text`` through every secrets masker of this process, as Airflow masks a log line.

    Airflow 3 keeps separate maskers in the task SDK and in the core (each a singleton of
    its own module); a secret is known to the one its reader registered it with, so each
    masker already loaded is asked (one not loaded knows nothing). Where none is loaded the
    line's own masker is imported.
    """
    loaded = [sys.modules[name] for name in _ALL_MASKER_HOMES if name in sys.modules]
    if not loaded:
        for module_name in _ALL_MASKER_HOMES[1:]:
            try:
                loaded = [import_module(module_name)]
                break
            except ImportError:
                continue
    for module in loaded:
        redact = getattr(module, "redact", None)
        if not callable(redact):
            continue
        try:
            redacted = redact(text)
        except RuntimeError:  # 2.11 with a logging set-up that has no masker: nothing it knows
            continue
        text = redacted if isinstance(redacted, str) else text
    return text


def exception_being_reported(context: Any) -> BaseException | None:
    """The exception of the failure a task callback reports, when ``context`` lacks it.

    ``airflow dags test`` / ``dag.test()`` on Airflow 3.0-3.2 call the task's callbacks without
    ``context["exception"]`` (a task run by a scheduler has it; 3.3 sets it in both). The task
    runner's ``finalize(ti, state, context, log, error)`` is then on the call stack with this very
    context; its ``error`` is the exception. Returns ``None`` anywhere else.
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            break
        if (
            frame.f_code.co_name == "finalize"
            and frame.f_globals.get("__name__") == "airflow.sdk.execution_time.task_runner"
            and frame.f_locals.get("context") is context
        ):
            error = frame.f_locals.get("error")
            return error if isinstance(error, BaseException) else None
        frame = frame.f_back
    return None


_MAX_FRAMES = 50


def task_log_url(ti: Any) -> str | None:
    """The link to the task's log in the UI, also where the task instance does not carry it.

    On Airflow 3.0 only the task process's start-up fills in ``log_url``; ``airflow dags test``
    leaves it empty, so build it with the task runner's own function (from ``[api] base_url``).
    """
    try:
        url = getattr(ti, "log_url", None)
    except Exception:  # a lazy property that cannot be computed here
        url = None
    if url or ti is None:
        return url or None
    task_runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    build = getattr(task_runner, "get_log_url_from_ti", None)
    if build is None or not getattr(ti, "run_id", None):
        return None
    try:
        return str(build(ti))
    except Exception:
        return None


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
    "task_log_url",
]
