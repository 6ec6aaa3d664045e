"""Many DAGs that fail at once, for the grouping tests (tests/test_alerts_storm.py): a shared
dependency is down, so every DAG's run fails within seconds.

Each run fails without using a worker: its one task waits in a pool that does not exist (the
scheduler never queues it), and the scheduler fails the run when ``dagrun_timeout`` (1 s) has
passed, firing the listener as for any failed run. Sixty DAGs on one route (``storm-a``) and ten
on another (``storm-b``), from one file.
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

START = datetime(2026, 1, 1)
ROUTES = {"storm_a": ("storm-a", 60), "storm_b": ("storm-b", 10)}


@task(pool="storm_warehouse_down")  # a real task (an empty one would be marked done unrun)
def load_warehouse() -> None:
    raise RuntimeError("never runs: its pool does not exist")


for prefix, (tag, count) in ROUTES.items():
    for number in range(count):
        with DAG(
            f"{prefix}_{number:02d}",
            start_date=START,
            schedule=None,
            catchup=False,
            tags=[tag],
            dagrun_timeout=timedelta(seconds=1),
        ):
            load_warehouse()
