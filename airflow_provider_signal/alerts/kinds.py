"""The one vocabulary of alert kinds: a failed run alerts as ``failure``, a successful one can
alert as ``recovery``. ``notify_on``, the events the listener queues, the audit-log event names
and the message texts all use these two words, mapped here and nowhere else."""

from __future__ import annotations

from typing import Literal

RunKind = Literal["failure", "recovery"]

FAILURE: RunKind = "failure"
RECOVERY: RunKind = "recovery"
KINDS: tuple[RunKind, ...] = (FAILURE, RECOVERY)

_BY_RUN_STATE: dict[str, RunKind] = {"failed": FAILURE, "success": RECOVERY}


def kind_for_run_state(state: str) -> RunKind:
    """``failed`` -> ``failure``, ``success`` -> ``recovery`` (a DagRun state, as a string)."""
    return _BY_RUN_STATE[state]
