"""Dates, clocks, digits and durations as people read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisd.formats.timefmt import (
    TEHRAN,
    ascii_digits,
    clock,
    duration_words,
    fa_digits,
    from_jalali,
    gregorian,
    jalali,
    local_date,
    normalize_persian,
    to_jalali,
    to_zone,
)

# 10:30 in Tehran (UTC+03:30, no DST since 2022) on a Friday.
FRIDAY_1030 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def test_known_days_convert_both_ways() -> None:
    assert to_jalali(date(2026, 11, 27)) == (1405, 9, 6)
    assert to_jalali(date(2026, 3, 21)) == (1405, 1, 1)  # Nowruz
    assert from_jalali(1405, 1, 1) == date(2026, 3, 21)
    assert from_jalali(1405, 9, 6) == date(2026, 11, 27)


def test_from_jalali_refuses_a_day_that_does_not_exist() -> None:
    with pytest.raises(ValueError):
        from_jalali(1405, 13, 1)


def test_jalali_with_time() -> None:
    assert jalali(FRIDAY_1030) == "جمعه ۶ آذر ۱۴۰۵، ساعت ۱۰:۳۰"


def test_jalali_without_time_and_for_a_plain_date() -> None:
    assert jalali(FRIDAY_1030, with_time=False) == "جمعه ۶ آذر ۱۴۰۵"
    assert jalali(date(2026, 3, 21)) == "شنبه ۱ فروردین ۱۴۰۵"


def test_jalali_weekday_with_zwnj() -> None:
    # 2026-11-24 is a Tuesday; سه‌شنبه is written with a zero-width non-joiner.
    assert jalali(date(2026, 11, 24)) == "سه\u200cشنبه ۳ آذر ۱۴۰۵"


def test_naive_datetime_is_taken_as_utc() -> None:
    assert jalali(datetime(2026, 11, 27, 7, 0)) == jalali(FRIDAY_1030)
    assert clock(datetime(2026, 11, 27, 7, 0), "en") == "10:30"


def test_aware_datetime_is_converted_to_the_zone_first() -> None:
    # 22:00 UTC on Friday is 01:30 on Saturday in Tehran: the day moves too.
    late = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    assert jalali(late) == "شنبه ۷ آذر ۱۴۰۵، ساعت ۰۱:۳۰"
    assert gregorian(late) == "Saturday 28 November 2026, 01:30"
    assert gregorian(late, tz=UTC) == "Friday 27 November 2026, 22:00"


def test_gregorian() -> None:
    assert gregorian(FRIDAY_1030) == "Friday 27 November 2026, 10:30"
    assert gregorian(FRIDAY_1030, with_time=False) == "Friday 27 November 2026"
    assert gregorian(date(2026, 3, 21)) == "Saturday 21 March 2026"


@pytest.mark.parametrize("lang", ["fa", "fa-IR", "FA_ir"])
def test_local_date_in_persian(lang: str) -> None:
    assert local_date(FRIDAY_1030, lang) == jalali(FRIDAY_1030)


@pytest.mark.parametrize("lang", ["en", "en-GB", "de", "far"])
def test_local_date_otherwise_gregorian(lang: str) -> None:
    assert local_date(FRIDAY_1030, lang, with_time=False) == "Friday 27 November 2026"


def test_clock() -> None:
    assert clock(FRIDAY_1030, "fa") == "۱۰:۳۰"
    assert clock(FRIDAY_1030, "en") == "10:30"
    assert clock(FRIDAY_1030, "en", tz=timezone(timedelta(hours=1))) == "08:00"


def test_to_zone_defaults_to_tehran() -> None:
    local = to_zone(FRIDAY_1030)
    assert local.tzinfo is TEHRAN
    assert (local.hour, local.minute) == (10, 30)


def test_digit_conversion() -> None:
    assert fa_digits(1405) == "۱۴۰۵"
    assert fa_digits("ساعت 10:30") == "ساعت ۱۰:۳۰"
    assert fa_digits("٣") == "۳"  # Arabic-Indic three becomes the Persian one
    assert ascii_digits("۰۹۱۲ ٣٤٥") == "0912 345"
    assert ascii_digits("abc") == "abc"


def test_normalize_persian_fixes_letters_only() -> None:
    assert normalize_persian("كارخانه ي") == "کارخانه ی"
    assert normalize_persian("علي") == "علی"
    assert normalize_persian("ة ۱۲ 12") == "ة ۱۲ 12"


@given(st.text())
def test_digits_roundtrip(text: str) -> None:
    assert ascii_digits(fa_digits(text)) == ascii_digits(text)
    assert fa_digits(ascii_digits(text)) == fa_digits(text)


@given(st.text(alphabet=st.characters(exclude_characters="۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩")))
def test_ascii_text_survives_a_trip_through_persian_digits(text: str) -> None:
    assert ascii_digits(fa_digits(text)) == text


@given(st.integers(min_value=0))
def test_persian_digits_still_read_as_the_number(n: int) -> None:
    shown = fa_digits(n)
    assert shown.isdigit()
    assert not any("0" <= ch <= "9" for ch in shown)
    assert int(ascii_digits(shown)) == n


@pytest.mark.parametrize(
    ("seconds", "english", "persian"),
    [
        (0, "0 seconds", "۰ ثانیه"),
        (1, "1 second", "۱ ثانیه"),
        (45, "45 seconds", "۴۵ ثانیه"),
        (60, "1 minute", "۱ دقیقه"),
        (90, "1 minute", "۱ دقیقه"),
        (30 * 60, "30 minutes", "۳۰ دقیقه"),
        (5400, "1 hour 30 minutes", "۱ ساعت و ۳۰ دقیقه"),
        (7200, "2 hours", "۲ ساعت"),
        (2 * 86400 + 3 * 3600, "2 days 3 hours", "۲ روز و ۳ ساعت"),
        (86400 + 60, "1 day 1 minute", "۱ روز و ۱ دقیقه"),
    ],
)
def test_duration_words(seconds: int, english: str, persian: str) -> None:
    d = timedelta(seconds=seconds)
    assert duration_words(d, "en") == english
    assert duration_words(d, "fa") == persian


def test_duration_words_refuses_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        duration_words(timedelta(seconds=-1), "en")
