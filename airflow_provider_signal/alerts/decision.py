"""The rule for one finished run, as a pure function: no database, no clock of its own.

:func:`decide` takes what is recorded for the DAG (:class:`DagHistory`), what is recorded for
this run (:class:`RunRecord`), the run itself (:class:`RunFacts`), the settings that matter
(:class:`Rules`) and ``now``, and returns a :class:`Decision`: an :class:`Outcome` with a
:class:`Reason`. The sender reads the records (``records.py``) under a per-DAG lock, calls
this, writes the outcome back and acts on it.

The rules, in order:

- a run with a recorded outcome (delivered, held back, muted, given up) is never decided again;
- a run waiting in the outbox (queued, not yet sent) is left to the outbox;
- an attempt that started and has no outcome yet is *in flight* until its deadline, unless its
  owner (the process sending it) is known to be gone; past the deadline, or with its owner
  gone, its process died mid-send, so the message may have arrived;
- at most two copies that may have arrived: a second such copy means give up, never a third;
- a muted DAG is recorded as muted; a run a silence matches (:mod:`.silences`) as silenced, unless
  an attempt for it started before (what was decided before a silence still goes out);
- older than ``max_delivery_age`` (from the run's end): given up;
- a run already being sent (an earlier attempt did not arrive) goes on being sent, marked as
  a possible repeat when an earlier copy may have arrived; the cooldown is not asked again;
- a failure alerts unless the DAG's last *delivered* failure alert is younger than the
  cooldown (counted from that delivery to this run's end); a delivered recovery after it ends
  the cooldown; a delivery dated later than ``now`` (a clock ahead) is ignored; while another
  failure alert of the DAG is being sent, held back too (counted in the next alert), unless that
  alert is delayed (an attempt did not reach the API): then this failure joins it, and one
  message names both;
- a recovery is sent when the DAG's last delivered alert was a failure alert and the DAG's
  previous finished run failed (a failed run cleared and now successful counts its own failure),
  or when its previous run failed and that failure's alert is still waiting: the recovery then
  waits for it (:mod:`.grouping`), so the phone never shows a recovery before its failure.

:func:`decide_queued` is the rule the outbox applies to a queued notice when its group goes out:
too old or sent twice is given up, anything else is sent (marked when a copy may have arrived).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from airflow_provider_signal.alerts.kinds import FAILURE, RECOVERY, RunKind


class Outcome(str, enum.Enum):
    SEND = "send"
    SEND_AGAIN = "send_again"  # a copy may have arrived: send once more, marked as a possible repeat
    HOLD_BACK = "held_back"
    MUTE = "muted"
    SILENCE = "silenced"
    GIVE_UP = "given_up"
    SKIP = "skip"  # nothing to record: decided already, in flight elsewhere, or no recovery


class Reason(str, enum.Enum):
    FIRST_ALERT = "no failure alert of this DAG was delivered before"
    COOLDOWN_OVER = "the cooldown since the DAG's last delivered failure alert is over"
    AFTER_RECOVERY = "a recovery was delivered since the DAG's last failure alert"
    FUTURE_ALERT_IGNORED = "the DAG's last delivered alert is dated later than now (a clock ahead); ignored"
    RETRY = "an earlier attempt could not reach the Signal API"
    MAY_HAVE_ARRIVED = "an earlier attempt may have arrived"
    RECOVERY = "the DAG's last delivered alert was a failure and its previous run failed"
    RECOVERY_AFTER_PENDING = "the DAG's failure alert is still waiting to be sent: the recovery follows it"
    IN_COOLDOWN = "held back by the cooldown"
    ALERT_PENDING = "held back: another failure alert of this DAG is still being sent"
    JOINS_PENDING = "joins the DAG's earlier failure alert, delayed and still waiting to be sent"
    MUTED = "the DAG is muted"
    SILENCED = "a silence matches it"
    ALREADY_DECIDED = "this run already has a recorded outcome"
    IN_FLIGHT = "an attempt for this run is in flight"
    IN_OUTBOX = "this run's alert is waiting in the outbox"
    TOO_OLD = "the run ended longer than max_delivery_age ago"
    SENT_TWICE = "two copies may already have arrived; never a third"
    NO_FAILURE_ALERT = "no failure alert to recover from"
    PREVIOUS_NOT_FAILED = "the previous run did not fail"


@dataclass(frozen=True)
class Rules:
    cooldown: float
    max_delivery_age: float


@dataclass(frozen=True)
class DagHistory:
    """What is recorded for the DAG (other runs)."""

    last_failure_delivered: datetime | None = None  # when the last failure alert was delivered
    last_delivered_kind: RunKind | None = None  # the kind of the DAG's last delivered alert
    last_delivered_at: datetime | None = None
    failure_alert_pending: bool = False  # another run's failure alert is queued or being sent
    failure_alert_delayed: bool = False  # ... and an attempt of it did not reach the API
    previous_run_failed: bool = False  # the previous finished run (or this run before clearing) failed


@dataclass(frozen=True)
class RunRecord:
    """What is recorded for this run (this clearing of it)."""

    decided: bool = False  # delivered, held back, muted or given up
    attempts: int = 0  # attempts started
    uncertain: int = 0  # attempts that ended in "may have arrived"
    open_until: datetime | None = None  # the deadline of an attempt that has no outcome yet
    first_failure: datetime | None = None  # when an attempt first failed to reach the API
    queued: bool = False  # waiting in the outbox for its group to go out
    owner_gone: bool = False  # the process of the open attempt no longer runs


@dataclass(frozen=True)
class RunFacts:
    kind: RunKind
    ended: datetime
    muted: bool = False
    silenced: bool = False  # a silence matches the run now


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: Reason

    @property
    def sends(self) -> bool:
        return self.outcome in (Outcome.SEND, Outcome.SEND_AGAIN)


def _ahead(value: datetime | None, now: datetime) -> bool:
    return value is not None and value > now


def decide(dag: DagHistory, run: RunRecord, facts: RunFacts, rules: Rules, now: datetime) -> Decision:
    """The outcome for one finished run (see the module docstring for the rules)."""
    if run.decided:
        return Decision(Outcome.SKIP, Reason.ALREADY_DECIDED)
    if run.queued:
        return Decision(Outcome.SKIP, Reason.IN_OUTBOX)
    uncertain = run.uncertain
    if run.open_until is not None:
        if now < run.open_until and not run.owner_gone:
            return Decision(Outcome.SKIP, Reason.IN_FLIGHT)
        uncertain += 1  # its process died with the request out
    if uncertain >= 2:
        return Decision(Outcome.GIVE_UP, Reason.SENT_TWICE)
    if facts.muted:
        return Decision(Outcome.MUTE, Reason.MUTED)
    if facts.silenced and not run.attempts:
        return Decision(Outcome.SILENCE, Reason.SILENCED)
    if (now - facts.ended).total_seconds() > rules.max_delivery_age:
        return Decision(Outcome.GIVE_UP, Reason.TOO_OLD)
    if run.attempts:
        if uncertain:
            return Decision(Outcome.SEND_AGAIN, Reason.MAY_HAVE_ARRIVED)
        return Decision(Outcome.SEND, Reason.RETRY)
    if facts.kind == RECOVERY:
        return _recovery(dag, now)
    return _failure(dag, facts, rules, now)


def _failure(dag: DagHistory, facts: RunFacts, rules: Rules, now: datetime) -> Decision:
    last = dag.last_failure_delivered
    if last is None:
        reason = Reason.FIRST_ALERT
    elif _ahead(last, now):
        reason = Reason.FUTURE_ALERT_IGNORED
    elif dag.last_delivered_kind == RECOVERY and not _ahead(dag.last_delivered_at, now):
        reason = Reason.AFTER_RECOVERY
    elif (facts.ended - last).total_seconds() >= rules.cooldown:
        reason = Reason.COOLDOWN_OVER
    else:
        return Decision(Outcome.HOLD_BACK, Reason.IN_COOLDOWN)
    if dag.failure_alert_delayed:
        return Decision(Outcome.SEND, Reason.JOINS_PENDING)
    if dag.failure_alert_pending and rules.cooldown > 0:
        return Decision(Outcome.HOLD_BACK, Reason.ALERT_PENDING)
    return Decision(Outcome.SEND, reason)


def _recovery(dag: DagHistory, now: datetime) -> Decision:
    if dag.failure_alert_pending and dag.previous_run_failed:
        return Decision(Outcome.SEND, Reason.RECOVERY_AFTER_PENDING)
    if dag.last_delivered_kind != FAILURE or _ahead(dag.last_delivered_at, now):
        return Decision(Outcome.SKIP, Reason.NO_FAILURE_ALERT)
    if not dag.previous_run_failed:
        return Decision(Outcome.SKIP, Reason.PREVIOUS_NOT_FAILED)
    return Decision(Outcome.SEND, Reason.RECOVERY)


def decide_queued(run: RunRecord, ended: datetime, rules: Rules, now: datetime) -> Decision:
    """The outcome for a notice taken from the outbox, just before its group goes out."""
    if run.decided:
        return Decision(Outcome.SKIP, Reason.ALREADY_DECIDED)
    if run.uncertain >= 2:
        return Decision(Outcome.GIVE_UP, Reason.SENT_TWICE)
    if (now - ended).total_seconds() > rules.max_delivery_age:
        return Decision(Outcome.GIVE_UP, Reason.TOO_OLD)
    if run.uncertain:
        return Decision(Outcome.SEND_AGAIN, Reason.MAY_HAVE_ARRIVED)
    return Decision(Outcome.SEND, Reason.RETRY if run.attempts else Reason.FIRST_ALERT)
