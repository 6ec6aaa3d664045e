"""The alert rule as a pure function (alerts/decision.py): one table row per rule, no database,
the clock passed in. Each row is (what the DAG recorded, what this run recorded, the run, now)
-> (outcome, reason)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_signal.alerts.decision import (
    DagHistory,
    Outcome,
    Reason,
    Rules,
    RunFacts,
    RunRecord,
    decide,
    decide_queued,
)
from airflow_provider_signal.alerts.kinds import FAILURE, RECOVERY

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
RULES = Rules(cooldown=3600, max_delivery_age=3600)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


FAILED_NOW = RunFacts(FAILURE, ended=ago(0))
RECOVERED_NOW = RunFacts(RECOVERY, ended=ago(0))
ALERTED = DagHistory(last_failure_delivered=ago(10), last_delivered_kind=FAILURE, last_delivered_at=ago(10))

CASES = [
    # (id, dag, run, facts, outcome, reason)
    ("first failure", DagHistory(), RunRecord(), FAILED_NOW, Outcome.SEND, Reason.FIRST_ALERT),
    ("inside the cooldown", ALERTED, RunRecord(), FAILED_NOW, Outcome.HOLD_BACK, Reason.IN_COOLDOWN),
    (
        "cooldown over",
        DagHistory(last_failure_delivered=ago(61), last_delivered_kind=FAILURE, last_delivered_at=ago(61)),
        RunRecord(),
        FAILED_NOW,
        Outcome.SEND,
        Reason.COOLDOWN_OVER,
    ),
    (
        "run ended before the last delivery (outage): held",
        ALERTED,
        RunRecord(),
        RunFacts(FAILURE, ended=ago(20)),
        Outcome.HOLD_BACK,
        Reason.IN_COOLDOWN,
    ),
    (
        "a delivered recovery ends the cooldown",
        DagHistory(last_failure_delivered=ago(10), last_delivered_kind=RECOVERY, last_delivered_at=ago(5)),
        RunRecord(),
        FAILED_NOW,
        Outcome.SEND,
        Reason.AFTER_RECOVERY,
    ),
    (
        "clock skew: a delivery dated in the future is ignored, not clamped",
        DagHistory(last_failure_delivered=NOW + timedelta(hours=20), last_delivered_kind=FAILURE),
        RunRecord(),
        FAILED_NOW,
        Outcome.SEND,
        Reason.FUTURE_ALERT_IGNORED,
    ),
    (
        "another failure alert of the DAG still being sent: held",
        DagHistory(failure_alert_pending=True),
        RunRecord(),
        FAILED_NOW,
        Outcome.HOLD_BACK,
        Reason.ALERT_PENDING,
    ),
    (
        "cooldown 0 ignores a pending alert",
        DagHistory(failure_alert_pending=True),
        RunRecord(),
        FAILED_NOW,
        Outcome.SEND,
        Reason.FIRST_ALERT,
    ),
    (
        "the DAG's pending failure alert is delayed (the API was down): this one joins it",
        DagHistory(failure_alert_pending=True, failure_alert_delayed=True),
        RunRecord(),
        FAILED_NOW,
        Outcome.SEND,
        Reason.JOINS_PENDING,
    ),
    (
        "a recovery while the failure alert still waits: it follows that alert",
        DagHistory(failure_alert_pending=True, previous_run_failed=True),
        RunRecord(),
        RECOVERED_NOW,
        Outcome.SEND,
        Reason.RECOVERY_AFTER_PENDING,
    ),
    (
        "in the cooldown, a pending alert does not undo the hold",
        DagHistory(
            last_failure_delivered=ago(10),
            last_delivered_kind=FAILURE,
            failure_alert_pending=True,
            failure_alert_delayed=True,
        ),
        RunRecord(),
        FAILED_NOW,
        Outcome.HOLD_BACK,
        Reason.IN_COOLDOWN,
    ),
    (
        "waiting in the outbox: left to it",
        DagHistory(),
        RunRecord(queued=True),
        FAILED_NOW,
        Outcome.SKIP,
        Reason.IN_OUTBOX,
    ),
    (
        "an attempt in flight whose owner is gone: may have arrived, sent again at once",
        DagHistory(),
        RunRecord(attempts=1, open_until=NOW + timedelta(minutes=2), owner_gone=True),
        FAILED_NOW,
        Outcome.SEND_AGAIN,
        Reason.MAY_HAVE_ARRIVED,
    ),
    (
        "an owner gone after one copy may have arrived already: never a third",
        DagHistory(),
        RunRecord(attempts=2, uncertain=1, open_until=NOW + timedelta(minutes=2), owner_gone=True),
        FAILED_NOW,
        Outcome.GIVE_UP,
        Reason.SENT_TWICE,
    ),
    ("muted", DagHistory(), RunRecord(), RunFacts(FAILURE, ago(0), muted=True), Outcome.MUTE, Reason.MUTED),
    (
        "silenced",
        DagHistory(),
        RunRecord(),
        RunFacts(FAILURE, ago(0), silenced=True),
        Outcome.SILENCE,
        Reason.SILENCED,
    ),
    (
        "a silenced recovery",
        DagHistory(last_failure_delivered=ago(30), last_delivered_kind=FAILURE, previous_run_failed=True),
        RunRecord(),
        RunFacts(RECOVERY, ago(0), silenced=True),
        Outcome.SILENCE,
        Reason.SILENCED,
    ),
    (
        "silenced after its first attempt could not reach the API: decided before, still sent",
        DagHistory(),
        RunRecord(attempts=1, first_failure=ago(1)),
        RunFacts(FAILURE, ago(2), silenced=True),
        Outcome.SEND,
        Reason.RETRY,
    ),
    (
        "decided already",
        DagHistory(),
        RunRecord(decided=True),
        FAILED_NOW,
        Outcome.SKIP,
        Reason.ALREADY_DECIDED,
    ),
    (
        "in flight elsewhere",
        DagHistory(),
        RunRecord(attempts=1, open_until=NOW + timedelta(seconds=5)),
        FAILED_NOW,
        Outcome.SKIP,
        Reason.IN_FLIGHT,
    ),
    (
        "an attempt past its deadline (process died mid-send): sent again",
        DagHistory(),
        RunRecord(attempts=1, open_until=ago(1)),
        FAILED_NOW,
        Outcome.SEND_AGAIN,
        Reason.MAY_HAVE_ARRIVED,
    ),
    (
        "a read time-out: sent again",
        DagHistory(),
        RunRecord(attempts=1, uncertain=1),
        FAILED_NOW,
        Outcome.SEND_AGAIN,
        Reason.MAY_HAVE_ARRIVED,
    ),
    (
        "two copies may have arrived: never a third",
        DagHistory(),
        RunRecord(attempts=2, uncertain=1, open_until=ago(1)),
        FAILED_NOW,
        Outcome.GIVE_UP,
        Reason.SENT_TWICE,
    ),
    (
        "could not reach the API: retried, the cooldown not asked again",
        ALERTED,
        RunRecord(attempts=3, first_failure=ago(5)),
        FAILED_NOW,
        Outcome.SEND,
        Reason.RETRY,
    ),
    (
        "older than max_delivery_age: given up",
        DagHistory(),
        RunRecord(attempts=9, first_failure=ago(61)),
        RunFacts(FAILURE, ended=ago(61)),
        Outcome.GIVE_UP,
        Reason.TOO_OLD,
    ),
    (
        "recovery after a failure alert",
        ALERTED,
        RunRecord(),
        RECOVERED_NOW,
        Outcome.SKIP,
        Reason.PREVIOUS_NOT_FAILED,
    ),
    (
        "recovery when the previous run failed",
        DagHistory(last_failure_delivered=ago(10), last_delivered_kind=FAILURE, previous_run_failed=True),
        RunRecord(),
        RECOVERED_NOW,
        Outcome.SEND,
        Reason.RECOVERY,
    ),
    (
        "no recovery without a delivered failure alert",
        DagHistory(previous_run_failed=True),
        RunRecord(),
        RECOVERED_NOW,
        Outcome.SKIP,
        Reason.NO_FAILURE_ALERT,
    ),
    (
        "no recovery twice",
        DagHistory(last_delivered_kind=RECOVERY, previous_run_failed=True),
        RunRecord(),
        RECOVERED_NOW,
        Outcome.SKIP,
        Reason.NO_FAILURE_ALERT,
    ),
]


RULES_FOR = {"cooldown 0 ignores a pending alert": Rules(cooldown=0, max_delivery_age=3600)}


@pytest.mark.parametrize(
    ("case", "dag", "run", "facts", "outcome", "reason"), CASES, ids=[c[0] for c in CASES]
)
def test_the_rule(
    case: str, dag: DagHistory, run: RunRecord, facts: RunFacts, outcome: Outcome, reason: Reason
) -> None:
    decision = decide(dag, run, facts, RULES_FOR.get(case, RULES), NOW)
    assert (decision.outcome, decision.reason) == (outcome, reason)
    assert decision.sends == (outcome in (Outcome.SEND, Outcome.SEND_AGAIN))


QUEUED_CASES = [
    # (case, run, ended minutes ago, outcome, reason)
    ("a fresh notice goes out", RunRecord(queued=True), 0, Outcome.SEND, Reason.FIRST_ALERT),
    ("a retry goes out", RunRecord(attempts=1, queued=True), 5, Outcome.SEND, Reason.RETRY),
    (
        "a copy may have arrived: marked",
        RunRecord(attempts=1, uncertain=1, queued=True),
        5,
        Outcome.SEND_AGAIN,
        Reason.MAY_HAVE_ARRIVED,
    ),
    (
        "two copies may have arrived",
        RunRecord(attempts=2, uncertain=2),
        5,
        Outcome.GIVE_UP,
        Reason.SENT_TWICE,
    ),
    ("older than max_delivery_age", RunRecord(attempts=3, queued=True), 61, Outcome.GIVE_UP, Reason.TOO_OLD),
    ("decided meanwhile", RunRecord(decided=True), 0, Outcome.SKIP, Reason.ALREADY_DECIDED),
]


@pytest.mark.parametrize(
    ("case", "run", "ended", "outcome", "reason"), QUEUED_CASES, ids=[c[0] for c in QUEUED_CASES]
)
def test_the_rule_for_a_queued_notice(
    case: str, run: RunRecord, ended: float, outcome: Outcome, reason: Reason
) -> None:
    decision = decide_queued(run, ago(ended), RULES, NOW)
    assert (decision.outcome, decision.reason) == (outcome, reason)
