"""What differs between Airflow lines in how a task runs; loaded at the first send.

Reached through :mod:`airflow_provider_signal._compat` (``_compat.mask_secret`` ...), which
imports this module only when one of these is first used, so a DAG file that imports the
notifier or the operator does not pay for it.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import FrameType
from typing import Any


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


def _masker_modules() -> list[Any]:
    """Airflow's secrets-masker modules of this process: each one already loaded (one not loaded
    knows no secret), else the first of this line's that imports."""
    loaded = [sys.modules[name] for name in _ALL_MASKER_HOMES if name in sys.modules]
    if loaded:
        return loaded
    for module_name in _ALL_MASKER_HOMES[1:]:  # not the 3.0 home: a deprecated shim on 3.1+
        try:
            return [import_module(module_name)]
        except ImportError:
            continue
    return []


def redact_secrets(text: str) -> str:
    """``text`` through every secrets masker of this process, as Airflow masks a log line.

    Airflow 3 keeps separate maskers in the task SDK and in the core (each a singleton of
    its own module); a secret is known to the one its reader registered it with, so each
    masker already loaded is asked (one not loaded knows nothing). Where none is loaded the
    line's own masker is imported.
    """
    for module in _masker_modules():
        redact = getattr(module, "redact", None)
        if not callable(redact):
            continue
        try:
            redacted = redact(text)
        except RuntimeError:  # 2.11 with a logging set-up that has no masker: nothing it knows
            continue
        text = redacted if isinstance(redacted, str) else text
    return text


FALLBACK_SENSITIVE_NAMES = frozenset({"password", "secret", "token", "api_key", "private_key"})
"""Used only where no Airflow masker is found (an unknown layout): the core of Airflow's list."""


def sensitive_key_names() -> frozenset[str]:
    """The names of keys whose values Airflow's masker hides, as this process's Airflow has them.

    Airflow's own list (``DEFAULT_SENSITIVE_FIELDS``: 2.11 in ``airflow.utils.log.secrets_masker``,
    3.x in ``airflow._shared`` / ``airflow.sdk._shared.secrets_masker``), what each masker was
    configured with, and ``[core] sensitive_var_conn_names``; read at the first send, never
    copied here (a newer Airflow's longer list is honoured). :data:`FALLBACK_SENSITIVE_NAMES`
    where none is found.
    """
    names: set[str] = set()
    for module in _masker_modules():
        names.update(getattr(module, "DEFAULT_SENSITIVE_FIELDS", ()))
        for getter in ("get_sensitive_variables_fields", "_secrets_masker"):  # 2.11; 3.x's instance
            try:
                value = getattr(module, getter)()
            except (AttributeError, TypeError, RuntimeError):  # not on this line: the defaults stand
                continue
            value = getattr(value, "sensitive_variables_fields", value)
            if isinstance(value, (list, set, frozenset, tuple)):
                names.update(value)
    names.update(_configured_sensitive_names())
    names = {name for name in names if isinstance(name, str) and name.strip()}
    return frozenset(names) if names else FALLBACK_SENSITIVE_NAMES


def _configured_sensitive_names() -> list[str]:
    """``[core] sensitive_var_conn_names`` (comma-separated), from the task SDK's or the core's config."""
    for module_name in ("airflow.sdk.configuration", "airflow.configuration"):
        try:
            conf = import_module(module_name).conf
            value = conf.get("core", "sensitive_var_conn_names", fallback="")
        except (ImportError, AttributeError):  # not on this line (fallback="": never a missing key)
            continue
        return [name.strip() for name in str(value or "").split(",") if name.strip()]
    return []


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
