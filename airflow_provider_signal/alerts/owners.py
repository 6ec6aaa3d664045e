"""Who is sending: the owner written into each in-flight marker, and whether it still runs.

An attempt records the Airflow job of its process (its id, when the process is a scheduler or
another job), the host and the pid. A sweep that finds an attempt without an outcome asks
:func:`is_gone`: a job that ended or stopped heartbeating past Airflow's own health threshold
(``Job.is_alive``), or a process of this host that no longer exists, will never finish its send,
so its deadline is not waited for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Owner:
    job_id: int | None
    host: str
    pid: int

    def as_extra(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "host": self.host, "pid": self.pid}


def hostname() -> str:
    """The host name as Airflow's jobs record it (``[core] hostname_callable``)."""
    try:
        from airflow.utils.net import get_hostname

        return str(get_hostname())
    except Exception:
        import socket

        return socket.getfqdn()


def this_process(job: Any | None) -> Owner:
    """The owner of sends from this process; ``job`` is the Airflow job it runs, if any."""
    job_id = getattr(job, "id", None)
    return Owner(job_id if isinstance(job_id, int) else None, hostname(), os.getpid())


def parse(extra: object) -> Owner | None:
    """An owner read back from a marker's ``owner`` field, without trusting it."""
    if not isinstance(extra, dict):
        return None
    job_id, host, pid = extra.get("job_id"), extra.get("host"), extra.get("pid")
    if not isinstance(host, str) or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    return Owner(job_id if isinstance(job_id, int) and not isinstance(job_id, bool) else None, host, pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: not gone
    return True


def is_gone(session: Any, owner: Owner | None) -> bool:
    """True when ``owner`` certainly no longer runs; False when alive or unknown."""
    if owner is None:
        return False
    if owner.job_id is not None:
        from airflow.jobs.job import Job

        job = session.get(Job, owner.job_id)
        return job is None or not job.is_alive()
    if owner.host == hostname():
        return not _pid_exists(owner.pid)
    return False
