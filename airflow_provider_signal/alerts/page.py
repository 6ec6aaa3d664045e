"""The Signal alerts page's HTML, from :func:`.status.read_status` (the rows the sender writes).

Jinja2 (Airflow's own) with autoescape on: a DAG id, reason or cause with ``<script>`` in it is
shown as text. One body template serves both lines: whole on Airflow 3, inside the webserver's
layout on 2.11.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from airflow_provider_signal.alerts.silences import SILENCEABLE
from airflow_provider_signal.alerts.status import Status

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def current(
    session: Any,
    *,
    user: str,
    root: str,
    done_code: str | None = None,
    error: str = "",
    csrf_token: str | None = None,
    whole: bool = True,
) -> str:
    """The page as it is now: the status read in ``session``, ``[signal_alerts]`` as configured,
    and the words of ``?done=`` after a form's redirect."""
    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.alerts.page_actions import done_message
    from airflow_provider_signal.alerts.status import read_status

    settings = load_settings()
    return render(
        read_status(session, settings, datetime.now(timezone.utc)),
        user=user,
        root=root,
        destinations=settings.destinations,
        done=done_message(done_code),
        error=error,
        csrf_token=csrf_token,
        whole=whole,
    )


def clock(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def render(
    status: Status,
    *,
    user: str,
    root: str,
    destinations: Sequence[str] = (),
    done: str = "",
    error: str = "",
    csrf_token: str | None = None,
    whole: bool = True,
) -> str:
    """The page: ``root`` is where its forms post (``/signal-alerts`` on 3.x); ``whole`` a complete
    document, else the body for the webserver's layout; ``csrf_token`` goes in every form (2.11)."""
    name = "signal_alerts.html" if whole else "signal_alerts_body.html"
    return str(
        _environment()
        .get_template(name)
        .render(
            status=status,
            user=user,
            root=root.rstrip("/"),
            destinations=list(destinations),
            done=done,
            error=error,
            csrf_token=csrf_token,
            kinds=SILENCEABLE,
            clock=clock,
        )
    )
