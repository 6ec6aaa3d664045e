"""The Signal alerts page on Airflow 3.1+: a FastAPI app the plugin mounts in the API server.

Who may do what is the auth manager's answer: reading the page needs read access to DAGs
(Airflow's own ``requires_access_dag("GET")``); making or ending a silence needs edit access to
the DAGs it covers (all of them when it covers every DAG), and the test message edit access to
DAGs. The user comes from Airflow's session cookie or a bearer token, as for the REST API; a
form post whose Origin is another site is refused (the cookie alone must not be enough).
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' real annotations.

import html
import logging
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_provider_signal.alerts import page_actions
from airflow_provider_signal.errors import SignalError, SignalInputError

log = logging.getLogger(__name__)

URL_PREFIX = "/signal-alerts"
User = Annotated[Any, Depends(get_user)]
"""The logged-in user, as Airflow's REST API reads it (session cookie or bearer token)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _root(request: Request) -> str:
    """Where the app is mounted, as the browser sees it (``/signal-alerts``, under any base path)."""
    return str(request.scope.get("root_path") or URL_PREFIX).rstrip("/")


def _same_origin(request: Request) -> bool:
    """A form post from this Airflow's own pages: its Origin (or Referer) is this host or
    ``[api] base_url``. A client that sends neither (a script with a token) is let through."""
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return True
    parsed = urllib.parse.urlsplit(sent)
    origin = f"{parsed.scheme}://{parsed.netloc}"
    allowed = {f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"}
    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="") or ""
    if base_url:
        base = urllib.parse.urlsplit(base_url)
        allowed.add(f"{base.scheme}://{base.netloc}")
    return origin in allowed


def _form(body: bytes) -> tuple[dict[str, str], list[str]]:
    """An ``application/x-www-form-urlencoded`` body: single fields, and the ticked kinds."""
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: value for name, value in pairs if name != "kind"}, [v for n, v in pairs if n == "kind"]


def _page(request: Request, user: Any, status_code: int = 200, error: str = "") -> HTMLResponse:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts.page import current

    with create_session() as session:
        body = current(
            session,
            user=user.get_name(),
            root=_root(request),
            done_code=request.query_params.get("done"),
            error=error,
        )
    return HTMLResponse(body, status_code=status_code)


def _may_edit(user: Any, dag_ids: list[str] | None) -> bool:
    """The auth manager's answer: may ``user`` edit these DAGs (``None``: every DAG)?"""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    manager = get_auth_manager()
    if dag_ids is None:
        return bool(manager.is_authorized_dag(method="PUT", user=user))
    requests: list[Any] = [{"method": "PUT", "details": DagDetails(id=dag_id)} for dag_id in dag_ids]
    return bool(manager.batch_is_authorized_dag(requests, user=user))


def _refused(request: Request, user: Any, what: str) -> HTMLResponse:
    return _page(request, user, 403, f"{what}: your role may not edit these DAGs. Ask an Airflow admin.")


def _done(request: Request, code: str) -> RedirectResponse:
    return RedirectResponse(f"{_root(request)}/?done={code}", status_code=303)


def _error_page(status_code: int, text: str, login_url: str = "") -> HTMLResponse:
    link = f' <a href="{html.escape(login_url)}">Log in</a>.' if login_url else ""
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Signal alerts</title></head>"
        f"<body><h1>Signal alerts</h1><p role='alert'>{html.escape(text)}{link}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status_code)


def create_app() -> FastAPI:
    """The page's app (mounted at ``/signal-alerts`` by the plugin)."""
    app = FastAPI(title="Signal alerts", docs_url=None, redoc_url=None, openapi_url=None)
    may_read = [Depends(requires_access_dag("GET"))]

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401:
            from airflow.api_fastapi.app import get_auth_manager

            next_url = urllib.parse.quote(str(request.url), safe="")
            login = f"{get_auth_manager().get_url_login()}?next={next_url}"
            return _error_page(401, "Not logged in: log in to Airflow to see the Signal alerts page.", login)
        if error.status_code == 403:
            return _error_page(403, "Forbidden: your role may not read DAGs, so not this page either.")
        return _error_page(error.status_code, str(error.detail))

    def form_action(action: Callable[[Request, Any, bytes], Response]) -> Callable[..., Any]:
        async def endpoint(request: Request, user: User) -> Response:
            if not _same_origin(request):
                return _error_page(403, "Refused: this form was sent from another site.")
            body = await request.body()
            return await run_in_threadpool(action, request, user, body)

        return endpoint

    @app.get("/", response_class=HTMLResponse, dependencies=may_read)
    def show(request: Request, user: User) -> HTMLResponse:
        return _page(request, user)

    def make_silence(request: Request, user: Any, body: bytes) -> Response:
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts import silence_store

        fields, kinds = _form(body)
        try:
            silence = page_actions.silence_from_form(fields, kinds, user.get_name(), _now())
        except SignalInputError as error:
            return _page(request, user, 400, str(error))
        with create_session() as session:
            if not _may_edit(user, page_actions.dags_covered(session, silence)):
                return _refused(request, user, "Silence not made")
            silence_store.save_new(session, silence)
        log.info("Signal alerts: silence %s made by %s from the page", silence.id, user.get_name())
        return _done(request, "silenced")

    def end_silence(request: Request, user: Any, body: bytes) -> Response:
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts import silence_store

        silence_id = str(request.path_params["silence_id"])
        with create_session() as session:
            try:
                silence = page_actions.find(silence_store.load(session), silence_id)
            except LookupError as error:
                return _page(request, user, 404, str(error))
            if not _may_edit(user, page_actions.dags_covered(session, silence)):
                return _refused(request, user, "Silence not ended")
            silence_store.end_early(session, silence_id, _now(), user.get_name())
        return _done(request, "ended")

    def send_test(request: Request, user: Any, body: bytes) -> Response:
        from airflow.utils.session import create_session

        from airflow_provider_signal.alerts.config import load_settings

        if not _may_edit(user, None):
            return _refused(request, user, "No test message sent")
        try:
            with create_session() as session:
                page_actions.claim_test_message(session, _now(), user.get_name())
            page_actions.send_test_message(load_settings(), user.get_name())
        except page_actions.TooSoonError as error:
            return _page(request, user, 429, str(error))
        except SignalError as error:
            return _page(request, user, 502, f"The test message was not sent: {error}")
        return _done(request, "tested")

    app.post("/silences")(form_action(make_silence))
    app.post("/silences/{silence_id}/end")(form_action(end_silence))
    app.post("/test")(form_action(send_test))
    return app
