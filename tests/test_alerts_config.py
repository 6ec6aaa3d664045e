"""``[signal_alerts]``: parsing, muting, routing, Airflow's view of the section, and the plugin
registering its listener only when enabled (checked in fresh interpreters on this line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_signal.alerts.config import CONFIG_SECTION, AlertSettings, parse_settings
from airflow_provider_signal.errors import SignalInputError


def settings(**raw: str) -> AlertSettings:
    return parse_settings(raw.get)


def test_defaults_when_nothing_is_set() -> None:
    parsed = settings()
    assert parsed == AlertSettings()
    assert not parsed.enabled and parsed.conn_id == "signal_default"
    assert parsed.notify_on == {"failure"} and parsed.cooldown == 3600


def test_declared_defaults_parse_to_the_same_settings() -> None:
    declared = {key: option["default"] for key, option in CONFIG_SECTION["options"].items()}
    assert parse_settings(declared.get) == AlertSettings()
    for key, option in CONFIG_SECTION["options"].items():
        assert option["description"], key


def test_every_key_is_parsed() -> None:
    parsed = settings(
        enabled="True",
        conn_id="signal_ops",
        destinations="+44 7700 900123, 447700900456",
        notify_on="failure, Recovery",
        mute_tag="quiet",
        mute_dag_ids="tmp_*, *_sandbox",
        routes='{"team-data": ["+447700900111"], "team-ml": "+447700900222,+447700900333"}',
        cooldown="60",
        alert_on_manual="yes",
        max_failed_tasks="3",
        queue_size="7",
        send_timeout="2.5",
        send_retries="0",
        shutdown_timeout="4",
    )
    assert parsed.enabled and parsed.conn_id == "signal_ops"
    assert parsed.destinations == ("447700900123", "447700900456")
    assert parsed.notify_on == {"failure", "recovery"}
    assert parsed.routes == {"team-data": ("447700900111",), "team-ml": ("447700900222", "447700900333")}
    assert (parsed.cooldown, parsed.alert_on_manual, parsed.max_failed_tasks) == (60, True, 3)
    assert (parsed.queue_size, parsed.send_timeout, parsed.send_retries, parsed.shutdown_timeout) == (
        7,
        2.5,
        0,
        4,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("enabled", "maybe", r"\[signal_alerts\] enabled = 'maybe': not a boolean"),
        ("cooldown", "an hour", "cooldown = 'an hour': not a number"),
        ("queue_size", "0", "queue_size = '0': must be at least 1"),
        ("max_failed_tasks", "2.5", "not a whole number"),
        ("notify_on", "failure,success", r"unknown \['success'\]"),
        ("notify_on", "recovery", "recovery needs failure too"),
        ("destinations", "07700900123", "add the country code"),
        ("routes", "{team: 1}", "routes = .*not valid JSON"),
        ("routes", '["+447700900111"]', "must be a JSON object"),
        ("routes", '{"team": []}', r"routes\['team'\].*names no recipient"),
        ("routes", '{"team": "12"}', "not a mobile number"),
        ("send_timeout", "1000", "send_timeout = '1000': must be a finite number from 0.1 to 300"),
        ("send_timeout", "nan", "send_timeout = 'nan': must be a finite number"),
        ("send_timeout", "inf", "send_timeout = 'inf': must be a finite number"),
        ("send_retries", "20", "send_retries = '20': must be a finite number from 0 to 10"),
        ("cooldown", "nan", "cooldown = 'nan': must be a finite number"),
        ("shutdown_timeout", "inf", "shutdown_timeout = 'inf': must be a finite number"),
        ("max_delivery_age", "0", "max_delivery_age = '0': must be at least 1"),
        ("sweep_interval", "inf", "sweep_interval = 'inf': must be a finite number"),
        ("notify_on", " , ", "notify_on = ' , ': names nothing to alert on"),
        ("routes", "[" * 100_000, "routes = .*JSON nested too deep"),
    ],
)
def test_a_bad_value_names_its_key(key: str, value: str, message: str) -> None:
    with pytest.raises(SignalInputError, match=message):
        settings(**{key: value})


MEGABYTE_OF_DIGITS = "4" * 1_000_000
MANY_NUMBERS = ",".join(f"+4477009{index:05d}" for index in range(60_000))


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("destinations", MEGABYTE_OF_DIGITS, "[signal_alerts] destinations = '4444"),
        ("destinations", MANY_NUMBERS, "[signal_alerts] destinations = '+447700900000,"),
        ("routes", json.dumps({"team-a": MEGABYTE_OF_DIGITS}), "[signal_alerts] routes['team-a'] = '4444"),
        (
            "routes",
            json.dumps({"team-a": MANY_NUMBERS.split(",")}),
            "[signal_alerts] routes['team-a'] = ['+44",
        ),
        ("routes", json.dumps({"t" * 1_000_000: "+447700900123"}), "[signal_alerts] routes['tttt"),
    ],
    ids=["destinations-one-word", "destinations-60000", "routes-one-word", "routes-60000", "routes-huge-tag"],
)
def test_a_megabyte_value_is_refused_naming_its_key_without_echoing_it(
    key: str, value: str, named: str
) -> None:
    with pytest.raises(SignalInputError) as refused:
        settings(**{key: value})
    message = str(refused.value)
    assert message.startswith(named), message[:200]
    assert "characters)" in message
    assert len(message) < 600, f"the error echoes the value: {len(message):,} characters"


def test_the_longest_routable_tag_is_airflows_longest_tag() -> None:
    from airflow.models.dag import TAG_MAX_LEN

    from airflow_provider_signal.alerts.config import TAG_MAX_LENGTH

    assert TAG_MAX_LENGTH == TAG_MAX_LEN
    assert settings(routes=json.dumps({"t" * TAG_MAX_LEN: "+447700900123"})).routes


def test_muting_by_tag_and_by_dag_id_pattern() -> None:
    parsed = settings(mute_tag="quiet", mute_dag_ids="tmp_*,*_sandbox")
    assert parsed.is_muted("etl", ["quiet", "team-a"])
    assert parsed.is_muted("tmp_try", [])
    assert parsed.is_muted("ml_sandbox", [])
    assert not parsed.is_muted("etl", ["team-a"])
    assert not parsed.is_muted("etl_tmp_sandbox_prod", [])
    assert not settings(mute_tag="").is_muted("etl", [""])


def test_routing_by_tags_replaces_the_default_recipients() -> None:
    parsed = settings(
        destinations="+447700900999",
        routes='{"team-data": ["+447700900111"], "team-ml": ["+447700900222", "+447700900111"]}',
    )
    assert parsed.recipients_for(["team-data"]) == ["447700900111"]
    assert parsed.recipients_for(["team-ml", "team-data", "other"]) == ["447700900111", "447700900222"]
    assert parsed.recipients_for(["other"]) == ["447700900999"]
    assert settings().recipients_for(["other"]) == []  # the connection's default recipients


def _fresh_python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_airflow_lists_the_section_and_reads_environment_variables() -> None:
    out = _fresh_python(
        "import json\n"
        "from airflow_provider_signal.alerts.config import load_settings\n"
        "s = load_settings()\n"
        "print(json.dumps({'cooldown': s.cooldown, 'routes': {k: list(v) for k, v in s.routes.items()},"
        " 'conn_id': s.conn_id, 'enabled': s.enabled}))",
        AIRFLOW__SIGNAL_ALERTS__COOLDOWN="90",
        AIRFLOW__SIGNAL_ALERTS__ROUTES='{"team-a": "+447700900111"}',
    )
    assert json.loads(out.strip().splitlines()[-1]) == {
        "cooldown": 90.0,
        "routes": {"team-a": ["447700900111"]},
        "conn_id": "signal_default",
        "enabled": False,
    }
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow",
            "config",
            "list",
            "--section",
            "signal_alerts",
            "--include-descriptions",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    for key in CONFIG_SECTION["options"]:
        assert f"{key} = " in listed, key
    assert "at most one failure alert per DAG" in listed


@pytest.mark.parametrize("enabled", ["True", "False"])
def test_the_plugin_registers_a_listener_only_when_enabled(enabled: str) -> None:
    out = _fresh_python(
        "from airflow.listeners.listener import get_listener_manager\n"
        "manager = get_listener_manager()\n"
        "print(manager.has_listeners, sorted(type(p).__name__ for p in manager.pm.get_plugins()))",
        AIRFLOW__SIGNAL_ALERTS__ENABLED=enabled,
    )
    registered = out.strip().splitlines()[-1]
    if enabled == "True":
        assert registered == "True ['SignalAlertListener']"
    else:
        assert registered == "False []"


def test_a_bad_enabled_value_registers_nothing_and_says_why() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from airflow.listeners.listener import get_listener_manager\n"
            "print(get_listener_manager().has_listeners)",
        ],
        env={**os.environ, "AIRFLOW__SIGNAL_ALERTS__ENABLED": "sometimes"},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert "Signal alerts are off: [signal_alerts] enabled = 'sometimes': not a boolean" in (
        result.stdout + result.stderr
    )


def test_an_unreadable_value_names_its_key(tmp_path: Path) -> None:
    """A lone ``%`` in airflow.cfg is a configparser interpolation error: it names the key."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "airflow.cfg").write_text("[signal_alerts]\nenabled = True\nmute_dag_ids = 100%_sandbox\n")
    out = _fresh_python(
        "from airflow_provider_signal.alerts.config import load_settings\n"
        "try:\n"
        "    load_settings()\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n",
        AIRFLOW_HOME=str(home),
        AIRFLOW_CONFIG=str(home / "airflow.cfg"),
    )
    assert "SignalInputError [signal_alerts] mute_dag_ids: cannot be read" in out
