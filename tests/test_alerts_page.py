"""The Signal alerts page as people use it: headless Chromium against the shared single-node
deployment (Airflow 3.3: the API server with the simple auth manager; 2.11: the webserver with
FAB), logged in through Airflow's own login page as users of different roles.

- An admin makes a silence for a DAG from the form (its reason has a ``<script>`` in it, and a
  second silence one in its DAG pattern: both show as text, neither runs), the DAG fails, no
  message comes and the page lists the run as silenced; "End now", and the summary message comes.
  A screenshot of the page for the docs.
- A viewer sees the page; its forms are refused, and so are the endpoints called directly
  (Airflow 3: with the viewer's token 403, with none 401; 2.11: with a valid CSRF token 403,
  without one 400); nobody logged in is refused (2.11: sent to the login page).
- An editor sends a test message: it arrives once; pressed again within the minute, refused.

Who may do what is always Airflow's auth manager's answer: the test only logs in as the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_support import Deployment, wait_until
from alerts_support import finish, messages_about

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "docs" / "images" / "signal-alerts-page.png"
DAG_ID = "alerts_page_silenced"
REASON = "warehouse upgrade <script>window.pwned = 1</script>"
PATTERN_WITH_SCRIPT = "<script>window.pwned = 2</script>"


@pytest.fixture(scope="module")
def deployment(airflow_deployment: Deployment) -> Deployment:
    airflow_deployment.wait_for_dags(DAG_ID)
    return airflow_deployment


def page_url(deployment: Deployment) -> str:
    return f"{deployment.url}/signal-alerts/"


@contextlib.contextmanager
def signed_in(browser: Any, deployment: Deployment, user: str | None, tmp_path: Path) -> Iterator[Any]:
    """A browser page logged in as ``user`` (through Airflow's login page) on the Signal alerts
    page, or on it with nobody logged in for ``None``; a screenshot when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        if user is not None:
            log_in(page, deployment, user)
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(tmp_path / f"failure-{user}.png"), full_page=True)
            print(f"\n[browser] page at failure: {tmp_path / f'failure-{user}.png'}")
        raise
    finally:
        context.close()


def log_in(page: Any, deployment: Deployment, user: str) -> None:
    from playwright.sync_api import expect

    target = page_url(deployment)
    password = deployment.users[user]
    if deployment.line == 3:
        page.goto(f"{deployment.url}/auth/login?next={urllib.parse.quote(target, safe='')}")
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r".*/signal-alerts/"), timeout=60_000)
    else:
        page.goto(f"{deployment.url}/login/?next={urllib.parse.quote(target, safe='')}")
        page.locator("#username").fill(user)
        page.locator("#password").fill(password)
        page.locator("input[type=submit]").click()
        page.wait_for_load_state()
        page.goto(target)
    expect(page.get_by_role("heading", name="Signal alerts", exact=True)).to_be_visible()
    expect(page.get_by_text(f"signed in as {user}")).to_be_visible()


def make_silence(page: Any, reason: str, dag_id: str, length: str = "1 h") -> None:
    form = page.locator("#new-silence")
    form.get_by_label("Reason").fill(reason)
    form.get_by_label("DAG ids").fill(dag_id)
    form.get_by_label("failure").check()
    form.get_by_label(length, exact=True).check()
    form.get_by_role("button", name="Silence").click()


def silence_row(page: Any, reason: str) -> Any:
    return page.locator("#silences tr", has_text=reason)


def test_an_admin_silences_a_dag_sees_its_run_silenced_and_ends_the_silence(
    browser: Any, deployment: Deployment, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    with signed_in(browser, deployment, "admin", tmp_path) as page:
        make_silence(page, REASON, DAG_ID)
        expect(page.get_by_role("status")).to_have_text("Silence made.")
        row = silence_row(page, REASON)
        expect(row).to_contain_text("active")
        expect(row).to_contain_text(f"DAGs {DAG_ID}, failure alerts")
        expect(row).to_contain_text("admin")  # the logged-in user is the author
        make_silence(page, "pattern check", PATTERN_WITH_SCRIPT)
        expect(silence_row(page, "pattern check")).to_contain_text(f"DAGs {PATTERN_WITH_SCRIPT}")
        assert page.evaluate("window.pwned") is None  # shown as text, never run

        run_id = deployment.trigger(DAG_ID)
        finish(deployment, DAG_ID, [run_id])
        recent = page.locator("#recent tr", has_text=f"DAG '{DAG_ID}' run '{run_id}'")

        def listed_as_silenced() -> bool:
            page.reload()
            return recent.count() == 1 and "silenced" in recent.inner_text()

        wait_until(listed_as_silenced, "the page does not list the run as silenced", deployment, 90)
        expect(recent).to_contain_text(f"silence {row.get_attribute('data-silence')}: {REASON}")
        assert messages_about(deployment, DAG_ID) == []

        with contextlib.suppress(Exception):  # the docs' picture: refreshed on request
            target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / SCREENSHOT.name
            page.screenshot(path=str(target), full_page=True)
        for reason in (REASON, "pattern check"):
            silence_row(page, reason).get_by_role("button", name="End now").click()
            expect(page.get_by_role("status")).to_have_text("Silence ended.")
            expect(silence_row(page, reason)).to_contain_text("ended")
        assert page.evaluate("window.pwned") is None

    title = f"🔕 Silence over: '{REASON}'\n"
    wait_until(
        lambda: any(m.text.startswith(title) for m in deployment.emulator.messages),
        "no summary of the silence ended from the page",
        deployment,
        90,
    )
    [summary] = [m.text for m in deployment.emulator.messages if m.text.startswith(title)]
    assert "1 failed run of 1 DAG" in summary and "ended early by admin" in summary, summary
    print(f"\n[browser] admin: silence, run, end, summary in {time.monotonic() - started:.1f} s")


def _post(deployment: Deployment, path: str, headers: dict[str, str], body: str = "") -> int:
    """The status of a form post made without a browser."""
    request = urllib.request.Request(  # noqa: S310 - the deployment's own server
        deployment.url + path,
        data=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


FORM = "reason=sneaky&dag_id=&tag=&length=1h"


def test_a_viewer_sees_the_page_but_may_change_nothing_and_nobody_logged_in_sees_nothing(
    browser: Any, deployment: Deployment, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    with signed_in(browser, deployment, "viewer", tmp_path) as page:
        make_silence(page, "viewer's silence", DAG_ID)
        expect(page.get_by_role("alert")).to_contain_text("Silence not made: your role may not edit")
        page.goto(page_url(deployment))
        page.get_by_role("button", name="Send a test message").click()
        expect(page.get_by_role("alert")).to_contain_text("No test message sent: your role may not edit")
        assert silence_row(page, "viewer's silence").count() == 0
        if deployment.line == 2:
            token = page.locator("#new-silence input[name=csrf_token]").get_attribute("value")
            cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
            as_viewer = {"Cookie": cookies, "Referer": page_url(deployment)}
            form = f"{FORM}&csrf_token={urllib.parse.quote(token or '')}"
            assert _post(deployment, "/signal-alerts/silences", as_viewer, form) == 403
            assert _post(deployment, "/signal-alerts/test", as_viewer, f"csrf_token={token}") == 403
            assert _post(deployment, "/signal-alerts/silences", as_viewer, FORM) == 400  # no CSRF token
    if deployment.line == 3:
        viewer = {"Authorization": f"Bearer {deployment.token_of('viewer')}"}
        assert _post(deployment, "/signal-alerts/silences", viewer, FORM) == 403
        assert _post(deployment, "/signal-alerts/test", viewer) == 403
        assert _post(deployment, "/signal-alerts/silences", {}, FORM) == 401
        assert _post(deployment, "/signal-alerts/test", {}) == 401
    with signed_in(browser, deployment, None, tmp_path) as page:
        answer = page.goto(page_url(deployment))
        if deployment.line == 3:
            assert answer.status == 401
            expect(page.get_by_role("alert")).to_contain_text("Not logged in")
        else:
            assert "/login/" in page.url  # has_access_dag sends nobody to the login page
        assert page.locator("#new-silence").count() == 0
    assert messages_about(deployment, DAG_ID) == []


def test_an_editor_sends_one_test_message_and_a_second_press_is_refused(
    browser: Any, deployment: Deployment, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    def tests_sent() -> list[str]:
        return [m.text for m in deployment.emulator.messages if "from the Signal alerts page" in m.text]

    before = len(tests_sent())
    with signed_in(browser, deployment, "editor", tmp_path) as page:
        page.get_by_role("button", name="Send a test message").click()
        expect(page.get_by_role("status")).to_have_text("Test message sent.")
        page.get_by_role("button", name="Send a test message").click()
        expect(page.get_by_role("alert")).to_contain_text("try again in")
    sent = tests_sent()[before:]
    assert len(sent) == 1 and "(sent by editor)" in sent[0], sent
