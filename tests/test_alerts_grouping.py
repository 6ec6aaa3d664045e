"""The grouping (alerts/grouping.py) as a pure function, the clock passed in, and the message of a
group (alerts/group_text.py): one line per DAG, as many as fit, the rest counted, never cut."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_signal.alerts.group_text import dags_url, failed_runs_url, group_text
from airflow_provider_signal.alerts.grouping import Timing, ready_groups
from airflow_provider_signal.alerts.message import FailedTask, RunEvent, RunReport
from airflow_provider_signal.alerts.outbox import Notice, group_name
from alerts_support import covered

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
TIMING = Timing(wait=10, interval=60)
TEAM, OTHER = ("447700900111",), ("447700900222",)
_ids = iter(range(1, 1_000_000))


def notice(
    dag_id: str, due: float, kind: str = "failure", to: tuple[str, ...] = TEAM, run: str = "r1"
) -> Notice:
    """A queued notice due ``due`` seconds from NOW (negative: overdue)."""
    event = RunEvent(kind, dag_id, run, end_date=NOW - timedelta(seconds=30))  # type: ignore[arg-type]
    return Notice(next(_ids), event, to, NOW + timedelta(seconds=due))


def sent(groups: list[list[Notice]]) -> list[list[str]]:
    return [[n.event.dag_id for n in group] for group in groups]


CASES = [
    # (id, notices, last delivered per group (seconds ago), groups sent now, next due (seconds from now))
    ("nothing queued", [], {}, [], None),
    ("a lone failure waits for its group_wait", [notice("a", 4)], {}, [], 4),
    ("a lone failure once its group_wait is over", [notice("a", 0)], {}, [["a"]], None),
    (
        "one due takes the whole group along, the ones not yet due too",
        [notice("a", -1), notice("b", 5), notice("c", 9)],
        {},
        [["a", "b", "c"]],
        None,
    ),
    (
        "two routes never share a message",
        [notice("a", -1), notice("b", -1, to=OTHER)],
        {},
        [["a"], ["b"]],
        None,
    ),
    (
        "a failure and a recovery never share a message",
        [notice("a", -1), notice("b", -1, kind="recovery")],
        {},
        [["a"], ["b"]],
        None,
    ),
    (
        "within group_interval of the group's last message: wait for it",
        [notice("a", -1)],
        {("failure", TEAM): 20},
        [],
        40,
    ),
    (
        "group_interval over: sent",
        [notice("a", -1)],
        {("failure", TEAM): 61},
        [["a"]],
        None,
    ),
    (
        "another group's last message does not hold this one",
        [notice("a", -1)],
        {("failure", OTHER): 1},
        [["a"]],
        None,
    ),
    (
        "a recovery waits while its DAG's failure is still queued; look again right after",
        [notice("a", -1), notice("a", -1, kind="recovery", run="r2")],
        {},
        [["a"]],
        0,
    ),
    (
        "a recovery waits for a failure not yet due, and is not looked at before it",
        [notice("a", 5), notice("a", -1, kind="recovery", run="r2")],
        {},
        [],
        5,
    ),
]


@pytest.mark.parametrize(("case", "notices", "ago", "groups", "next_due"), CASES, ids=[c[0] for c in CASES])
def test_the_grouping(
    case: str,
    notices: list[Notice],
    ago: dict[tuple[str, tuple[str, ...]], float],
    groups: list[list[str]],
    next_due: float | None,
) -> None:
    last = {group_name(key): NOW - timedelta(seconds=seconds) for key, seconds in ago.items()}  # type: ignore[arg-type]
    ready, due = ready_groups(notices, last, TIMING, NOW)
    assert sent(ready) == groups
    assert due == (None if next_due is None else NOW + timedelta(seconds=next_due))


def test_force_sends_every_group_whatever_its_timing() -> None:
    notices = [notice("a", 9), notice("b", 9, to=OTHER)]
    ready, _ = ready_groups(notices, {group_name(("failure", TEAM)): NOW}, TIMING, NOW, force=True)
    assert sent(ready) == [["a"], ["b"]]


# -- the message of a group ----------------------------------------------------------------------


def report(dag_id: str, run: str = "r1", tasks: int = 1, **changes: object) -> RunReport:
    event = RunEvent("failure", dag_id, run, end_date=NOW, msg="task_failure")
    failed = [FailedTask(f"load_{n}", 1) for n in range(tasks)]
    return RunReport(event, failed_tasks=failed, **changes)  # type: ignore[arg-type]


LINK = failed_runs_url("http://airflow.example.com", 3)


def test_a_group_names_each_dag_with_what_failed_and_links_the_failed_runs() -> None:
    text = group_text([report("etl_orders", tasks=2), report("etl_users")], link=LINK)
    assert text.splitlines() == [
        "❌ Airflow: 2 DAG runs failed in 2 DAGs",
        "• etl_orders: load_0 (try 1), load_1 (try 1)",
        "• etl_users: load_0 (try 1)",
        "Failed runs: http://airflow.example.com/dag_runs?state=failed",
    ]


def test_a_dags_several_runs_share_its_line_and_a_delayed_one_is_marked() -> None:
    late = report("etl", "r1", unreachable=(NOW - timedelta(minutes=5), NOW))
    text = group_text([late, report("etl", "r2", held=3), report("other")], link=LINK)
    assert "❌ Airflow: 3 DAG runs failed in 2 DAGs" in text
    assert "• etl (2 runs, 1 delayed, +3 held back): load_0 (try 1)" in text
    assert "Delayed: the Signal API could not be reached from 11:55 to 12:00 UTC" in text


def test_many_tasks_are_counted_on_the_line() -> None:
    text = group_text([report("a", tasks=2, failed_count=10_000), report("b")])
    assert "• a: load_0 (try 1), load_1 (try 1) and 9998 more" in text


def test_a_storm_lists_what_fits_then_counts_the_rest_and_keeps_the_link() -> None:
    reports = [report(f"dag_{n:04d}") for n in range(1000)]
    text = group_text(reports, link=LINK, limit=2000)
    assert len(text) <= 2000
    lines = text.splitlines()
    assert lines[0] == "❌ Airflow: 1000 DAG runs failed in 1000 DAGs"
    assert re.fullmatch(r"And \d+ more", lines[-2]) and lines[-1].endswith("state=failed")
    seen = covered([text])
    assert sum(seen.values()) == 1000 and all(v == 1 for k, v in seen.items() if k != "<counted>")


@settings(max_examples=150, deadline=None)
@given(
    limit=st.integers(min_value=80, max_value=4000),
    dags=st.lists(st.text(min_size=1, max_size=300), min_size=2, max_size=60),
    runs=st.integers(min_value=1, max_value=3),
)
def test_counts_are_never_cut_and_every_run_is_named_or_counted_once(
    limit: int, dags: list[str], runs: int
) -> None:
    ids = [f"d{n}_{name.split()[0] if name.split() else 'x'}"[:250] for n, name in enumerate(dags)]
    reports = [report(dag_id, f"r{run}") for dag_id in ids for run in range(runs)]
    text = group_text(reports, link=LINK, limit=limit)
    assert len(text) <= limit
    assert text.splitlines()[0] == f"❌ Airflow: {len(reports)} DAG runs failed in {len(ids)} DAGs"
    rest = [line for line in text.splitlines() if line.startswith("And ")]
    listed = [line for line in text.splitlines() if line.startswith("• ")]
    counted = int(re.match(r"And (\d+) more", rest[0]).group(1)) if rest else 0  # type: ignore[union-attr]
    assert len(listed) + counted == len(ids)


def test_a_group_of_recoveries_names_the_dags_and_links_the_dag_list() -> None:
    recovered = [RunReport(RunEvent("recovery", dag_id, "r9")) for dag_id in ("a", "b")]
    text = group_text(recovered, link=dags_url("http://x", 2))
    assert text.splitlines() == ["✅ Airflow: 2 DAGs recovered", "• a", "• b", "DAGs: http://x/home"]


def test_the_lists_links_on_each_line() -> None:
    assert failed_runs_url("http://x/", 2) == "http://x/dagrun/list/?_flt_0_state=failed"
    assert failed_runs_url("", 3) is None and dags_url("http://x", 3) == "http://x/dags"


def test_the_line_of_a_dag_is_redacted() -> None:
    text = group_text([report("a"), report("b")], redact=lambda line: line.replace("load_0", "***"))
    assert "• a: *** (try 1)" in text
