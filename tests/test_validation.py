"""Destination normalisation and text validation: examples and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_signal.errors import SignalInputError
from airflow_provider_signal.validation import (
    clean_text,
    destinations_or_default,
    normalise_destination,
    normalise_destinations,
    validate_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("447700900123", "447700900123"),
        ("+44 7700-900123", "447700900123"),
        ("0044 7700 900123", "447700900123"),
        ("+1 (202) 555-0100", "12025550100"),
        ("+49.151.2345.6789", "4915123456789"),
        (447700900123, "447700900123"),
    ],
)
def test_destinations_are_normalised_to_international_digits(raw: object, expected: str) -> None:
    assert normalise_destination(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "international form"),
        ("+44 7700", "international form"),  # too short
        ("+44 7700 900123 456789", "international form"),  # too long
        ("447700abc123", "international form"),
        ("\u0664\u0664\u0667\u0667\u0660\u0660\u0669\u0660\u0660\u0661\u0662\u0663", "international form"),
        ("07700900123", "national number"),
        ("++447700900123", "international form"),
        (None, "not a phone number"),
        (True, "not a phone number"),
        (4.4, "not a phone number"),
    ],
)
def test_bad_destinations_are_refused_with_a_clear_message(raw: object, fragment: str) -> None:
    with pytest.raises(SignalInputError, match=fragment):
        normalise_destination(raw)


def test_lists_and_comma_separated_strings_fold_duplicates_in_order() -> None:
    value = ["+44 7700 900123", "447700900456; 0044 7700-900123", "+1 202 555 0100"]
    assert normalise_destinations(value) == ["447700900123", "447700900456", "12025550100"]
    assert normalise_destinations("+447700900123, 447700900123,\n0044 7700 900123") == ["447700900123"]
    assert normalise_destinations(None) == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("  \n ", "empty"), (None, "must be a string"), (42, "must be a string")],
)
def test_bad_text_is_refused(text: object, fragment: str) -> None:
    with pytest.raises(SignalInputError, match=fragment):
        validate_text(text)


def test_text_limit_is_a_setting() -> None:
    assert validate_text("x" * 2000) == "x" * 2000
    with pytest.raises(SignalInputError, match="2001 characters, over the limit of 2000"):
        validate_text("x" * 2001)
    assert validate_text("x" * 2001, max_length=5000)
    with pytest.raises(SignalInputError, match="over the limit of 10"):
        validate_text("x" * 11, max_length=10)


_digits = st.text(alphabet="0123456789", min_size=7, max_size=14).map(lambda d: "4" + d)
_separator = st.sampled_from(["", " ", "-", ".", " - "])


@given(number=_digits, prefix=st.sampled_from(["", "+", "00"]), sep=_separator, data=st.data())
def test_any_spelling_of_a_number_normalises_to_the_same_digits(
    number: str, prefix: str, sep: str, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(min_value=1, max_value=len(number) - 1))
    spelled = f"{prefix}{number[:cut]}{sep}{number[cut:]}"
    assert normalise_destination(spelled) == number
    assert normalise_destinations([number, spelled]) == [number]


@given(st.text(max_size=30))
def test_normalisation_returns_8_to_15_digits_or_refuses(raw: str) -> None:
    digits = "".join(c for c in raw if c not in " -.()/+\t\n\r\x0b\x0c")
    try:
        result = normalise_destination(raw)
    except SignalInputError:
        return
    assert result.isascii() and result.isdigit()
    assert 8 <= len(result) <= 15
    assert not result.startswith("0")
    # only separators, the prefix and a bracketed trunk 0 right after the country code were taken away
    without_trunk = "".join(
        c for c in re.sub(r"\(\s*0\s*\)", "", raw, count=1) if c not in " -.()/+\t\n\r\x0b\x0c"
    )
    assert digits.endswith(result) or ("(" in raw and without_trunk.endswith(result))


_country_code = st.text(alphabet="0123456789", min_size=1, max_size=3).filter(lambda cc: cc[0] != "0")
_national = st.text(alphabet="0123456789", min_size=6, max_size=10).filter(lambda n: n[0] != "0")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 (0)7700 900123", "447700900123"),
        ("+44(0)7700900123", "447700900123"),
        ("0044 (0) 7700 900123", "447700900123"),
        ("+49 (0)30 1234 5678", "493012345678"),
        ("+1 (415) 555-2671", "14155552671"),  # an area code in brackets is kept
    ],
)
def test_a_bracketed_trunk_prefix_after_the_country_code_is_dropped(raw: str, expected: str) -> None:
    assert normalise_destination(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "(0)7700 900123",  # no country code before the brackets
        "(415) 555 2671",  # brackets without a country code: a national number
        "+44 (020) 7946 0958",  # a trunk 0 inside an area code: which digits are international?
        "+447700 (900) 123",  # brackets in the middle of the number
        "+44 (0) (7700) 900123",  # two pairs
        "+44 (7700 900123",  # unbalanced
        "+44 7700) 900123",
        "+44 ()7700900123",
        "+44 (0a)7700900123",
        "+44 (٠)7700900123",  # a non-ASCII digit
        "+44 +7700 900123",  # a second plus
        "+44 7700 9OO123",  # letters
        "+1 800 FLOWERS",
    ],
)
def test_a_number_that_cannot_be_read_with_confidence_is_refused(raw: str) -> None:
    with pytest.raises(SignalInputError, match="Signal destination"):
        normalise_destination(raw)


@given(cc=_country_code, national=_national, sep=_separator, space=st.sampled_from(["", " "]))
def test_the_written_trunk_form_means_the_international_number(
    cc: str, national: str, sep: str, space: str
) -> None:
    number = cc + national
    if not 8 <= len(number) <= 15:
        return
    assert normalise_destination(f"+{cc}{space}(0){space}{national[:3]}{sep}{national[3:]}") == number
    assert normalise_destination(f"00{cc}{space}(0){national}") == number
    with pytest.raises(SignalInputError):  # a 0 with more digits in the brackets is not guessed
        normalise_destination(f"+{cc}{space}(0{national[:2]}){national[2:]}")
    with pytest.raises(SignalInputError):  # brackets further in are not guessed
        normalise_destination(f"+{cc}{national[:3]}{space}(0){national[3:]}")


@given(st.text(min_size=1, max_size=50).filter(lambda t: t.strip()))
def test_any_non_blank_text_within_the_limit_is_accepted_unchanged(text: str) -> None:
    assert validate_text(text) is text


# -- one rule for "no destination"; text the UTF-8 codec refuses (issue 13) -------------------


@pytest.mark.parametrize("nothing", [None, "", " ", "\t\n", ",", " ; ", ",,;", [], (), ["", " "], [",", ""]])
def test_every_spelling_of_no_destination_falls_back_to_the_default(nothing: object) -> None:
    assert destinations_or_default(nothing, lambda: ["447700900999"]) == ["447700900999"]


def test_the_default_is_not_looked_up_when_destinations_are_given() -> None:
    def no_lookup() -> list[str]:
        raise AssertionError("the default recipients were read although destinations were given")

    assert destinations_or_default(" +44 7700 900123 , ", no_lookup) == ["447700900123"]
    assert destinations_or_default(["", "447700900123"], no_lookup) == ["447700900123"]


@pytest.mark.parametrize("bad", [[None], ["447700900123", 4.4], "not a number"])
def test_a_destination_that_is_there_but_wrong_is_still_refused(bad: object) -> None:
    with pytest.raises(SignalInputError):
        destinations_or_default(bad, lambda: ["447700900999"])


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("lone \udc80 low", "lone \ufffd low"),
        ("lone \ud800 high", "lone \ufffd high"),
        ("pair \ud83d\ude42 joined", "pair 🙂 joined"),
        ("\udcff", "\ufffd"),
        ("plain 🙂", "plain 🙂"),
    ],
)
def test_text_is_returned_as_it_will_be_sent_lone_surrogates_replaced(text: str, sent: str) -> None:
    assert validate_text(text) == sent
    sent.encode("utf-8")  # what goes on the wire encodes


@given(
    st.lists(st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr)), min_size=1, max_size=50).map(
        "".join
    )
)
def test_any_text_with_surrogates_becomes_encodable_and_keeps_its_length_or_less(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert len(cleaned) <= len(text)
    if not any("\ud800" <= c <= "\udfff" for c in text):
        assert cleaned == text


MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    "raw",
    [
        "4" * MEGABYTE,  # one long word of digits
        "(" * MEGABYTE,  # what the bracket rule would have to read
        "+44 7700 900123 x" * (MEGABYTE // 17),  # one entry, no separator between the copies
        "a" * MEGABYTE,
    ],
    ids=["digits", "brackets", "spaced", "letters"],
)
def test_a_megabyte_destination_is_refused_named_by_its_length_not_echoed(raw: str) -> None:
    with pytest.raises(SignalInputError) as refused:
        normalise_destinations(raw)
    message = str(refused.value)
    assert f"({len(raw):,} characters)" in message
    assert len(message) < 400, f"the error echoes the value: {len(message):,} characters"


def test_more_destinations_than_one_send_takes_are_refused_before_any_is_read() -> None:
    from airflow_provider_signal.validation import MAX_DESTINATIONS

    numbers = [f"+4477009{index:05d}" for index in range(MAX_DESTINATIONS + 1)]
    assert len(normalise_destinations(numbers[:MAX_DESTINATIONS])) == MAX_DESTINATIONS
    with pytest.raises(
        SignalInputError, match=f"{MAX_DESTINATIONS + 1:,} Signal destinations given, over the limit"
    ):
        normalise_destinations(",".join(numbers))
    with pytest.raises(SignalInputError, match="over the limit"):
        normalise_destinations([*numbers[:-1], "not a number"])  # the count is checked first
