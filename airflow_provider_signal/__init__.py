"""Apache Airflow provider for the Melrose Labs Signal API.

Import the classes from their modules (``airflow_provider_signal.hooks.signal`` etc.);
importing this package does no work and imports neither Airflow nor ``requests``.
"""

from __future__ import annotations

__version__ = "0.1.0"
