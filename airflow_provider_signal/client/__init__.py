"""HTTP client for the Melrose Labs Signal API.

Plain Python, no Airflow import: it builds requests, applies auth, retries, time-outs,
and turns answers into result dicts or one :class:`SignalAPIError`. ``requests`` is
imported on first use, so importing this package stays cheap at DAG parse time.

One concern per module:

- :mod:`.urls`: URL parsing that refuses anything ambiguous, the loopback rule, masking;
- :mod:`.numbers`: the number checks every reader of a setting uses;
- :mod:`.settings`: :class:`SignalClientSettings` and the retry policy's numbers;
- :mod:`.transport`: the only module that imports requests/urllib3 (session, adapter,
  retry policy, bounded body read, transport-error kinds);
- :mod:`.redaction`: the :class:`Redactor` that masks secrets in any encoding;
- :mod:`.answers`: success parsing and the one table from failure kind to error;
- :mod:`.core`: :class:`SignalClient`, which joins them.
"""

from __future__ import annotations

from airflow_provider_signal.client.answers import (
    FAILURES,
    Failure,
    FailureKind,
    extract_error_text,
    parse_success,
)
from airflow_provider_signal.client.core import SignalClient
from airflow_provider_signal.client.numbers import (
    SignalNumberError,
    check_number,
    is_number,
    is_whole,
    parse_number,
)
from airflow_provider_signal.client.redaction import Redactor, secret_pattern, secret_spellings
from airflow_provider_signal.client.settings import (
    BACKOFF_MAX,
    DEFAULT_BACKOFF_FACTOR,
    RETRY_AFTER_MAX,
    RETRY_STATUSES,
    SignalClientSettings,
)
from airflow_provider_signal.client.transport import MAX_ANSWER_BYTES
from airflow_provider_signal.client.urls import (
    ApiUrl,
    api_url_with_port,
    build_message_url,
    parse_api_url,
    shown_url,
)
from airflow_provider_signal.errors import SignalAPIError, SignalInputError

__all__ = [
    "BACKOFF_MAX",
    "DEFAULT_BACKOFF_FACTOR",
    "FAILURES",
    "MAX_ANSWER_BYTES",
    "RETRY_AFTER_MAX",
    "RETRY_STATUSES",
    "ApiUrl",
    "Failure",
    "FailureKind",
    "Redactor",
    "SignalAPIError",
    "SignalClient",
    "SignalClientSettings",
    "SignalInputError",
    "SignalNumberError",
    "api_url_with_port",
    "build_message_url",
    "check_number",
    "extract_error_text",
    "is_number",
    "is_whole",
    "parse_api_url",
    "parse_number",
    "parse_success",
    "secret_pattern",
    "secret_spellings",
    "shown_url",
]
