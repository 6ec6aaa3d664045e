"""The one vocabulary of alert kinds: a failed run alerts as ``failure``, a successful one can
alert as ``recovery``; a DAG file that stops importing as ``import_error``, and one that imports
again as ``import_fixed``; a part of Airflow itself that stops (no scheduler heartbeat, tasks stuck
in ``queued``) as ``health``, and its end as ``health_resolved``. ``notify_on``, the events the
listener queues, the audit-log event names, the outbox's groups and the message texts all use
these words, mapped here and nowhere else."""

from __future__ import annotations

from typing import Literal

RunKind = Literal["failure", "recovery"]
FileKind = Literal["import_error", "import_fixed"]
HealthKind = Literal["health", "health_resolved"]
NoticeKind = Literal[
    "failure", "recovery", "import_error", "import_fixed", "health", "health_resolved", "silence_ended"
]

FAILURE: RunKind = "failure"
RECOVERY: RunKind = "recovery"
KINDS: tuple[RunKind, ...] = (FAILURE, RECOVERY)

IMPORT_ERROR: FileKind = "import_error"
IMPORT_FIXED: FileKind = "import_fixed"
FILE_KINDS: tuple[FileKind, ...] = (IMPORT_ERROR, IMPORT_FIXED)

HEALTH: HealthKind = "health"
HEALTH_RESOLVED: HealthKind = "health_resolved"
SILENCE_ENDED: NoticeKind = "silence_ended"  # what a silence kept quiet, when it ends

_BY_RUN_STATE: dict[str, RunKind] = {"failed": FAILURE, "success": RECOVERY}


def kind_for_run_state(state: str) -> RunKind:
    """``failed`` -> ``failure``, ``success`` -> ``recovery`` (a DagRun state, as a string)."""
    return _BY_RUN_STATE[state]
