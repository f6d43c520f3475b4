"""The Iranian working week, for deadlines given in working days.

Saturday to Wednesday are working days; Thursday only at factories that work it
(``thursday_working``); Friday never; Iran's official public holidays never (with
``iran_public``); the factory's own listed holidays never. Those can be written in the
Jalali calendar people use ("1405-01-01") or in Gregorian ("2026-03-21");
``parse_holiday`` tells them apart by the year.

Iran's public holidays come from the ``holidays`` package (github.com/vacanza/holidays,
``holidays/countries/iran.py``): the solar ones (Nowruz and the days after it, 12 and 13
Farvardin, 14 and 15 Khordad, 22 Bahman, 29 Esfand, the year's last day) and the lunar
ones (Tasua, Ashura, Arbaeen, the Eids, ...) on the Hijri calendar as Iran observes it,
a day after Umm al-Qura. Lunar
dates past the years the package has confirmed are its estimates; a day the government
announces differently goes into ``calendar.holidays``. The lookup is a pure function of
the year: the package computes the dates from tables it ships, with no network and no
configuration (it reads only its own bundled name catalogue, once per year looked up).

A deadline of N working days ends at the end (23:59:59) of the N-th working day
*after* the day the clock starts, in the start's own timezone: an incident on
Wednesday at 10:00 with 3 working days and Thursday off is due Monday 23:59:59
(Saturday, Sunday, Monday). The start day itself never counts, so a report
filed at 23:50 does not lose a day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

import holidays as holiday_tables
from holidays.version import __version__ as holidays_version

from crisisd.formats.timefmt import ascii_digits, from_jalali

END_OF_DAY = time(23, 59, 59)
# Gregorian years in a factory calendar are all far above this; Jalali ones below.
JALALI_BEFORE = 1700

_THURSDAY, _FRIDAY = 3, 4  # date.weekday(): Monday is 0
_ISO_LIKE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
_HOLIDAY_EXAMPLES = "write e.g. 2026-03-21 (Gregorian) or 1405-01-01 / 1405/01/01 (Jalali)"


@cache
def iran_public_holidays(year: int) -> frozenset[date]:
    """Iran's official public holidays in the Gregorian ``year`` (empty before 1980)."""
    return frozenset(holiday_tables.country_holidays("IR", years=year))


def warm_public_holidays(year: int) -> None:
    """Look up Iran's public holidays of ``year`` and of the next ahead of use (a deadline
    near the year's end runs into the next). The first lookup imports the holidays
    package's tables of every country (~0.08 s), and each year's costs ~0.06 s once: left
    to the first incident with a deadline in working days, that was a stall of the event
    loop, 67-120 ms inside an open, every send waiting (bench/core.py's probes)."""
    iran_public_holidays(year)
    iran_public_holidays(year + 1)


def public_holiday_source() -> str:
    """Where the public holidays come from, with the version in force."""
    return f"holidays {holidays_version}"


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days a factory works: Saturday to Wednesday, maybe Thursday, minus holidays.

    ``holidays`` are the factory's own days off; ``iran_public`` adds Iran's official
    public holidays (the daemon's calendar has it on; a bare ``WorkCalendar()`` has not).
    """

    thursday_working: bool = False
    holidays: frozenset[date] = frozenset()
    iran_public: bool = False

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day (a ``datetime`` counts by its own date)."""
        if isinstance(d, datetime):
            d = d.date()
        weekday = d.weekday()
        if weekday == _FRIDAY or (weekday == _THURSDAY and not self.thursday_working):
            return False
        return not self.is_holiday(d)

    def is_holiday(self, d: date) -> bool:
        """Whether ``d`` is a listed or (with ``iran_public``) a public holiday."""
        return d in self.holidays or (self.iran_public and d in iran_public_holidays(d.year))

    def describe(self) -> str:
        """The calendar in force, in one line, e.g. for ``crisisd validate``."""
        parts = []
        if self.iran_public:
            parts.append(f"Iran public holidays ({public_holiday_source()})")
        if self.holidays:
            parts.append(f"{len(self.holidays)} local")
        days_off = " + ".join(parts) if parts else "no holidays besides Fridays"
        thursday = "Thursday working" if self.thursday_working else "Thursday off"
        return f"{days_off}; {thursday}"

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End (23:59:59) of the ``n``-th working day after ``start``'s date, in its tzinfo.

        ``n == 0`` means the end of the current working day: ``start``'s own date when
        that is a working day, else the next one. A naive ``start`` gives a naive
        deadline; pass local factory time (``timefmt.to_zone``) so the date is right.
        """
        if isinstance(n, bool) or n < 0:
            raise ValueError(f"working days must be 0 or more, got {n!r}")
        day = start.date()
        if n == 0:
            if not self.is_working_day(day):
                day = self.next_working_day(day)
        else:
            for _ in range(n):
                day = self.next_working_day(day)
        return datetime.combine(day, END_OF_DAY, tzinfo=start.tzinfo)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days ``d`` with ``a < d <= b``; negative when ``b`` is before ``a``.

        It counts the way ``add_working_days`` does, so for ``n >= 1``
        ``working_days_between(s.date(), add_working_days(s, n).date()) == n``.
        """
        if isinstance(a, datetime):
            a = a.date()
        if isinstance(b, datetime):
            b = b.date()
        if b < a:
            return -self.working_days_between(b, a)
        span = (b - a).days
        weeks, extra = divmod(span, 7)
        per_week = 6 if self.thursday_working else 5
        count = weeks * per_week
        for offset in range(1, extra + 1):
            if self._weekly_working(a + timedelta(days=weeks * 7 + offset)):
                count += 1
        count -= sum(1 for h in self._holidays_between(a, b) if self._weekly_working(h))
        return count

    def _holidays_between(self, a: date, b: date) -> set[date]:
        """Listed and public holidays ``h`` with ``a < h <= b``, each once."""
        found = {h for h in self.holidays if a < h <= b}
        if self.iran_public:
            for year in range(a.year, b.year + 1):
                found.update(h for h in iran_public_holidays(year) if a < h <= b)
        return found

    def _weekly_working(self, d: date) -> bool:
        """Whether ``d`` is a working day of the week, before holidays are considered."""
        weekday = d.weekday()
        return weekday != _FRIDAY and (weekday != _THURSDAY or self.thursday_working)


def parse_holiday(value: str | date) -> date:
    """A holiday as a Gregorian ``date``, from "2026-03-21", "1405-01-01", "1405/01/01" or a date.

    Years below 1700 are Jalali. That includes ``date`` objects: YAML reads an unquoted
    ``1405-01-01`` as the Gregorian date 1405-01-01, which nobody means.
    """
    if isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        if day.year >= JALALI_BEFORE:
            return day
        return _from_jalali(day.year, day.month, day.day, repr(value))
    # Anything else YAML hands over (an int, a list) fails the pattern below.
    match = _ISO_LIKE.fullmatch(ascii_digits(str(value)).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a holiday date — {_HOLIDAY_EXAMPLES}")
    year, month, day_of_month = (int(match.group(i)) for i in (1, 3, 4))
    if year < JALALI_BEFORE:
        return _from_jalali(year, month, day_of_month, repr(value))
    try:
        return date(year, month, day_of_month)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a real Gregorian date — {_HOLIDAY_EXAMPLES}",
        ) from None


def _from_jalali(year: int, month: int, day: int, shown: str) -> date:
    """Gregorian date of a Jalali year/month/day, or a ``ValueError`` naming ``shown``."""
    try:
        return from_jalali(year, month, day)
    except ValueError:
        raise ValueError(
            f"{shown} is not a real Jalali date (read as {year}/{month:02}/{day:02}, "
            f"since years before {JALALI_BEFORE} are Jalali) — {_HOLIDAY_EXAMPLES}",
        ) from None
