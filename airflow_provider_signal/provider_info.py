"""``get_provider_info()``: what Airflow's providers manager reads through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_signal import __version__


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow; validated against Airflow's ``provider_info.schema.json``."""
    from airflow_provider_signal.alerts.config import CONFIG_SECTION, SECTION
    from airflow_provider_signal.connection_form import provider_info_connection_type

    integration = "Signal (Melrose Labs)"
    return {
        "package-name": "airflow-provider-signal",
        "name": "Signal",
        "description": "Send Signal messages through the Melrose Labs Signal API: an operator, "
        "a notifier and ready alert callbacks.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": integration,
                "external-doc-url": "https://melroselabs.com/services/signal-api/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {"integration-name": integration, "python-modules": ["airflow_provider_signal.hooks.signal"]}
        ],
        "operators": [
            {
                "integration-name": integration,
                "python-modules": ["airflow_provider_signal.operators.signal"],
            }
        ],
        "connection-types": [
            provider_info_connection_type("airflow_provider_signal.hooks.signal.SignalHook")
        ],
        "notifications": ["airflow_provider_signal.notifications.signal.SignalNotifier"],
        "config": {SECTION: CONFIG_SECTION},
    }
