"""One message, sent: the text built for its run (or its group of runs, or its DAG files) and
handed to the hook, with what happened.

Runs on the background sender's thread (never the scheduler's). The hook reads the
``[signal_alerts]`` connection, redacts the text and bounds each request by ``send_timeout`` and
``send_retries``; this module turns its answer or error into a :class:`SendOutcome` that the
sender records, so a failed send is retried or given up there, never lost here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.health_text import HealthReport, health_text, health_url
from airflow_provider_signal.alerts.import_text import FileReport, broken_text, fixed_text, import_errors_url
from airflow_provider_signal.alerts.kinds import FAILURE, IMPORT_FIXED, FileKind
from airflow_provider_signal.alerts.message import RunEvent, RunReport, failure_text, recovery_text, run_url

log = logging.getLogger(__name__)

MAX_FILES = 5
"""Files named in one import-error message; more are summed up as "And N more"."""


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
    """Build one run's alert and send it through ``settings.conn_id``; never raise."""
    return send_group(settings, [report], recipients)


def describe_group(reports: list[RunReport]) -> str:
    """How log lines name a message: its run, or ``3 runs of DAGs 'a', 'b', 'c'``."""
    if len(reports) == 1:
        return describe(reports[0].event)
    dags = list(dict.fromkeys(report.event.dag_id for report in reports))
    named = ", ".join(repr(dag_id) for dag_id in dags[:5]) + (
        f" and {len(dags) - 5} more" if len(dags) > 5 else ""
    )
    return f"{len(reports)} runs of DAGs {named}"


def send_group(settings: AlertSettings, reports: list[RunReport], recipients: list[str]) -> SendOutcome:
    """Build the message for ``reports`` (one kind; a group of one is the single-run text) and
    send it through ``settings.conn_id``; never raise."""
    from airflow_provider_signal.alerts.group_text import group_text

    event = reports[0].event

    def build(limit: int, redact: Callable[[str], str]) -> str:
        if len(reports) > 1:
            return group_text(reports, link=group_link(event.kind), limit=limit, redact=redact)
        if event.kind == FAILURE:
            return failure_text(reports[0], max_tasks=settings.max_failed_tasks, limit=limit, redact=redact)
        return recovery_text(reports[0], limit=limit, redact=redact)

    outcome, sent = _deliver(settings, build, recipients)
    if outcome.delivered:
        log.info("Signal %s alert for %s sent to %d recipient(s).", event.kind, describe_group(reports), sent)
    return outcome


def send_files(
    settings: AlertSettings,
    kind: FileKind,
    files: list[FileReport],
    recipients: list[str],
    sent_again: bool = False,
) -> SendOutcome:
    """Build the import-error message for ``files`` (broken, or fixed) and send it through
    ``settings.conn_id``; never raise."""
    text_for = fixed_text if kind == IMPORT_FIXED else broken_text

    def build(limit: int, redact: Callable[[str], str]) -> str:
        base, major = _ui_base()
        link = import_errors_url(base, major)
        return text_for(
            files, link=link, max_files=MAX_FILES, limit=limit, sent_again=sent_again, redact=redact
        )

    outcome, sent = _deliver(settings, build, recipients)
    if outcome.delivered:
        log.info(
            "Signal import-error alert (%s) for %s sent to %d recipient(s).",
            "fixed" if kind == IMPORT_FIXED else "broken",
            ", ".join(report.path for report in files),
            sent,
        )
    return outcome


def send_health(
    settings: AlertSettings, reports: list[HealthReport], recipients: list[str], sent_again: bool = False
) -> SendOutcome:
    """Build the health message for ``reports`` (starts and reminders, or ends) and send it
    through ``settings.conn_id``; never raise."""

    def build(limit: int, redact: Callable[[str], str]) -> str:
        base, major = _ui_base()
        return health_text(
            reports, link=health_url(base, major), limit=limit, sent_again=sent_again, redact=redact
        )

    outcome, sent = _deliver(settings, build, recipients)
    if outcome.delivered:
        log.info(
            "Signal health alert for %s sent to %d recipient(s).",
            ", ".join(f"{report.key} ({report.action})" for report in reports),
            sent,
        )
    return outcome


def send_summary(
    settings: AlertSettings, summary: Any, recipients: list[str], sent_again: bool = False
) -> SendOutcome:
    """Send what a silence kept quiet (:class:`.silence_summary.SilenceSummary`) through
    ``settings.conn_id``; never raise."""
    from airflow_provider_signal.alerts.summary_text import describe_summary, summary_text

    def build(limit: int, redact: Callable[[str], str]) -> str:
        return summary_text(summary, limit=limit, sent_again=sent_again, redact=redact)

    outcome, sent = _deliver(settings, build, recipients)
    if outcome.delivered:
        log.info("Signal alert: %s sent to %d recipient(s).", describe_summary(summary), sent)
    return outcome


def _deliver(
    settings: AlertSettings, build: Callable[[int, Callable[[str], str]], str], recipients: list[str]
) -> tuple[SendOutcome, int]:
    """Build the text with the connection's length limit and redaction, send it through
    ``settings.conn_id``, and say what happened (and to how many); never raise."""
    from airflow_provider_signal.hooks.signal import SignalHook

    hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
    try:
        results = hook.send_message(build(hook.settings.max_text_length, hook.redact), recipients or None)
    except Exception as error:
        return _not_delivered(error, recipients), 0
    finally:
        hook.close()
    return SendOutcome(True), len(results)


def _not_delivered(error: Exception, recipients: list[str]) -> SendOutcome:
    """A failed send: who is still to be sent to, and whether a copy may have arrived."""
    from airflow_provider_signal.errors import SignalAPIError, SignalDeliveryError

    if isinstance(error, SignalDeliveryError):
        failed = [f.destination for f in error.failures if f.destination]
        maybe = any(f.maybe_delivered for f in error.failures)
        return SendOutcome(False, failed, maybe, str(error))
    maybe = isinstance(error, SignalAPIError) and error.maybe_delivered
    return SendOutcome(False, list(recipients), maybe, f"{type(error).__name__}: {error}")


def _ui_base() -> tuple[str, int]:
    """The UI's ``base_url`` (``[api]`` on 3.x, ``[webserver]`` on 2.11) and Airflow's major version."""
    from airflow import __version__ as airflow_version
    from airflow.configuration import conf

    major = int(airflow_version.split(".", 1)[0])
    section = "api" if major >= 3 else "webserver"
    return conf.get(section, "base_url", fallback="") or "", major


def run_link(event: RunEvent) -> str | None:
    """The run's page in the UI."""
    base, major = _ui_base()
    return run_url(base, event.dag_id, event.run_id, major)


def group_link(kind: str) -> str | None:
    """Where a group's runs are listed: the failed runs, or the DAGs for recoveries."""
    from airflow_provider_signal.alerts.group_text import dags_url, failed_runs_url

    base, major = _ui_base()
    return failed_runs_url(base, major) if kind == FAILURE else dags_url(base, major)
