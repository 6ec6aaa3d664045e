"""A module beside the DAG files that three of them import (tests/test_import_errors_deployment.py
overwrites it with a broken one: the three files then fail at once)."""

OWNER = "data-platform"
