"""The Signal alerts page's parts that need no web server: the form read into a silence, which
DAGs a silence covers, the once-a-minute test message, and the HTML made from a real status
(real rows of the real pipeline, a real SQLite metadata database, the emulator over HTTP).
The page in a browser, with logins and roles, is tests/test_alerts_page.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from markupsafe import escape

from airflow_provider_signal.alerts import owners, page_actions, silence_store
from airflow_provider_signal.alerts.config import AlertSettings
from airflow_provider_signal.alerts.events import event_from_dag_run
from airflow_provider_signal.alerts.kinds import FAILURE
from airflow_provider_signal.alerts.page import render
from airflow_provider_signal.alerts.pipeline import Pipeline
from airflow_provider_signal.alerts.silences import new_silence
from airflow_provider_signal.alerts.status import read_status
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.testing import SignalAPIEmulator
from alerts_db import T0, add_dag, add_run, clean_slate, forget, migrate

SCRIPT = '<script>alert("x")</script>'


def _forget() -> None:
    """The test messages' claims, every silence, and this module's DAGs."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    forget("pg_")
    with create_session() as session:
        session.execute(delete(Log).where(Log.event == page_actions.TEST_EVENT))


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    migrate()
    clean_slate()
    _forget()
    yield
    clean_slate()
    _forget()


def test_the_form_makes_a_silence_for_the_logged_in_user_and_names_each_wrong_field() -> None:
    now = T0
    made = page_actions.silence_from_form(
        {"reason": "warehouse upgrade", "dag_id": "wh_*", "tag": "", "length": "4h", "author": "mallory"},
        ["failure", "recovery"],
        "alice",
        now,
    )
    assert (made.author, made.dag_id_pattern, made.kinds) == ("alice", "wh_*", ("failure", "recovery"))
    assert made.ends_at - made.starts_at == timedelta(hours=4)
    until = page_actions.silence_from_form(
        {"reason": "r", "length": "until", "until": (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")},
        [],
        "alice",
        now,
    )
    assert until.ends_at == (now + timedelta(hours=3)).replace(second=0, microsecond=0)
    wrong = {
        "for: choose": ({"reason": "r", "length": "2y"}, []),
        "until: 'tomorrow' is not a time": ({"reason": "r", "length": "until", "until": "tomorrow"}, []),
        "kind: 'everything'": ({"reason": "r", "length": "1h"}, ["everything"]),
        "reason: say why": ({"reason": "  ", "length": "1h"}, []),
        "end: a silence lasts at most 30 days": (
            {"reason": "r", "length": "until", "until": (now + timedelta(days=40)).isoformat()},
            [],
        ),
    }
    for expected, (form, kinds) in wrong.items():
        with pytest.raises(SignalInputError, match=re.escape(expected)):
            page_actions.silence_from_form(form, kinds, "alice", now)


def test_a_silence_covers_the_dags_it_matches_and_every_dag_without_a_filter() -> None:
    from airflow.utils.session import create_session

    add_dag("pg_wh_load", tags=["team-data"])
    add_dag("pg_wh_check")
    add_dag("pg_other", tags=["team-data"])

    def covered(**fields: str) -> list[str] | None:
        silence = new_silence(reason="r", author="a", now=T0, ends_at=T0 + timedelta(hours=1), **fields)
        with create_session() as session:
            return page_actions.dags_covered(session, silence)

    assert covered(dag_id_pattern="pg_wh_*") == ["pg_wh_check", "pg_wh_load"]
    assert covered(tag="team-data") == ["pg_other", "pg_wh_load"]
    assert covered(dag_id_pattern="pg_wh_*", tag="team-data") == ["pg_wh_load"]
    assert covered() is None  # every DAG
    assert covered(dag_id_pattern="pg_nothing_yet_*") is None  # would mute DAGs added later


def test_the_test_message_is_claimed_at_most_once_a_minute_whoever_presses() -> None:
    from airflow.utils.session import create_session

    with create_session() as session:
        page_actions.claim_test_message(session, T0, "alice")
    with (
        pytest.raises(page_actions.TooSoonError, match=r"try again in 31 s") as refused,
        create_session() as session,
    ):
        page_actions.claim_test_message(session, T0 + timedelta(seconds=30), "bob")
    assert refused.value.seconds_left == 31
    with create_session() as session:
        page_actions.claim_test_message(session, T0 + timedelta(seconds=61), "bob")


def test_the_test_message_goes_through_the_alerts_connection(signal_api: SignalAPIEmulator) -> None:
    settings = AlertSettings(enabled=True, destinations=("447700900111",), send_retries=0, send_timeout=5)
    result = page_actions.send_test_message(settings, "alice")
    assert (result.conn_id, result.recipients) == ("signal_default", 1)
    [message] = signal_api.messages
    assert message.destination == "447700900111"
    assert "sent by alice" in message.text and "'signal_default'" in message.text


def _silenced_status(signal_api: SignalAPIEmulator) -> tuple[AlertSettings, str, str]:
    """A silence with a script in its reason, and a failed run of a DAG with one in its id that it
    kept quiet; the rendered page and the silence's id."""
    from airflow.utils.session import create_session

    settings = AlertSettings(enabled=True, group_wait=0, group_interval=0, send_retries=0)
    now = T0 + timedelta(minutes=1)
    dag_id = f"pg_{SCRIPT}"
    add_dag(dag_id)
    silence = new_silence(
        reason=f"upgrade {SCRIPT}",
        author="alice",
        now=now,
        ends_at=now + timedelta(hours=1),
        dag_id_pattern="pg_*",
    )
    with create_session() as session:
        silence_store.save_new(session, silence)
    pipeline = Pipeline(settings, lambda: now, lambda: owners.this_process(None))
    pipeline.take(event_from_dag_run(FAILURE, add_run(dag_id, "r1", "failed", T0), ""))
    pipeline.flush()
    assert signal_api.messages == []
    with create_session() as session:
        status = read_status(session, settings, now)
    [recent] = status.recent
    assert (recent.outcome, recent.detail) == ("silenced", f"silence {silence.id}: upgrade {SCRIPT}")
    page = render(status, user="alice <admin>", root="/signal-alerts/", csrf_token="tok&en")
    return settings, page, silence.id


def test_the_page_shows_a_silenced_run_and_escapes_every_value(signal_api: SignalAPIEmulator) -> None:
    _, page, silence_id = _silenced_status(signal_api)
    assert "<script>" not in page
    assert str(escape(f"DAG 'pg_{SCRIPT}' run 'r1'")) in page
    assert str(escape(f"upgrade {SCRIPT}")) in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "alice &lt;admin&gt;" in page
    assert f'action="/signal-alerts/silences/{silence_id}/end"' in page
    assert 'action="/signal-alerts/silences"' in page and 'action="/signal-alerts/test"' in page
    assert page.count('name="csrf_token" value="tok&amp;en"') == 3  # every form


def test_the_page_body_for_the_webserver_layout_is_not_a_whole_document() -> None:
    from airflow.utils.session import create_session

    with create_session() as session:
        status = read_status(session, AlertSettings(enabled=True), T0)
    body = render(status, user="alice", root="/signal-alerts", whole=False)
    whole = render(status, user="alice", root="/signal-alerts")
    assert "<html" not in body and "csrf_token" not in body
    assert whole.startswith("<!DOCTYPE html>") and body.strip() in whole
    assert "Nothing waits" in body and "No silence is active" in body


def test_the_plugin_adds_the_page_only_where_the_ui_is_served_and_only_with_alerts_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from airflow_provider_signal.alerts import plugin
    from alerts_db import AIRFLOW_3

    ui = ["airflow", "api-server"] if AIRFLOW_3 else ["airflow", "webserver"]
    monkeypatch.setenv("AIRFLOW__SIGNAL_ALERTS__ENABLED", "True")
    monkeypatch.setattr(sys, "argv", ui)
    page = plugin._page()
    if AIRFLOW_3:
        [app] = page["fastapi_apps"]
        [view] = page["external_views"]
        assert (app["url_prefix"], view["href"], view["url_route"]) == (
            "/signal-alerts",
            "/signal-alerts/",
            "signal-alerts",
        )
        assert {route.path for route in app["app"].routes} >= {
            "/",
            "/silences",
            "/silences/{silence_id}/end",
            "/test",
        }
    else:
        [view] = page["appbuilder_views"]
        assert (view["name"], view["category"], view["view"].route_base) == (
            "Signal alerts",
            "Browse",
            "/signal-alerts",
        )
    monkeypatch.setattr(sys, "argv", ["airflow", "scheduler"])
    assert plugin._page() == {}
    monkeypatch.setattr(sys, "argv", ui)
    monkeypatch.setenv("AIRFLOW__SIGNAL_ALERTS__ENABLED", "False")
    assert plugin._page() == {}
