"""The retry policy's numbers: read by the settings (to bound a send's time) and by the
transport (to apply them).

A module of plain constants, so that the transport needs nothing else of the client at run
time: the settings parse URLs, the URL rules ask the transport how urllib3 reads a URL, and
the transport importing the settings would close that loop.
"""

from __future__ import annotations

RETRY_AFTER_MAX = 10
"""A longer ``Retry-After`` is cut to this many seconds, so a send stays bounded."""
BACKOFF_MAX = 10.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that are retried: the API (or its gateway) refused or could not take the request."""
