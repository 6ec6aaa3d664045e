"""One run alert, sent: the text built for its kind and handed to the hook, with what happened.

Runs on the background sender's thread (never the scheduler's). The hook reads the
``[signal_alerts]`` connection, redacts the text and bounds each request by ``send_timeout`` and
``send_retries``; this module turns its answer or error into a :class:`SendOutcome` that the
sender records, so a failed send is retried or given up there, never lost here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.message import RunEvent, RunReport, failure_text, recovery_text, run_url

log = logging.getLogger(__name__)


@dataclass
class SendOutcome:
    """What one send did: delivered, or to whom not and whether a copy may have arrived."""

    delivered: bool
    failed_recipients: list[str] = field(default_factory=list)
    maybe_delivered: bool = False
    cause: str = ""


def describe(event: RunEvent) -> str:
    """``DAG 'x' run 'y'``: how log lines name a run."""
    return f"DAG {event.dag_id!r} run {event.run_id!r}"


def send_alert(settings: AlertSettings, report: RunReport, recipients: list[str]) -> SendOutcome:
    """Build the alert's text and send it through ``settings.conn_id``; never raise."""
    from airflow_provider_signal.errors import SignalDeliveryError
    from airflow_provider_signal.hooks.signal import SignalHook

    event = report.event
    hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
    try:
        limit = hook.settings.max_text_length
        if event.kind == FAILURE:
            text = failure_text(report, max_tasks=settings.max_failed_tasks, limit=limit, redact=hook.redact)
        else:
            text = recovery_text(report, limit=limit, redact=hook.redact)
        results = hook.send_message(text, recipients or None)
    except SignalDeliveryError as error:
        failed = [f.destination for f in error.failures if f.destination]
        maybe = any(f.maybe_delivered for f in error.failures)
        return SendOutcome(False, failed, maybe, str(error))
    except Exception as error:
        return SendOutcome(False, list(recipients), False, f"{type(error).__name__}: {error}")
    finally:
        hook.close()
    log.info("Signal %s alert for %s sent to %d recipient(s).", event.kind, describe(event), len(results))
    return SendOutcome(True)


def run_link(event: RunEvent) -> str | None:
    """The run's page in the UI, from ``[api] base_url`` (3.x) or ``[webserver] base_url`` (2.11)."""
    from airflow import __version__ as airflow_version
    from airflow.configuration import conf

    major = int(airflow_version.split(".", 1)[0])
    section = "api" if major >= 3 else "webserver"
    base = conf.get(section, "base_url", fallback="") or ""
    return run_url(base, event.dag_id, event.run_id, major)
