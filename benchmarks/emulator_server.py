"""The Signal API emulator as a separate process, for the benchmarks.

Prints one JSON line (its URL and an ``AIRFLOW_CONN_*`` value for it, from
``SignalAPIEmulator.connection_json()``), then serves on 127.0.0.1 until its
standard input closes.
"""

from __future__ import annotations

import json
import sys

from airflow_provider_signal.testing import SignalAPIEmulator


def main() -> None:
    with SignalAPIEmulator(port=0) as emulator:
        print(json.dumps({"url": emulator.url, "connection": emulator.connection_json()}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
