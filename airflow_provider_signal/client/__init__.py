"""HTTP client for the Melrose Labs Signal API.

Plain Python, no Airflow import: it builds requests, applies auth, retries, time-outs,
and turns answers into result dicts or one :class:`SignalAPIError`. ``requests`` is
imported on first use, so importing this package stays cheap at DAG parse time.

One concern per module:

- :mod:`.urls`: URL parsing that refuses anything ambiguous, the loopback rule, masking;
- :mod:`.numbers`: the number checks every reader of a setting uses;
- :mod:`.retry_policy`: the retry policy's numbers;
- :mod:`.settings`: :class:`SignalClientSettings`;
- :mod:`.transport`: the only module that imports requests/urllib3 (session, adapter,
  retry policy, bounded body read, transport-error kinds);
- :mod:`.redaction`: the :class:`Redactor` that masks secrets in any encoding;
- :mod:`.answers`: success parsing and the one table from failure kind to error;
- :mod:`.core`: :class:`SignalClient`, which joins them.
"""

from __future__ import annotations

from airflow_provider_signal.client.answers import (
    FAILURES as FAILURES,
)
from airflow_provider_signal.client.answers import (
    Failure as Failure,
)
from airflow_provider_signal.client.answers import (
    FailureKind as FailureKind,
)
from airflow_provider_signal.client.answers import (
    extract_error_text as extract_error_text,
)
from airflow_provider_signal.client.answers import (
    parse_success as parse_success,
)
from airflow_provider_signal.client.core import (
    SignalClient,
)
from airflow_provider_signal.client.numbers import (
    SignalNumberError as SignalNumberError,
)
from airflow_provider_signal.client.numbers import (
    check_number as check_number,
)
from airflow_provider_signal.client.numbers import (
    is_number as is_number,
)
from airflow_provider_signal.client.numbers import (
    is_whole as is_whole,
)
from airflow_provider_signal.client.numbers import (
    parse_number as parse_number,
)
from airflow_provider_signal.client.redaction import (
    Redactor as Redactor,
)
from airflow_provider_signal.client.redaction import (
    secret_pattern as secret_pattern,
)
from airflow_provider_signal.client.redaction import (
    secret_spellings as secret_spellings,
)
from airflow_provider_signal.client.settings import (
    BACKOFF_MAX as BACKOFF_MAX,
)
from airflow_provider_signal.client.settings import (
    DEFAULT_BACKOFF_FACTOR as DEFAULT_BACKOFF_FACTOR,
)
from airflow_provider_signal.client.settings import (
    RETRY_AFTER_MAX as RETRY_AFTER_MAX,
)
from airflow_provider_signal.client.settings import (
    RETRY_STATUSES as RETRY_STATUSES,
)
from airflow_provider_signal.client.settings import (
    SignalClientSettings,
)
from airflow_provider_signal.client.transport import (
    MAX_ANSWER_BYTES as MAX_ANSWER_BYTES,
)
from airflow_provider_signal.client.urls import (
    ApiUrl as ApiUrl,
)
from airflow_provider_signal.client.urls import (
    api_url_with_port as api_url_with_port,
)
from airflow_provider_signal.client.urls import (
    build_message_url as build_message_url,
)
from airflow_provider_signal.client.urls import (
    parse_api_url as parse_api_url,
)
from airflow_provider_signal.client.urls import (
    shown_url as shown_url,
)
from airflow_provider_signal.errors import (
    SignalAPIError,
    SignalAuthenticationError,
    SignalConnectionError,
    SignalInputError,
    SignalMaybeDeliveredError,
    SignalNotSentError,
    SignalRateLimitError,
    SignalRejectedError,
    SignalUnavailableError,
)

# The client's public surface is __all__ (documented in the API reference). The other names
# are the single-module client's, kept importable from here for code written against it; their
# homes are the modules above.
__all__ = [
    "SignalAPIError",
    "SignalAuthenticationError",
    "SignalClient",
    "SignalClientSettings",
    "SignalConnectionError",
    "SignalInputError",
    "SignalMaybeDeliveredError",
    "SignalNotSentError",
    "SignalRateLimitError",
    "SignalRejectedError",
    "SignalUnavailableError",
]
