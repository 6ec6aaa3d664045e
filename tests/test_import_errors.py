"""Import-error alerts without a database: the decision, the batching window, the error line,
the texts and the settings (tests/test_import_errors_deployment.py runs them in real Airflow)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_signal.alerts import import_errors as ie
from airflow_provider_signal.alerts.config import parse_settings
from airflow_provider_signal.alerts.import_text import FileReport, broken_text, fixed_text, import_errors_url
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.notifications.alert_text import SHORTENED_MARKER

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc)
COOLDOWN = 3600.0
TRACE = 'Traceback (most recent call last):\n  File "/dags/etl.py", line 3, in <module>\n    import x\n'
MISSING = TRACE + "ModuleNotFoundError: No module named 'x'\n"
OTHER = TRACE + "NameError: name 'y' is not defined\n"
KEY = ("dags-folder", "etl.py")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def broken_now(trace: str = MISSING) -> dict[ie.FileKey, ie.BrokenFile]:
    return {KEY: ie.BrokenFile(*KEY, trace)}


def record(event: str, minutes: float, trace: str = MISSING, log_id: int = 0) -> ie.Record:
    return ie.Record(log_id or int(minutes * 10) + 1, event, *KEY, ie.error_line(trace), at(0), at(minutes))


BROKEN, FIXED = ie.BROKEN_EVENT, ie.FIXED_EVENT


@pytest.mark.parametrize(
    ("case", "records", "current", "now", "sent", "held"),
    [
        ("a new breakage is news", [], broken_now(), 0, ["broken"], []),
        ("the same error again is not", [record(BROKEN, 0)], broken_now(), 30, [], []),
        ("the same error a day later is not", [record(BROKEN, 0)], broken_now(), 1440, [], []),
        ("a different error is news", [record(BROKEN, 0)], broken_now(OTHER), 1, ["changed"], []),
        (
            "a different error is never held by the cooldown",
            [record(BROKEN, 0), record(BROKEN, 1, OTHER)],
            broken_now(),
            2,
            ["changed"],
            [],
        ),
        ("the error gone is a fix", [record(BROKEN, 0)], {}, 5, ["fixed"], []),
        ("a fixed file that stays fixed is quiet", [record(BROKEN, 0), record(FIXED, 5)], {}, 90, [], []),
        ("never broken, nothing to say", [], {}, 0, [], []),
        (
            "broken again within the cooldown waits",
            [record(BROKEN, 0), record(FIXED, 5)],
            broken_now(OTHER),
            10,
            [],
            [("broken", at(60))],
        ),
        (
            "broken again after the cooldown is news",
            [record(BROKEN, 0), record(FIXED, 5)],
            broken_now(),
            61,
            ["broken"],
            [],
        ),
        (
            "fixed again within the cooldown of the last fix waits",
            [record(BROKEN, 0), record(FIXED, 5), record(BROKEN, 70)],
            {},
            64,
            [],
            [("fixed", at(65))],
        ),
        (
            "flapping with the same error is quiet once fixed is held",
            [record(BROKEN, 0), record(FIXED, 5), record(BROKEN, 70)],
            broken_now(),
            64,
            [],
            [],
        ),
    ],
)
def test_decide(
    case: str,
    records: list[ie.Record],
    current: dict[ie.FileKey, ie.BrokenFile],
    now: float,
    sent: list[str],
    held: list[tuple[str, datetime]],
) -> None:
    outcomes, waiting = ie.decide(ie.histories(records), current, at(now), COOLDOWN)
    assert [o.kind for o in outcomes] == sent, case
    assert [(h.kind, h.until) for h in waiting] == held, case


def test_an_outcome_carries_what_the_message_needs() -> None:
    records = [record(BROKEN, 0)]
    [changed], _ = ie.decide(ie.histories(records), broken_now(OTHER), at(3), COOLDOWN)
    assert changed.fingerprint == "NameError: name 'y' is not defined"
    assert changed.since == at(0) and changed.record == records[0] and changed.key == KEY
    [fixed], _ = ie.decide(ie.histories(records), {}, at(3), COOLDOWN)
    assert fixed.since == at(0) and fixed.fingerprint == "ModuleNotFoundError: No module named 'x'"


def test_files_are_decided_each_on_their_own() -> None:
    other = ("dags-folder", "other.py")
    current = {**broken_now(), other: ie.BrokenFile(*other, MISSING)}
    outcomes, _ = ie.decide(ie.histories([record(BROKEN, 0)]), current, at(1), COOLDOWN)
    assert [(o.kind, o.filename) for o in outcomes] == [("broken", "other.py")]


def test_the_window_starts_at_the_first_sighting_and_takes_everything_pending() -> None:
    first, second = (ie.Outcome("broken", "", name, "E: x") for name in ("a.py", "b.py"))
    seen = {first.pending_key: at(0), second.pending_key: at(0.25)}
    assert not ie.due([first, second], seen, at(0.3), window=20)
    assert ie.due([first, second], seen, at(20 / 60), window=20)
    assert not ie.due([], seen, at(5), window=20)
    assert ie.due([first], {}, at(0), window=0)  # never seen before, no window: at once


@pytest.mark.parametrize(
    ("trace", "line", "kind"),
    [
        (MISSING, "ModuleNotFoundError: No module named 'x'", "ModuleNotFoundError"),
        (
            '  File "/dags/etl.py", line 4\n    def broken(:\n      ^\nSyntaxError: invalid syntax\n',
            "SyntaxError: invalid syntax",
            "SyntaxError",
        ),
        (
            TRACE
            + "airflow.exceptions.AirflowTaskTimeout: DagBag import timeout for /dags/etl.py after 30s.\n"
            "Please take a look at these docs to improve your DAG import time:\n"
            "https://airflow.apache.org/docs/best-practices.html#top-level-python-code\n",
            "airflow.exceptions.AirflowTaskTimeout: DagBag import timeout for /dags/etl.py after 30s.",
            "AirflowTaskTimeout",
        ),
        ("No module named 'x'", "No module named 'x'", None),
        ("", "(no error text)", None),
    ],
)
def test_the_error_line_is_the_exception_not_the_trace(trace: str, line: str, kind: str | None) -> None:
    assert ie.error_line(trace) == line
    assert ie.error_type(trace) == kind


def test_a_broken_message_names_file_dags_error_and_first_sighting() -> None:
    report = FileReport(
        "team/etl.py", "dags-folder", ("etl_orders", "etl_users"), "ModuleNotFoundError: No module named 'x'"
    )
    text = broken_text([FileReport(**{**report.__dict__, "first_seen": T0})], link="http://af/dags")
    assert text.splitlines() == [
        "❌ Airflow DAG file broken",
        "File: team/etl.py (bundle dags-folder)",
        "DAGs: etl_orders, etl_users",
        "Error: ModuleNotFoundError: No module named 'x'",
        "First seen: 2026-03-01T06:00:00+00:00",
        "Import errors: http://af/dags",
    ]


def test_many_files_make_one_message_with_a_handful_named() -> None:
    reports = [FileReport(f"f{n}.py", error="RuntimeError: boom") for n in range(8)]
    text = broken_text(reports, max_files=5)
    assert text.startswith("❌ Airflow DAG file broken: 8 files\n")
    assert text.count("Error: RuntimeError: boom") == 5
    assert text.endswith("And 3 more: f5.py, f6.py, f7.py")
    assert "DAGs: none known (the file has not imported yet)" in text


def test_a_long_error_is_shortened_never_dropped() -> None:
    text = broken_text([FileReport("etl.py", error="ValueError: " + "x" * 1000, changed=True)])
    error = next(line for line in text.splitlines() if line.startswith("New error: ValueError: xxx"))
    assert error.endswith(SHORTENED_MARKER) and len(error) < 400


def test_a_fixed_message_says_how_long_it_was_broken() -> None:
    text = fixed_text([FileReport("etl.py", dag_ids=("etl",), broken_for=3725)], link="http://af/home")
    assert text.splitlines() == [
        "✅ Airflow DAG file fixed",
        "File: etl.py",
        "DAGs: etl",
        "Broken for: 1 h 2 min 5 s",
        "Link: http://af/home",
    ]


def test_the_import_errors_link_on_each_line() -> None:
    assert import_errors_url("http://af:8080/", 3) == "http://af:8080/dags"
    assert import_errors_url("http://af:8080", 2) == "http://af:8080/home"
    assert import_errors_url("", 3) is None


def test_the_settings_accept_import_error_and_its_keys() -> None:
    values = {"notify_on": "import_error", "import_error_interval": "2.5", "import_error_window": "0"}
    parsed = parse_settings(values.get)
    assert parsed.notify_on == {"import_error"}
    assert (parsed.import_error_interval, parsed.import_error_window) == (2.5, 0)
    with pytest.raises(SignalInputError, match=r"import_error_interval = '0': must be at least 0.5"):
        parse_settings({"import_error_interval": "0"}.get)


@pytest.mark.parametrize("limit", [200, 320, 600])
def test_a_short_limit_keeps_the_title_the_files_the_count_and_a_whole_link(limit: int) -> None:
    link = "http://airflow.example:8080/dags?" + "q" * 40
    reports = [
        FileReport(f"team/etl_{n}.py", dag_ids=(f"etl_{n}",), error="ValueError: " + "x" * 300, first_seen=T0)
        for n in range(7)
    ]
    text = broken_text(reports, link=link, max_files=5, limit=limit)
    assert len(text) <= limit
    assert text.startswith("❌ Airflow DAG file broken")
    assert "And 2 more" in text  # the count is never cut off
    for line in text.splitlines():  # the link is whole or left out, never half a URL
        assert "http://" not in line or line == f"Import errors: {link}"
    fixed = fixed_text(reports[:1], link=link, limit=60)
    assert len(fixed) <= 60 and "✅ Airflow DAG file fixed" in fixed
