"""The ``[signal_alerts]`` section of ``airflow.cfg``: its declaration and its parsing.

``CONFIG_SECTION`` is plain data, returned by ``get_provider_info()`` (so ``airflow config
list`` shows every key with its description and default, and ``AIRFLOW__SIGNAL_ALERTS__*``
variables work). ``load_settings`` reads the section once, when the first event arrives,
and checks it: a bad value gives one clear error naming the key, never a half-working alert.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_signal import __version__
from airflow_provider_signal.alerts.kinds import KINDS
from airflow_provider_signal.defaults import DEFAULT_CONN_ID
from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.validation import normalise_destinations, shown

SECTION = "signal_alerts"
_WEEK = 7 * 24 * 3600.0
# Run alerts (failure, recovery), DAG files that stop importing (import_error) and Airflow's own
# components (health).
NOTIFY_KINDS: tuple[str, ...] = (*KINDS, "import_error", "health")


def _option(kind: str, default: str | None, description: str, example: str | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "version_added": __version__,
        "type": kind,
        "example": example,
        "default": default,
    }


CONFIG_SECTION: dict[str, Any] = {
    "description": "Deployment-wide Signal alerts: one message per failed DAG run, for every DAG, "
    "sent by a listener in the scheduler (and, on Airflow 3, the API server) from a background thread.",
    "options": {
        "enabled": _option(
            "boolean",
            "False",
            "Send an alert for every DAG's failed runs. Off: the provider registers no listener at all "
            "(Airflow refuses tasks with end_from_trigger=True whenever any listener is registered).",
        ),
        "conn_id": _option("string", DEFAULT_CONN_ID, "The Signal connection alerts are sent with."),
        "destinations": _option(
            "string",
            "",
            "Recipients of alerts (comma-separated, international form). Empty: the connection's "
            "default recipients.",
            "+447700900123,+447700900456",
        ),
        "notify_on": _option(
            "string",
            "failure",
            "What to alert on, comma-separated: failure (a DAG run failed), recovery (the first "
            "successful run of a DAG after a failure alert), import_error (a DAG file stopped "
            "importing, or imports again; sent by the scheduler) and health (a scheduler, DAG "
            "processor or triggerer without a heartbeat, fewer schedulers than usual, tasks stuck "
            "in queued; sent by every component still running).",
            "failure,recovery,import_error,health",
        ),
        "mute_tag": _option(
            "string",
            "signal_alerts:mute",
            "A DAG with this tag never alerts. Empty: no tag mutes.",
        ),
        "mute_dag_ids": _option(
            "string",
            "",
            "Glob patterns of DAG ids that never alert, comma-separated.",
            "tmp_*,*_sandbox",
        ),
        "routes": _option(
            "string",
            "",
            "JSON object mapping a DAG tag to recipients (a list or a comma-separated string). A DAG "
            "with routed tags alerts the recipients of all its routed tags, and only them.",
            '{"team-data": ["+447700900123"], "team-ml": "+447700900456"}',
        ),
        "cooldown": _option(
            "integer",
            "3600",
            "Seconds: at most one failure alert per DAG in this time. Failed runs held back are "
            "counted in the DAG's next alert. 0: alert on every failed run. For import errors: at "
            "most one broken and one fixed message per file in this time (a new error in a file "
            "still broken is always sent).",
        ),
        "import_error_interval": _option(
            "float",
            "10",
            "Seconds between two reads of Airflow's import errors by the scheduler (notify_on import_error).",
        ),
        "import_error_window": _option(
            "float",
            "20",
            "Seconds to wait after a file breaks (or is fixed) for others: files that break within "
            "this time of the first are listed in one message. 0: send at the next read.",
        ),
        "group_wait": _option(
            "float",
            "10",
            "Seconds an alert waits for others of its kind (failure, recovery) to the same recipients: "
            "runs that fail within this time of the first go out in one message. A lone failure "
            "arrives this much later than it would alone. 0: no wait. From 0 to 600.",
        ),
        "group_interval": _option(
            "float",
            "60",
            "Seconds between two messages of one group (one kind, the same recipients): further "
            "alerts after a group's message go out together, at most this often. 0: as soon as "
            "their group_wait ends. From 0 to 86400.",
        ),
        "health_destinations": _option(
            "string",
            "",
            "Recipients of health messages (notify_on health), comma-separated: the people who run "
            "Airflow itself. Empty: destinations.",
            "+447700900789",
        ),
        "health_threshold": _option(
            "float",
            "180",
            "Seconds without a heartbeat after which a scheduler, DAG processor or triggerer counts "
            "as down (notify_on health); long enough that an ordinary restart sends nothing. From 10 "
            "to 86400.",
        ),
        "health_interval": _option(
            "float",
            "30",
            "Seconds between two health checks of each component that watches the others "
            "(notify_on health). From 1 to 3600.",
        ),
        "stuck_after": _option(
            "float",
            "300",
            "Seconds a task may wait in queued before the health check reports tasks stuck (no "
            "worker takes them); keep it below [scheduler] task_queued_timeout. From 10 to 86400.",
        ),
        "repeat_interval": _option(
            "float",
            "14400",
            "Seconds between two reminders of a health incident that lasts. 0: no reminder. At most 7 days.",
        ),
        "alert_on_manual": _option(
            "boolean",
            "False",
            "Alert when a person marks a run failed in the UI or API (Airflow 3 only; Airflow 2.11 "
            "fires no listener for that).",
        ),
        "max_failed_tasks": _option(
            "integer", "5", "Failed tasks named in an alert; more are summed up as 'and N more'."
        ),
        "queue_size": _option(
            "integer",
            "5000",
            "Alerts waiting for the background sender, per process. When full, a new alert is left "
            "to the next sweep (an error in the log, the metric signal_alerts.dropped): a burst "
            "only delays alerts.",
        ),
        "send_timeout": _option(
            "float",
            "10",
            "Seconds to wait for the Signal API per request of an alert (overrides the connection's "
            "timeout, so a hanging API holds the sender for a bounded time).",
        ),
        "send_retries": _option(
            "integer",
            "1",
            "Retries per request of an alert, only where the message cannot have been delivered.",
        ),
        "shutdown_timeout": _option(
            "float",
            "10",
            "Seconds a stopping process waits for pending alerts to be sent; what is left is logged "
            "(and sent by a scheduler's sweep later, within max_delivery_age).",
        ),
        "max_delivery_age": _option(
            "float",
            "3600",
            "Seconds after a run's end during which its alert is still sent: a send that could not "
            "reach the Signal API is retried (back-off up to 60 s) until then, and a scheduler's sweep "
            "alerts failed runs this recent that have no recorded outcome (after a crash or a full "
            "queue). Past it, the alert is given up with an error in the log and the metric "
            "signal_alerts.given_up. At most 7 days.",
        ),
        "sweep_interval": _option(
            "float",
            "30",
            "Seconds between two sweeps of a scheduler for failed runs without a recorded alert "
            "(the first runs when the scheduler starts). From 1 to 3600.",
        ),
    },
}


@dataclass(frozen=True)
class AlertSettings:
    """The ``[signal_alerts]`` section, parsed and checked."""

    enabled: bool = False
    conn_id: str = DEFAULT_CONN_ID
    destinations: tuple[str, ...] = ()
    notify_on: frozenset[str] = frozenset({"failure"})
    mute_tag: str = "signal_alerts:mute"
    mute_dag_ids: tuple[str, ...] = ()
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cooldown: float = 3600.0
    alert_on_manual: bool = False
    import_error_interval: float = 10.0
    import_error_window: float = 20.0
    group_wait: float = 10.0
    group_interval: float = 60.0
    max_failed_tasks: int = 5
    queue_size: int = 5000
    send_timeout: float = 10.0
    send_retries: int = 1
    shutdown_timeout: float = 10.0
    max_delivery_age: float = 3600.0
    sweep_interval: float = 30.0
    health_destinations: tuple[str, ...] = ()
    health_threshold: float = 180.0
    health_interval: float = 30.0
    stuck_after: float = 300.0
    repeat_interval: float = 14400.0

    def is_muted(self, dag_id: str, tags: Iterable[str]) -> bool:
        """True when the DAG's id matches a muted pattern or it carries the mute tag."""
        if self.mute_tag and self.mute_tag in set(tags):
            return True
        return any(fnmatch.fnmatchcase(dag_id, pattern) for pattern in self.mute_dag_ids)

    def recipients_for(self, tags: Iterable[str]) -> list[str]:
        """The routed recipients of the DAG's tags, else the default ones (may be empty: the
        connection's default recipients then)."""
        routed: dict[str, None] = {}
        for tag in sorted(set(tags)):
            for number in self.routes.get(tag, ()):
                routed.setdefault(number, None)
        return list(routed) if routed else list(self.destinations)

    def health_recipients(self) -> list[str]:
        """Who hears of Airflow's own health: ``health_destinations``, else ``destinations``."""
        return list(self.health_destinations or self.destinations)


def _fail(key: str, value: object, why: str) -> SignalInputError:
    return SignalInputError(f"[{SECTION}] {key} = {shown(value)}: {why}")


def _boolean(key: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "t", "1", "yes", "on"):
        return True
    if value in ("false", "f", "0", "no", "off", ""):
        return False
    raise _fail(key, raw, "not a boolean; use True or False.")


def _number(key: str, raw: str, kind: type[int] | type[float], minimum: float, maximum: float) -> Any:
    """A whole number (``kind=int``) or a finite number within ``[minimum, maximum]``, checked by
    the same rules the client applies to its own settings."""
    from airflow_provider_signal.client import is_number, is_whole

    try:
        number = kind(raw.strip())
    except ValueError:
        raise _fail(key, raw, f"not {'a whole number' if kind is int else 'a number'}.") from None
    if number < minimum:
        raise _fail(key, raw, f"must be at least {minimum:g}.")
    ok = is_whole(number, int(minimum), int(maximum)) if kind is int else is_number(number, minimum, maximum)
    if not ok:
        raise _fail(key, raw, f"must be a finite number from {minimum:g} to {maximum:g}.")
    return number


def _list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _numbers(key: str, raw: object) -> tuple[str, ...]:
    try:
        return tuple(normalise_destinations(raw))
    except SignalInputError as error:
        raise _fail(key, raw, str(error)) from None


TAG_MAX_LENGTH = 100
"""Airflow refuses a longer DAG tag (``TAG_MAX_LEN``; tests/test_alerts_config.py checks the two agree)."""


def _routes(raw: str) -> dict[str, tuple[str, ...]]:
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except RecursionError:
        raise _fail("routes", raw[:80], "JSON nested too deep; give an object tag -> recipients.") from None
    except ValueError as error:
        raise _fail("routes", raw, f"not valid JSON ({error}); give an object tag -> recipients.") from None
    if not isinstance(parsed, dict):
        raise _fail("routes", raw, "must be a JSON object mapping a DAG tag to recipients.")
    routes: dict[str, tuple[str, ...]] = {}
    for tag, recipients in parsed.items():
        if len(tag) > TAG_MAX_LENGTH:
            raise _fail(
                f"routes[{shown(tag)}]", recipients, f"no DAG tag is longer than {TAG_MAX_LENGTH} characters."
            )
        numbers = _numbers(f"routes[{shown(tag)}]", recipients)
        if not numbers:
            raise _fail(f"routes[{shown(tag)}]", recipients, "names no recipient.")
        routes[str(tag)] = numbers
    return routes


def parse_settings(get: Callable[[str], str | None]) -> AlertSettings:
    """Build :class:`AlertSettings` from ``get(key)`` (the raw string, or ``None`` if unset)."""
    defaults = AlertSettings()

    def raw(key: str) -> str | None:
        value = get(key)
        return None if value is None else str(value)

    def text(key: str, default: str) -> str:
        value = raw(key)
        return default if value is None else value.strip()

    notify_on = frozenset(item.lower() for item in _list(text("notify_on", "failure")))
    if not notify_on:
        raise _fail(
            "notify_on", raw("notify_on"), f"names nothing to alert on; use {', '.join(NOTIFY_KINDS)}."
        )
    unknown = notify_on - set(NOTIFY_KINDS)
    if unknown:
        known = ", ".join(NOTIFY_KINDS)
        raise _fail("notify_on", raw("notify_on"), f"unknown {sorted(unknown)}; use {known}.")
    if "recovery" in notify_on and "failure" not in notify_on:
        raise _fail("notify_on", raw("notify_on"), "recovery needs failure too (it follows a failure alert).")
    return AlertSettings(
        enabled=_boolean("enabled", text("enabled", "False")),
        conn_id=text("conn_id", "") or defaults.conn_id,
        destinations=_numbers("destinations", text("destinations", "")),
        notify_on=notify_on,
        mute_tag=text("mute_tag", defaults.mute_tag),
        mute_dag_ids=_list(text("mute_dag_ids", "")),
        routes=_routes(text("routes", "")),
        cooldown=_number("cooldown", text("cooldown", "3600"), float, 0, _WEEK * 52),
        alert_on_manual=_boolean("alert_on_manual", text("alert_on_manual", "False")),
        max_failed_tasks=_number("max_failed_tasks", text("max_failed_tasks", "5"), int, 0, 1000),
        queue_size=_number("queue_size", text("queue_size", "5000"), int, 1, 1_000_000),
        send_timeout=_number("send_timeout", text("send_timeout", "10"), float, 0.1, 300),
        send_retries=_number("send_retries", text("send_retries", "1"), int, 0, 10),
        shutdown_timeout=_number("shutdown_timeout", text("shutdown_timeout", "10"), float, 0, 3600),
        import_error_interval=_number(
            "import_error_interval", text("import_error_interval", "10"), float, 0.5, 3600
        ),
        import_error_window=_number("import_error_window", text("import_error_window", "20"), float, 0, 3600),
        group_wait=_number("group_wait", text("group_wait", "10"), float, 0, 600),
        group_interval=_number("group_interval", text("group_interval", "60"), float, 0, 86400),
        max_delivery_age=_number("max_delivery_age", text("max_delivery_age", "3600"), float, 1, _WEEK),
        sweep_interval=_number("sweep_interval", text("sweep_interval", "30"), float, 1, 3600),
        health_destinations=_numbers("health_destinations", text("health_destinations", "")),
        health_threshold=_number("health_threshold", text("health_threshold", "180"), float, 10, 86400),
        health_interval=_number("health_interval", text("health_interval", "30"), float, 1, 3600),
        stuck_after=_number("stuck_after", text("stuck_after", "300"), float, 10, 86400),
        repeat_interval=_number("repeat_interval", text("repeat_interval", "14400"), float, 0, _WEEK),
    )


def airflow_getter() -> Callable[[str], str | None]:
    """``get(key)`` over Airflow's configuration (``airflow.cfg`` and ``AIRFLOW__SIGNAL_ALERTS__*``)."""
    from airflow.configuration import conf

    def get(key: str) -> str | None:
        try:
            if not conf.has_option(SECTION, key):
                return None
            return conf.get(SECTION, key)
        except Exception as error:  # configparser interpolation (a lone %), a failing _cmd/_secret
            raise SignalInputError(
                f"[{SECTION}] {key}: cannot be read ({type(error).__name__}: {error}); "
                "write a literal % as %%."
            ) from None

    return get


def load_settings() -> AlertSettings:
    """The deployment's ``[signal_alerts]`` settings; raises ``SignalInputError`` for a bad value."""
    return parse_settings(airflow_getter())


def alerts_enabled() -> bool:
    """Only ``enabled``, as cheaply as possible (the plugin asks in every Airflow process)."""
    return _boolean("enabled", airflow_getter()("enabled") or "False")
