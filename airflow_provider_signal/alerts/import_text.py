"""The texts of import-error alerts: one message per sweep and recipient, listing its files.

Plain Python over plain data, so the text is tested without Airflow; built in the scheduler's
import-error watcher thread, never where DAG files are parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from airflow_provider_signal.formatting import format_date, format_duration
from airflow_provider_signal.shortening import Line, fit, redacted_start
from airflow_provider_signal.shortening import cut as shorten

SENT_AGAIN = "Sent again: the first attempt may not have arrived"
BROKEN_TITLE = "❌ Airflow DAG file broken"
FIXED_TITLE = "✅ Airflow DAG file fixed"
_ERROR_MAX = 300
_DAGS_MAX = 10
_LINE_MAX = 400


@dataclass(frozen=True)
class FileReport:
    """One file of an import-error message."""

    path: str  # relative to its DAGs folder (or bundle)
    bundle: str = ""  # Airflow 3's bundle name; "" on 2.11
    dag_ids: tuple[str, ...] = ()  # the DAGs it defined when it last imported
    error: str = ""  # the error's type and last line
    changed: bool = False  # a new error in a file that was already broken
    first_seen: datetime | None = None  # when this error was first seen
    broken_for: float | None = None  # seconds (a fixed file)


def _file_line(report: FileReport) -> str:
    where = f" (bundle {report.bundle})" if report.bundle else ""
    return shorten(f"File: {report.path}{where}", _LINE_MAX)


def _dags_line(report: FileReport) -> str:
    if not report.dag_ids:
        return "DAGs: none known (the file has not imported yet)"
    shown = list(report.dag_ids[:_DAGS_MAX])
    rest = len(report.dag_ids) - len(shown)
    text = ", ".join(shown) + (f" and {rest} more" if rest else "")
    return shorten(f"DAGs: {text}", _LINE_MAX)


def _title(base: str, count: int) -> str:
    return base if count == 1 else f"{base}: {count} files"


def _rest(reports: list[FileReport], max_files: int) -> tuple[list[FileReport], str | None]:
    shown = reports[:max_files]
    rest = reports[max_files:]
    if not rest:
        return shown, None
    names = ", ".join(report.path for report in rest)
    return shown, shorten(f"And {len(rest)} more: {names}", _LINE_MAX)


def _message(
    title: str,
    files: list[list[Line]],
    rest: str | None,
    link: Line | None,
    limit: int,
    sent_again: bool,
    redact: Callable[[str], str] | None,
) -> str:
    """Title, one block per file, the "And N more" count and the link, fitted as every alert is:
    the error lines shortened first, the count never cut, the link whole or left out; each
    part redacted before any cut."""
    lines = [Line(title, cut=False, rank=0)]
    if sent_again:
        lines.append(Line(SENT_AGAIN, cut=False, rank=0))
    for index, block in enumerate(files):
        if index:
            lines.append(Line("", rank=1))
        lines += block
    if rest:
        lines += [Line("", rank=1), Line(rest, cut=False, rank=4)]
    if link is not None:
        lines.append(link)
    return fit(lines, limit, redact)


def broken_text(
    reports: list[FileReport],
    *,
    link: str | None = None,
    max_files: int = 5,
    limit: int = 2000,
    sent_again: bool = False,
    redact: Callable[[str], str] | None = None,
) -> str:
    """One message for files that stopped importing (or whose error changed).

    ``redact`` masks secrets in each part (the error before it is cut to its line) first.
    """

    def clean(text: str) -> str:  # the start of a long error, redacted before its cut
        return redacted_start(text, _ERROR_MAX, redact) if redact is not None else text

    shown, rest = _rest(reports, max_files)
    files = []
    for report in shown:
        label = "New error" if report.changed else "Error"
        block = [
            Line(_file_line(report), rank=0),
            Line(_dags_line(report), rank=3),
            Line(f"{label}: {shorten(clean(report.error), _ERROR_MAX)}", rank=2),
        ]
        if report.first_seen is not None:
            block.append(Line(f"First seen: {format_date(report.first_seen)}", rank=1))
        files.append(block)
    url = Line(f"Import errors: {link}", link=True, rank=3) if link else None
    return _message(_title(BROKEN_TITLE, len(reports)), files, rest, url, limit, sent_again, redact)


def fixed_text(
    reports: list[FileReport],
    *,
    link: str | None = None,
    max_files: int = 5,
    limit: int = 2000,
    sent_again: bool = False,
    redact: Callable[[str], str] | None = None,
) -> str:
    """One message for files that import again (``redact``: as :func:`broken_text`)."""
    shown, rest = _rest(reports, max_files)
    files = []
    for report in shown:
        block = [Line(_file_line(report), rank=0)]
        if report.dag_ids:
            block.append(Line(_dags_line(report), rank=3))
        if report.broken_for is not None:
            block.append(Line(f"Broken for: {format_duration(report.broken_for)}", rank=2))
        files.append(block)
    url = Line(f"Link: {link}", link=True, rank=3) if link else None
    return _message(_title(FIXED_TITLE, len(reports)), files, rest, url, limit, sent_again, redact)


def import_errors_url(base_url: str, airflow_major: int) -> str | None:
    """Where the UI lists import errors: Airflow 3's DAG list (its "Dag Import Errors" button),
    Airflow 2's home page (the banner of import errors)."""
    if not base_url:
        return None
    base = base_url.rstrip("/")
    return f"{base}/dags" if airflow_major >= 3 else f"{base}/home"
