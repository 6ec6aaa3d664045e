"""Capture every log record at DEBUG, the same way on Airflow 2 and Airflow 3.

Airflow 2 logs through the standard library, so pytest's ``caplog`` sees everything.
Airflow 3 gives hooks and notifiers a structlog logger (``self.log``) that prints on its
own and bypasses ``caplog``; while capturing, structlog is pointed at the standard
library (same logger names, positional arguments kept as ``record.args``) and put back
afterwards. Loggers that do not propagate to the root logger get ``caplog``'s handler
directly, so no record escapes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOGGERS = ("urllib3", "requests", "airflow", "airflow.task", "airflow_provider_signal", "py.warnings")


def _to_stdlib_call(logger: Any, method_name: str, event_dict: dict[str, Any]) -> Any:
    """Last structlog processor: hand the event to ``logging`` unformatted, args separate."""
    args = event_dict.pop("positional_args", ())
    message = event_dict.pop("event")
    kwargs = {key: event_dict.pop(key) for key in ("exc_info", "stack_info") if key in event_dict}
    return (message, *args), {"extra": {"structlog_context": event_dict}, **kwargs}


@contextmanager
def all_logs_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG into ``caplog`` for the duration of the block."""
    import airflow  # noqa: F401  Airflow configures logging on import: let it happen before we attach

    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    isolated = [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in isolated:
        logger.addHandler(caplog.handler)
    saved_structlog = None
    try:
        import structlog
    except ImportError:  # pragma: no cover - Airflow 2 without structlog installed
        structlog = None  # type: ignore[assignment]
    if structlog is not None and structlog.is_configured():
        saved_structlog = structlog.get_config()
        structlog.configure(
            processors=[_to_stdlib_call],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
    try:
        yield caplog
    finally:
        if saved_structlog is not None:
            structlog.configure(**saved_structlog)
        for logger in isolated:
            logger.removeHandler(caplog.handler)


def record_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Everything a log record carries: its message, formatted and raw, each argument's
    ``str`` and ``repr``, the traceback text, and every extra attribute."""
    texts = [caplog.text]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(str(record.msg))
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        for arg in args:
            texts.extend((str(arg), repr(arg)))
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(logging.Formatter().formatException(record.exc_info))
        texts.append(repr(record.__dict__))
    return texts


def messages_from(caplog: pytest.LogCaptureFixture, logger_name: str, level: int) -> list[str]:
    """The formatted messages ``logger_name`` logged at ``level``."""
    return [r.getMessage() for r in caplog.records if r.name == logger_name and r.levelno == level]
