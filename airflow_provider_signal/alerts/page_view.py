"""The Signal alerts page on Airflow 2.11: a Flask AppBuilder view in the webserver (Browse menu).

Who may do what is the auth manager's answer, as on Airflow 3: the page needs read access to
DAGs (Airflow's ``has_access_dag("GET")``, which also sends a visitor who is not logged in to the
login page); making or ending a silence needs edit access to the DAGs it covers, and the test
message edit access to DAGs. Every form carries the webserver's CSRF token (Flask-WTF checks
it before the view runs).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from airflow.www.auth import has_access_dag
from flask import redirect, render_template_string, request
from flask_appbuilder import BaseView, expose
from markupsafe import Markup

from airflow_provider_signal.alerts import page_actions
from airflow_provider_signal.errors import SignalError, SignalInputError

log = logging.getLogger(__name__)

LAYOUT = (
    "{% extends base_template %}{% block title %}Signal alerts{% endblock %}"
    "{% block content %}{{ body }}{% endblock %}"
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@contextlib.contextmanager
def _own_session() -> Iterator[Any]:
    """A session of its own, not the webserver's scoped one: a rollback there (a refused or failed
    write) would expire the logged-in user FAB keeps in it, and the layout then fails to render."""
    from airflow import settings
    from sqlalchemy.orm import Session

    session = Session(bind=settings.engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _auth_manager() -> Any:
    from airflow.www.extensions.init_auth_manager import get_auth_manager

    return get_auth_manager()


def _may_edit(dag_ids: list[str] | None) -> bool:
    """The auth manager's answer for the logged-in user: may they edit these DAGs (``None``: all)?"""
    from airflow.auth.managers.models.resource_details import DagDetails

    manager = _auth_manager()
    if dag_ids is None:
        return bool(manager.is_authorized_dag(method="PUT"))
    requests: list[Any] = [{"method": "PUT", "details": DagDetails(id=dag_id)} for dag_id in dag_ids]
    return bool(manager.batch_is_authorized_dag(requests))


class SignalAlertsView(BaseView):
    """Browse → Signal alerts, at ``/signal-alerts/``."""

    route_base = "/signal-alerts"
    default_view = "show"

    def _user(self) -> str:
        return str(_auth_manager().get_user_name())

    def _page(self, status_code: int = 200, error: str = "") -> Any:
        from flask_wtf.csrf import generate_csrf

        from airflow_provider_signal.alerts.page import current

        with _own_session() as session:
            body = current(
                session,
                user=self._user(),
                root=self.route_base,
                done_code=request.args.get("done"),
                error=error,
                csrf_token=generate_csrf(),
                whole=False,
            )
        page = render_template_string(
            LAYOUT,
            base_template=self.appbuilder.base_template,
            appbuilder=self.appbuilder,
            body=Markup(body),  # noqa: S704 - made by render(), which escapes every value
        )
        return page, status_code

    def _signed_in(self) -> bool:
        return bool(_auth_manager().is_logged_in())

    def _not_signed_in(self) -> Any:
        return "Not logged in: log in to Airflow to use the Signal alerts page.", 401

    def _refused(self, what: str) -> Any:
        return self._page(403, f"{what}: your role may not edit these DAGs. Ask an Airflow admin.")

    def _done(self, code: str) -> Any:
        return redirect(f"{self.route_base}/?done={code}", code=303)

    @expose("/")
    @has_access_dag("GET")
    def show(self) -> Any:
        return self._page()

    @expose("/silences", methods=["POST"])
    def make_silence(self) -> Any:
        from airflow_provider_signal.alerts import silence_store

        if not self._signed_in():
            return self._not_signed_in()
        try:
            silence = page_actions.silence_from_form(
                request.form, request.form.getlist("kind"), self._user(), _now()
            )
        except SignalInputError as error:
            return self._page(400, str(error))
        with _own_session() as session:
            if not _may_edit(page_actions.dags_covered(session, silence)):
                return self._refused("Silence not made")
            silence_store.save_new(session, silence)
        log.info("Signal alerts: silence %s made by %s from the page", silence.id, self._user())
        return self._done("silenced")

    @expose("/silences/<silence_id>/end", methods=["POST"])
    def end_silence(self, silence_id: str) -> Any:
        from airflow_provider_signal.alerts import silence_store

        if not self._signed_in():
            return self._not_signed_in()
        with _own_session() as session:
            try:
                silence = page_actions.find(silence_store.load(session), silence_id)
            except LookupError as error:
                return self._page(404, str(error))
            if not _may_edit(page_actions.dags_covered(session, silence)):
                return self._refused("Silence not ended")
            silence_store.end_early(session, silence_id, _now(), self._user())
        return self._done("ended")

    @expose("/test", methods=["POST"])
    def send_test(self) -> Any:
        from airflow_provider_signal.alerts.config import load_settings

        if not self._signed_in():
            return self._not_signed_in()
        if not _may_edit(None):
            return self._refused("No test message sent")
        try:
            with _own_session() as session:
                page_actions.claim_test_message(session, _now(), self._user())
            page_actions.send_test_message(load_settings(), self._user())
        except page_actions.TooSoonError as error:
            return self._page(429, str(error))
        except SignalError as error:
            return self._page(502, f"The test message was not sent: {error}")
        return self._done("tested")
