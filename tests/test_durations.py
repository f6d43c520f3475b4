"""Durations and due times as playbook authors write them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisd.formats.durations import Due, format_duration, parse_due, parse_duration
from crisisd.formats.timefmt import duration_words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        (" 1d2h3m4s ", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("5M", timedelta(minutes=5)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        (0, timedelta(0)),
        ("۵m", timedelta(minutes=5)),
        ("٣٠s", timedelta(seconds=30)),
        ("1 hour 30 minutes", timedelta(hours=1, minutes=30)),
        ("۱ ساعت و ۳۰ دقیقه", timedelta(hours=1, minutes=30)),
        ("۲ روز", timedelta(days=2)),
        ("10 mins", timedelta(minutes=10)),
    ],
)
def test_parse_duration_accepts(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["5x", "", "   ", "h", "1h30", "30m1h", "1h1h", "5 parsecs", "1.5h"]
)
def test_parse_duration_rejects_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration — write e\.g\. 30s, 5m, 2h, 1d or 1h30m"):
        parse_duration(text)


def test_unknown_unit_message_names_the_input() -> None:
    with pytest.raises(ValueError, match=r"^'5x' is not a duration"):
        parse_duration("5x")


@pytest.mark.parametrize("value", [5, 300, "5", "۵"])
def test_bare_number_needs_a_unit(value: str | int) -> None:
    with pytest.raises(ValueError, match=r"write a unit, e\.g\. 5m"):
        parse_duration(value)


@pytest.mark.parametrize("value", ["-5m", "-1", " -0s"])
def test_negative_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(value)


@pytest.mark.parametrize("value", [True, 1.5, None, ["5m"]])
def test_other_yaml_types_are_refused_as_value_errors(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)  # type: ignore[arg-type]


def test_absurdly_long_duration_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("9" * 30 + "d")


@pytest.mark.parametrize(
    ("d", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(minutes=5, microseconds=999), "5m"),
    ],
)
def test_format_duration(d: timedelta, text: str) -> None:
    assert format_duration(d) == text


def test_format_duration_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-1))


whole_seconds = st.integers(min_value=0, max_value=10**12).map(lambda s: timedelta(seconds=s))


@given(whole_seconds)
def test_format_then_parse_roundtrips(d: timedelta) -> None:
    assert parse_duration(format_duration(d)) == d


@given(whole_seconds)
def test_words_shown_to_people_read_back_when_whole_minutes(d: timedelta) -> None:
    # duration_words drops seconds past the first minute; whole minutes survive exactly.
    if d >= timedelta(minutes=1):
        d = timedelta(minutes=d // timedelta(minutes=1))
    assert parse_duration(duration_words(d, "en")) == d
    assert parse_duration(duration_words(d, "fa")) == d


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 working days", Due(working_days=3)),
        ("1 working day", Due(working_days=1)),
        ("2 workdays", Due(working_days=2)),
        ("۳ روز کاری", Due(working_days=3)),
        ("3 روز\u200cکاری", Due(working_days=3)),
        ("4h", Due(delta=timedelta(hours=4))),
        ("1d", Due(delta=timedelta(days=1))),
        (0, Due(delta=timedelta(0))),
    ],
)
def test_parse_due(text: str | int, expected: Due) -> None:
    assert parse_due(text) == expected


@pytest.mark.parametrize("text", ["0 working days", "3 working dayz", "three working days"])
def test_parse_due_rejects_bad_working_days(text: str) -> None:
    with pytest.raises(ValueError, match="3 working days"):
        parse_due(text)


def test_parse_due_rejects_bad_duration_and_mentions_both_forms() -> None:
    with pytest.raises(ValueError, match=r"'5x' is not a duration.*3 working days"):
        parse_due("5x")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"delta": timedelta(1), "working_days": 1}, {"working_days": 0}, {"delta": timedelta(-1)}],
)
def test_due_holds_exactly_one_valid_form(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Due"):
        Due(**kwargs)  # type: ignore[arg-type]
