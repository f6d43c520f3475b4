"""Dates, clocks, durations and digits as people in Iran read them.

Everything shown to a person goes through here, so a message says
"جمعه ۶ آذر ۱۴۰۵، ساعت ۱۰:۳۰" in Persian and "Friday 27 November 2026, 10:30"
in English, always in the daemon's zone (Asia/Tehran) unless told otherwise.

Naive datetimes are taken to be UTC: the store and the scheduler keep UTC, and
guessing "local" would shift a deadline by three and a half hours without a trace.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from persiantools.jdatetime import JalaliDate

TEHRAN = ZoneInfo("Asia/Tehran")

_ASCII_DIGITS = "0123456789"
_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"

_TO_PERSIAN = str.maketrans(_ASCII_DIGITS + _ARABIC_DIGITS, _PERSIAN_DIGITS * 2)
_TO_ASCII = str.maketrans(_PERSIAN_DIGITS + _ARABIC_DIGITS, _ASCII_DIGITS * 2)
# Arabic keyboards and old systems type these; Persian text uses the Persian forms.
# Teh marbuta (ة) is a real letter in Persian loanwords and stays.
_TO_PERSIAN_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک"})

FA_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
# Saturday first, as the Iranian week starts; U+200C (ZWNJ) in سه‌شنبه as written.
FA_WEEKDAYS = ("شنبه", "یکشنبه", "دوشنبه", "سه\u200cشنبه", "چهارشنبه", "پنجشنبه", "جمعه")
EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Monday first, matching date.weekday(); spelled out so the locale never matters.
EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def fa_digits(value: object) -> str:
    """``str(value)`` with ASCII (and Arabic-Indic) digits written as Persian digits."""
    return str(value).translate(_TO_PERSIAN)


def ascii_digits(text: str) -> str:
    """Persian and Arabic-Indic digits turned into ASCII, so ``int()`` and regexes see them."""
    return text.translate(_TO_ASCII)


def normalize_persian(text: str) -> str:
    """Arabic forms of yeh and kaf turned into the Persian ones; digits are left as they are."""
    return text.translate(_TO_PERSIAN_LETTERS)


def is_persian(lang: str) -> bool:
    """Whether a language tag ("fa", "fa-IR", "fa_IR") asks for Persian."""
    return lang.replace("_", "-").split("-", 1)[0].strip().lower() == "fa"


def to_zone(dt: datetime, tz: tzinfo = TEHRAN) -> datetime:
    """``dt`` as wall-clock time in ``tz``; a naive ``dt`` is taken to be UTC."""
    if dt.tzinfo is None or dt.tzinfo.utcoffset(dt) is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(tz)


def to_jalali(day: date) -> tuple[int, int, int]:
    """Jalali (year, month, day) of a Gregorian date."""
    j = JalaliDate(day)  # type: ignore[no-untyped-call]  # persiantools leaves __init__ bare
    return j.year, j.month, j.day


def from_jalali(year: int, month: int, day: int) -> date:
    """Gregorian date of a Jalali date; ``ValueError`` when there is no such day."""
    j = JalaliDate(year, month, day)  # type: ignore[no-untyped-call]  # as above
    gregorian: date = j.to_gregorian()
    return gregorian


def jalali(dt: datetime | date, with_time: bool = True, tz: tzinfo = TEHRAN) -> str:
    """Solar Hijri date in Persian, e.g. "جمعه ۶ آذر ۱۴۰۵، ساعت ۱۰:۳۰".

    A plain ``date`` has no time and no zone, so it is shown as given, without a clock.
    """
    day, local = _split(dt, tz)
    year, month, day_of_month = to_jalali(day)
    text = f"{FA_WEEKDAYS[_saturday_index(day)]} {day_of_month} {FA_MONTHS[month - 1]} {year}"
    if with_time and local is not None:
        text += f"، ساعت {local:%H:%M}"
    return fa_digits(text)


def gregorian(dt: datetime | date, with_time: bool = True, tz: tzinfo = TEHRAN) -> str:
    """Gregorian date in English, e.g. "Friday 27 November 2026, 10:30"."""
    day, local = _split(dt, tz)
    text = f"{EN_WEEKDAYS[day.weekday()]} {day.day} {EN_MONTHS[day.month - 1]} {day.year}"
    if with_time and local is not None:
        text += f", {local:%H:%M}"
    return text


def local_date(dt: datetime | date, lang: str, with_time: bool = True, tz: tzinfo = TEHRAN) -> str:
    """The date in the reader's calendar: Jalali for Persian, Gregorian for anything else."""
    if is_persian(lang):
        return jalali(dt, with_time=with_time, tz=tz)
    return gregorian(dt, with_time=with_time, tz=tz)


def clock(dt: datetime, lang: str, tz: tzinfo = TEHRAN) -> str:
    """24-hour wall-clock time in ``tz``: "۱۰:۳۰" for Persian, "10:30" otherwise."""
    text = f"{to_zone(dt, tz):%H:%M}"
    return fa_digits(text) if is_persian(lang) else text


def duration_words(d: timedelta, lang: str) -> str:
    """A duration in words: "۱ ساعت و ۳۰ دقیقه" or "1 hour 30 minutes".

    Days, hours and minutes; seconds only when the whole is under a minute, since
    nobody acts on "2 hours 0 minutes 13 seconds". Leftover seconds are dropped, not
    rounded. Negative durations are refused: the caller words "overdue" itself.
    """
    if d < timedelta(0):
        raise ValueError(f"cannot put a negative duration ({d}) into words")
    total = int(d.total_seconds())
    if total < 60:
        parts = [(total, "second")]
    else:
        days, rest = divmod(total, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        units = ((days, "day"), (hours, "hour"), (minutes, "minute"))
        parts = [(n, unit) for n, unit in units if n]
    if is_persian(lang):
        return " و ".join(fa_digits(f"{n} {_FA_UNITS[unit]}") for n, unit in parts)
    return " ".join(f"{n} {unit}" + ("" if n == 1 else "s") for n, unit in parts)


_FA_UNITS = {"day": "روز", "hour": "ساعت", "minute": "دقیقه", "second": "ثانیه"}


def _split(dt: datetime | date, tz: tzinfo) -> tuple[date, datetime | None]:
    """The calendar day to show and, for datetimes, the local time in ``tz``."""
    if isinstance(dt, datetime):
        local = to_zone(dt, tz)
        return local.date(), local
    return dt, None


def _saturday_index(day: date) -> int:
    """0 for Saturday through 6 for Friday, the order of the Iranian week."""
    return (day.weekday() + 2) % 7
