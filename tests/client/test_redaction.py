"""``client/redaction.py``: a ``Redactor`` on its own, every spelling of a secret masked."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_signal.client.redaction import Redactor, secret_pattern, secret_spellings

PASSWORD = "p@ss w/rd+é"  # a space, a slash, a plus and a non-ASCII letter: every encoding differs
TOKEN = base64.b64encode(f"id:{PASSWORD}".encode()).decode()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor((PASSWORD, TOKEN))


@pytest.mark.parametrize(
    "spelling",
    [
        PASSWORD,
        json.dumps(PASSWORD)[1:-1],  # JSON as Python writes it (\u00e9, \/ not used)
        json.dumps(PASSWORD, ensure_ascii=False).replace("/", "\\/")[1:-1],
        json.dumps(json.dumps(PASSWORD)[1:-1])[1:-1],  # escaped twice
        quote(PASSWORD, safe=""),
        quote_plus(PASSWORD),
        html.escape(PASSWORD),
        "".join(f"&#{ord(c)};" for c in PASSWORD),
        base64.b64encode(PASSWORD.encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(PASSWORD.encode()).decode().rstrip("="),
        TOKEN,
    ],
)
def test_every_spelling_of_a_secret_is_masked(redactor: Redactor, spelling: str) -> None:
    redacted = redactor.redact(f"the API said <<{spelling}>> twice <<{spelling}>>")
    assert redacted == "the API said <<***>> twice <<***>>"


def test_text_without_a_secret_is_returned_unchanged(redactor: Redactor) -> None:
    text = "HTTP 503 (Service busy) & 100% fine \\n"
    assert redactor.redact(text) == text
    assert redactor.redact("p@ss w/rd") == "p@ss w/rd"  # a part of the secret is not the secret


def test_redact_value_masks_strings_and_keys_in_parsed_json(redactor: Redactor) -> None:
    value = {"error": f"bad {PASSWORD}", PASSWORD: [1, None, {"x": TOKEN}], "n": 3}
    assert redactor.redact_value(value) == {"error": "bad ***", "***": [1, None, {"x": "***"}], "n": 3}


def test_the_redactor_never_shows_its_secrets(redactor: Redactor) -> None:
    assert PASSWORD not in repr(redactor) and TOKEN not in repr(redactor)
    assert redactor.secrets == (PASSWORD, TOKEN)


def test_no_secret_means_nothing_masked() -> None:
    assert Redactor(("",)).redact("anything at all") == "anything at all"


def test_spellings_are_longest_first_and_the_pattern_matches_each() -> None:
    spellings = secret_spellings(("abc=",))
    assert spellings == sorted(spellings, key=len, reverse=True)
    assert {"abc=", "abc", "YWJjPQ"} <= set(spellings)
    pattern = secret_pattern(spellings)
    assert all(pattern.fullmatch(spelling) for spelling in spellings)
