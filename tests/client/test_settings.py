"""``client/settings.py`` and ``client/numbers.py``: settings checked when made, one number rule."""

from __future__ import annotations

import dataclasses
import math
import pickle
from typing import Any

import pytest

from airflow_provider_signal.client.numbers import (
    SignalNumberError,
    check_number,
    is_number,
    is_whole,
    parse_number,
)
from airflow_provider_signal.client.settings import RETRY_AFTER_MAX, SignalClientSettings
from airflow_provider_signal.errors import SignalInputError


@pytest.mark.parametrize(
    ("value", "whole", "expected"),
    [(3, True, 3), ("3", True, 3), (" 2.5 ", False, 2.5), (3.0, True, 3), (1, False, 1.0)],
)
def test_parse_number_takes_numbers_and_their_strings(value: Any, whole: bool, expected: Any) -> None:
    number = parse_number(value, whole=whole)
    assert number == expected and type(number) is type(expected)


@pytest.mark.parametrize(
    ("value", "whole", "reason"),
    [
        (True, False, "is not a number"),
        ("ten", False, "is not a number"),
        (None, False, "is not a number"),
        ("nan", False, "is not a finite number"),
        (math.inf, False, "is not a finite number"),
        ("2.5", True, "is not a whole number"),
    ],
)
def test_parse_number_refuses_what_is_not_a_finite_number(value: Any, whole: bool, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        parse_number(value, whole=whole)


def test_check_number_names_the_setting_and_its_range() -> None:
    assert check_number("send_timeout", "30", 0, 300, above_low=True) == 30.0
    with pytest.raises(SignalNumberError) as caught:
        check_number("send_timeout", "1000", 0, 300, above_low=True)
    error = caught.value
    assert isinstance(error, SignalInputError)
    assert (error.name, error.value) == ("send_timeout", "1000")
    assert str(error) == "send_timeout '1000' is out of range: give a number above 0 to 300"
    with pytest.raises(SignalNumberError, match="above 0"):
        check_number("send_timeout", 0, 0, 300, above_low=True)
    with pytest.raises(
        SignalNumberError, match=r"^send_retries 20 is out of range: give a whole number from 0 to 10$"
    ):
        check_number("send_retries", 20, 0, 10, whole=True)
    with pytest.raises(SignalNumberError, match="is not a finite number"):
        check_number("cooldown", "nan", 0, 86400)
    copied = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (type(copied), str(copied), copied.reason) == (SignalNumberError, str(error), error.reason)


def test_the_predicates_refuse_bools_and_non_finite_values() -> None:
    assert is_number(0.5, 0, 1) and not is_number(True, 0, 1) and not is_number(math.nan, 0, 1)
    assert not is_number(0, 0, 1, above_low=True) and is_number(0, 0, 1)
    assert is_whole(3, 0, 10) and not is_whole(3.0, 0, 10) and not is_whole(False, 0, 10)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timeout", 0, "Signal timeout 0 is out of range (unit): give seconds, above 0 and at most 300."),
        ("timeout", math.nan, "Signal timeout nan is out of range"),
        ("retries", 11, "Signal retries 11 is out of range (unit): give a whole number from 0 to 10."),
        ("retries", True, "Signal retries True is out of range"),
        ("backoff_factor", 11, "Signal backoff_factor 11 is out of range (unit): give seconds from 0 to 10."),
        ("max_text_length", 0, "Signal max_text_length 0 is not a positive whole number (unit)."),
        ("auth", "digest", "Signal auth mode 'digest' is not known (unit): use 'basic' or 'payload'."),
        ("api_url", "http://api.example.com", "plain http to a host that is not loopback (unit)"),
    ],
)
def test_a_bad_setting_is_refused_when_the_settings_are_made(field: str, value: Any, message: str) -> None:
    with pytest.raises(SignalInputError) as caught:
        SignalClientSettings("id", "pw", source="unit", **{field: value})
    assert message in str(caught.value)


def test_missing_credentials_are_refused() -> None:
    with pytest.raises(SignalInputError, match="credentials are missing"):
        SignalClientSettings("id", "")


def test_the_time_budget_bounds_every_attempt_and_wait() -> None:
    settings = SignalClientSettings("id", "pw", timeout=2, retries=1)
    # two attempts of (connect 2 s + read 2 s), one wait of at most the longest back-off/Retry-After
    assert settings.connect_timeout == 2
    assert settings.time_budget == 2 * (2 + 2) + max(10.0, RETRY_AFTER_MAX)
    assert SignalClientSettings("id", "pw", timeout=30).connect_timeout == 5.0


def test_replaced_settings_parse_their_own_url_and_keep_the_password_out_of_repr() -> None:
    settings = SignalClientSettings("id", "hunter2", api_url="http://127.0.0.1:9000")
    moved = dataclasses.replace(settings, api_url="http://127.0.0.1:9001")
    assert moved.message_url == "http://127.0.0.1:9001/signal/message"
    assert settings.message_url == "http://127.0.0.1:9000/signal/message"
    assert "hunter2" not in repr(settings)
    assert settings.basic_token == "aWQ6aHVudGVyMg=="
    assert pickle.loads(pickle.dumps(settings)) == settings  # noqa: S301 - our own bytes
