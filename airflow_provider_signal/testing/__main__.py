"""Run the Signal API emulator standalone: ``python -m airflow_provider_signal.testing``."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from airflow_provider_signal.testing.emulator import SignalAPIEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_signal.testing",
        description="Local Signal API emulator on 127.0.0.1 (POST /signal/message). "
        "Inspect it with GET /_emulator/messages and /_emulator/stats; inject faults with "
        'POST /_emulator/faults {"count": 2, "status": 503, "headers": {"Retry-After": "1"}}.',
    )
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--system-id", default="emulator", help="System ID the emulator accepts")
    parser.add_argument("--password", default="emulator-password", help="password the emulator accepts")
    parser.add_argument(
        "--print-messages", action="store_true", help="print each message received, as a JSON line"
    )
    args = parser.parse_args(argv)

    emulator = SignalAPIEmulator(system_id=args.system_id, password=args.password, port=args.port)
    emulator.start()
    print(f"Signal API emulator listening on {emulator.url}", flush=True)
    print(
        "Connection: AIRFLOW_CONN_SIGNAL_DEFAULT='"
        + json.dumps({"conn_type": "signal", "login": args.system_id, "host": emulator.url})
        + "' (plus the password)",
        flush=True,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    seen = 0
    while not done.wait(0.2):
        if args.print_messages:
            messages = emulator.messages
            for message in messages[seen:]:
                print(json.dumps({"destination": message.destination, "text": message.text}), flush=True)
            seen = len(messages)
    emulator.stop()


if __name__ == "__main__":
    main()
