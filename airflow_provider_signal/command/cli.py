"""``airflow-signal``: silences (``silence add|list|expire``), what the alerting is doing
(``status``), a test message through the alerts' connection (``test``), and the watchdog
(``watchdog``, also installed as ``airflow-signal-watchdog``).

Run where the ``airflow`` command runs: it reads ``airflow.cfg`` and the metadata database the same
way. The author of a silence is the user running the command. Exit status: 0 done, 1 failed (the
error says why), 2 a bad argument (the error names it).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_provider_signal.alerts.silences import SILENCEABLE, Silence, new_silence, parse_duration
from airflow_provider_signal.errors import SignalError, SignalInputError

PROG = "airflow-signal"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _time(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw[:40]!r}: give a time as 2026-12-07T22:00 (UTC unless it says)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _duration(raw: str) -> Any:
    try:
        return parse_duration(raw)
    except SignalInputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    silence = commands.add_parser("silence", help="silence alerts for planned work").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    add = silence.add_parser("add", help="make a silence")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--for", dest="length", type=_duration, help="how long: 30m, 4h, 1d")
    when.add_argument("--until", type=_time, help="when it ends (ISO 8601; UTC unless it says)")
    add.add_argument("--from", dest="start", type=_time, default=None, help="when it starts (default: now)")
    add.add_argument("--dag-id", default="", help="DAG id pattern (fnmatch: warehouse_*); default every DAG")
    add.add_argument("--tag", default="", help="only DAGs with this tag")
    add.add_argument(
        "--kind",
        action="append",
        choices=SILENCEABLE,
        default=[],
        help="only this kind (repeatable); default all",
    )
    add.add_argument("--reason", required=True, help="why (shown in the summary when it ends)")
    listing = silence.add_parser("list", help="the silences that are active or upcoming")
    listing.add_argument("--all", action="store_true", help="also the ones that ended")
    listing.add_argument("--json", action="store_true", help="as JSON, one object per silence")
    expire = silence.add_parser("expire", help="end a silence now")
    expire.add_argument("silence_id", metavar="ID", help="its id, from `silence list`")

    status = commands.add_parser(
        "status", help="what waits in the outbox, what was sent lately, cooldowns and silences"
    )
    status.add_argument("--json", action="store_true", help="as one JSON object")

    test = commands.add_parser("test", help="send a test message through [signal_alerts] conn_id")
    test.add_argument(
        "--destinations", default=None, help="recipients (default: [signal_alerts] destinations)"
    )

    commands.add_parser(
        "watchdog", help="watch Airflow from outside it (airflow-signal-watchdog --help)", add_help=False
    )
    return top


def _line(silence: Silence, now: datetime) -> str:
    when = f"{silence.starts_at:%Y-%m-%d %H:%M} to {silence.end:%Y-%m-%d %H:%M} UTC"
    ended = (
        f", ended early by {silence.ended_by}"
        if silence.ended_at and silence.ended_at < silence.ends_at
        else ""
    )
    who = f"{silence.reason!r} by {silence.author}{ended}"
    return f"{silence.id}  {silence.state(now):8}  {when}  {silence.describe()}  {who}"


def _silence(arguments: argparse.Namespace, out: Callable[[str], None]) -> int:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts import silence_store

    now = _now()
    with create_session() as session:
        if arguments.action == "add":
            start = arguments.start or now
            made = new_silence(
                reason=arguments.reason,
                author=getpass.getuser(),
                now=now,
                starts_at=start,
                ends_at=arguments.until or start + arguments.length,
                dag_id_pattern=arguments.dag_id,
                tag=arguments.tag,
                kinds=arguments.kind,
            )
            silence_store.save_new(session, made)
            span = f"{made.starts_at:%Y-%m-%d %H:%M} to {made.end:%Y-%m-%d %H:%M} UTC"
            out(f"Silence {made.id} made: {made.describe()}, {span}.")
            return 0
        if arguments.action == "expire":
            ended = silence_store.end_early(session, arguments.silence_id, now, getpass.getuser())
            out(f"Silence {ended.id} ended at {ended.end:%Y-%m-%d %H:%M:%S} UTC.")
            return 0
        shown = [s for s in silence_store.load(session) if arguments.all or s.state(now) != "ended"]
    if arguments.json:
        for silence in shown:
            out(json.dumps({**json.loads(silence.to_json()), "state": silence.state(now)}))
    else:
        for silence in shown:
            out(_line(silence, now))
        if not shown:
            out("No silence is active or upcoming." if not arguments.all else "No silence.")
    return 0


def _status(arguments: argparse.Namespace, out: Callable[[str], None]) -> int:
    from airflow.utils.session import create_session

    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.alerts.status import as_text, read_status, to_json

    settings = load_settings()
    with create_session() as session:
        status = read_status(session, settings, _now())
    if arguments.json:
        out(json.dumps(to_json(status)))
    else:
        for line in as_text(status):
            out(line)
    return 0


def _test(arguments: argparse.Namespace, out: Callable[[str], None]) -> int:
    from airflow_provider_signal.alerts.config import load_settings
    from airflow_provider_signal.hooks.signal import SignalHook

    settings = load_settings()
    destinations = arguments.destinations or list(settings.destinations) or None
    hook = SignalHook(settings.conn_id, timeout=settings.send_timeout, retries=settings.send_retries)
    try:
        results = hook.send_message(
            f"✅ Test message from airflow-signal via connection {settings.conn_id!r}: alerts can reach you.",
            destinations,
        )
    finally:
        hook.close()
    out(f"Test message sent via connection {settings.conn_id!r} to {len(results)} recipient(s).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["watchdog"]:
        from airflow_provider_signal.watchdog.cli import main as watchdog

        return watchdog(argv[1:])
    arguments = parser().parse_args(argv)
    try:
        run = {"silence": _silence, "status": _status, "test": _test}[arguments.command]
        return run(arguments, print)
    except (SignalInputError, LookupError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, SignalInputError) else 1
    except SignalError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
