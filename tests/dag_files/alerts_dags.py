"""DAGs without any callback, for the deployment-wide alert tests (tests/test_alerts_deployment.py).

The alerts come from ``[signal_alerts]`` alone: each scenario has its own DAG, so the per-DAG
cooldown of one scenario never holds back another's alert.
"""

from __future__ import annotations

from datetime import datetime

try:  # Airflow 3
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[no-redef,attr-defined,unused-ignore]

START = datetime(2026, 1, 1)


@task
def fail(why: str = "the warehouse refused the connection") -> None:
    raise ValueError(why)


@task
def ok() -> None:
    print("fine")


with DAG("alerts_two_failures", start_date=START, schedule=None, catchup=False):

    @task
    def after_both() -> None:
        print("never runs")

    [fail.override(task_id="extract_orders")(), fail.override(task_id="extract_users")()] >> after_both()

with DAG("alerts_muted_tag", start_date=START, schedule=None, catchup=False, tags=["signal_alerts:mute"]):
    fail()

with DAG("alerts_scratch_muted", start_date=START, schedule=None, catchup=False):
    fail()

with DAG("alerts_routed", start_date=START, schedule=None, catchup=False, tags=["team-data"]):
    fail()

with DAG(
    "alerts_storm", start_date=START, schedule=None, catchup=False, max_active_runs=16, tags=["alerts-storm"]
):
    fail()

with DAG("alerts_recovery", start_date=START, schedule=None, catchup=False, tags=["alerts-recovery"]):

    @task
    def maybe_fail(**context: object) -> None:
        dag_run = context["dag_run"]
        if (getattr(dag_run, "conf", None) or {}).get("fail"):
            raise ValueError("asked to fail")

    maybe_fail()

with DAG("alerts_hang_victim", start_date=START, schedule=None, catchup=False, max_active_runs=16):
    fail()

with DAG("alerts_healthy", start_date=START, schedule=None, catchup=False, max_active_runs=16):
    ok()

with DAG("alerts_manual", start_date=START, schedule=None, catchup=False):

    @task
    def long_running() -> None:
        import time

        time.sleep(120)

    long_running()

with DAG(
    "alerts_outage",
    start_date=START,
    schedule=None,
    catchup=False,
    max_active_runs=16,
    tags=["alerts-reliability"],
):
    fail()

with DAG("alerts_killed", start_date=START, schedule=None, catchup=False, tags=["alerts-reliability"]):
    fail()

with DAG("alerts_lone", start_date=START, schedule=None, catchup=False):
    fail()

with DAG("alerts_silenced", start_date=START, schedule=None, catchup=False, max_active_runs=4):
    fail()  # tests/test_silences_deployment.py: silenced by `airflow-signal silence add`, then not

with DAG("alerts_page_silenced", start_date=START, schedule=None, catchup=False):
    fail()  # tests/test_alerts_page.py: silenced from the Signal alerts page, in a browser
