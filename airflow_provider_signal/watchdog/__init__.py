"""The watchdog outside Airflow: ``airflow-signal-watchdog`` polls Airflow's health endpoint over
HTTP and sends a Signal message when Airflow is unreachable or reports a component unhealthy, and
when it is back. It needs no metadata database and no ``airflow.cfg``: only Airflow's URL and a
Signal connection in the environment (``AIRFLOW_CONN_<ID>``).

Its stages, one module each: :mod:`.probe` (one check over HTTP), :mod:`.incidents` (pure: what a
check means, given the state), :mod:`.state_file` (the state between runs), :mod:`.cli` (the
command, the loop and the send).
"""
