"""``airflow-signal``: the provider's command for people and scripts (silences, a test message,
the watchdog), reading the metadata database and ``airflow.cfg`` like the ``airflow`` command."""
