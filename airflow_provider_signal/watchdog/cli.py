"""``airflow-signal-watchdog``: watch Airflow from outside it and say on Signal when it stops.

Every ``--interval`` seconds (or once, with ``--once``) it asks Airflow's health endpoint at
``--url``; an incident (Airflow unreachable, or a component it reports unhealthy) is announced
after ``--threshold`` bad checks in a row, and its end once. Messages go through
:class:`~airflow_provider_signal.hooks.signal.SignalHook` with the connection ``--conn-id``,
which Airflow reads from ``AIRFLOW_CONN_<ID>`` in the environment first: no metadata database
is asked.

Exit status: 0 healthy, 1 unhealthy or unreachable (the last check), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

from airflow_provider_signal.errors import SignalError, SignalInputError
from airflow_provider_signal.validation import normalise_destinations
from airflow_provider_signal.watchdog import incidents, state_file
from airflow_provider_signal.watchdog.probe import Check, check_airflow, shown_url

log = logging.getLogger("airflow_provider_signal.watchdog")

PROG = "airflow-signal-watchdog"
INTERVAL_MAX = 86_400.0


def _interval(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= INTERVAL_MAX):
        raise argparse.ArgumentTypeError(f"{raw!r}: give seconds, above 0 and at most {INTERVAL_MAX:g}")
    return value


def _threshold(raw: str) -> int:
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 1000:
        raise argparse.ArgumentTypeError(f"{raw!r}: give a whole number of checks from 1 to 1000")
    return int(raw)


def _url(raw: str) -> str:
    parts = urllib.parse.urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{shown_url(raw)!r}: give Airflow's base URL, e.g. https://airflow.example.com"
        )
    return raw.strip()


def _destinations(raw: str) -> list[str]:
    try:
        return normalise_destinations(raw)
    except SignalInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--url", required=True, type=_url, help="Airflow's base URL (its API server or webserver)."
    )
    parser.add_argument(
        "--interval", type=_interval, default=60.0, help="seconds between checks (default 60)"
    )
    parser.add_argument(
        "--threshold", type=_threshold, default=3, help="bad checks in a row before an alert (default 3)"
    )
    parser.add_argument(
        "--destinations", type=_destinations, default=None, help="recipients (default: the connection's)"
    )
    parser.add_argument(
        "--conn-id", default="signal_default", help="the Signal connection (AIRFLOW_CONN_<ID>)"
    )
    parser.add_argument("--state-file", type=Path, default=None, help="where the state is kept between runs")
    parser.add_argument(
        "--timeout", type=_interval, default=10.0, help="seconds one check may take (default 10)"
    )
    parser.add_argument("--once", action="store_true", help="check once and exit: 0 healthy, 1 not")
    return parser


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    arguments = parser().parse_args(argv)
    if arguments.once and arguments.state_file is None and arguments.threshold > 1:
        parser().error(
            "argument --state-file: --once with --threshold above 1 needs a state file, "
            "so that bad checks add up from one run to the next"
        )
    if arguments.state_file is not None and not arguments.state_file.parent.is_dir():
        parser().error(f"argument --state-file: the folder of {str(arguments.state_file)!r} does not exist")
    return arguments


class Watchdog:
    """The checks, the state and the sends of one watchdog process."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.arguments = arguments
        self.where = socket.gethostname()
        self.state: incidents.State = {}
        self.health_url: str | None = None
        if arguments.state_file is not None:
            self.state, self.health_url = state_file.load(arguments.state_file)

    def check_once(self) -> Check:
        """One check, its messages sent, the state saved."""
        args = self.arguments
        now = datetime.now(timezone.utc)
        result = check_airflow(args.url, args.timeout, self.health_url)
        if result.problem is None:
            self.health_url = result.url
        self.state = incidents.advance(self.state, result, now)
        for message in incidents.messages(self.state, args.threshold, now, args.url, self.where):
            if self._send(message.text):
                self.state = incidents.sent(self.state, message)
        if args.state_file is not None:
            state_file.save(args.state_file, self.state, self.health_url)
        if result.problem is not None:
            log.warning("Airflow at %s: %s.", shown_url(args.url), result.problem)
        elif not result.ok:
            unhealthy = sorted(name for name, healthy in result.healthy.items() if not healthy)
            log.warning("Airflow at %s reports unhealthy: %s.", shown_url(args.url), ", ".join(unhealthy))
        return result

    def _send(self, text: str) -> bool:
        """Send ``text``; ``False`` (logged with the cause) when it did not reach everyone."""
        from airflow_provider_signal.hooks.signal import SignalHook

        conn_id = self.arguments.conn_id
        try:
            hook = SignalHook(conn_id)
            try:
                hook.send_message(text, self.arguments.destinations)
            finally:
                hook.close()
        except SignalError as error:
            log.error(
                "Watchdog alert not sent via connection %r: %s The next check tries again.", conn_id, error
            )
            return False
        except Exception as error:  # Airflow's own "connection not found", a bad connection
            log.error(
                "Watchdog alert not sent via connection %r: %s: %s. Define it as AIRFLOW_CONN_%s in the "
                "watchdog's environment; the next check tries again.",
                conn_id,
                type(error).__name__,
                error,
                conn_id.upper(),
            )
            return False
        log.info("Watchdog alert sent: %s", text)
        return True


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    arguments = _arguments(argv)
    try:
        watchdog = Watchdog(arguments)
    except ValueError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if arguments.once:
        return 0 if watchdog.check_once().ok else 1
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("Watching Airflow at %s every %g s.", shown_url(arguments.url), arguments.interval)
    healthy = True
    while not stop.is_set():
        healthy = watchdog.check_once().ok
        stop.wait(arguments.interval)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
