"""Names and default settings shared by the client, the hook and the connection form.

Kept in a module of plain constants so that what Airflow imports often (``get_provider_info``
in every Airflow process, the notifier in every DAG file that alerts) stays cheap.
"""

from __future__ import annotations

CONN_TYPE = "signal"
HOOK_NAME = "Signal"
DEFAULT_CONN_ID = "signal_default"

DEFAULT_API_URL = "https://api.melroselabs.com"
MESSAGE_PATH = "/signal/message"

DEFAULT_TIMEOUT = 10.0
"""Seconds to wait for the API's answer (read time-out)."""
CONNECT_TIMEOUT_MAX = 5.0
"""The connect time-out is the smaller of this and the read time-out."""
DEFAULT_RETRIES = 3
DEFAULT_MAX_TEXT_LENGTH = 2000
"""Characters per message. The API documents no limit; Signal clients turn longer
texts into an attachment, so 2,000 is the default and a setting."""
