"""The Iranian working week, Iran's public holidays, and deadlines in working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisd.formats.timefmt import TEHRAN
from crisisd.formats.workweek import (
    END_OF_DAY,
    WorkCalendar,
    iran_public_holidays,
    parse_holiday,
    public_holiday_source,
)

# A known week: 2026-11-21 is Saturday (1 Azar 1405) ... 2026-11-27 is Friday.
SAT, SUN, MON, TUE, WED, THU, FRI = (date(2026, 11, 21) + timedelta(days=i) for i in range(7))
NOWRUZ = date(2026, 3, 21)


def test_the_known_week_starts_on_saturday() -> None:
    assert SAT.weekday() == 5
    assert date(2026, 11, 27) == FRI


def test_saturday_to_wednesday_work_friday_never() -> None:
    cal = WorkCalendar()
    assert [cal.is_working_day(d) for d in (SAT, SUN, MON, TUE, WED)] == [True] * 5
    assert not cal.is_working_day(THU)
    assert not cal.is_working_day(FRI)


def test_thursday_when_the_factory_works_it() -> None:
    cal = WorkCalendar(thursday_working=True)
    assert cal.is_working_day(THU)
    assert not cal.is_working_day(FRI)


def test_holidays_are_not_working_days() -> None:
    cal = WorkCalendar(holidays=frozenset({MON}))
    assert not cal.is_working_day(MON)
    assert cal.is_working_day(datetime.combine(TUE, time(9)))


def test_wednesday_incident_three_working_days_is_due_monday_night() -> None:
    start = datetime.combine(WED, time(10), tzinfo=TEHRAN)
    due = WorkCalendar().add_working_days(start, 3)
    assert due == datetime(2026, 11, 30, 23, 59, 59, tzinfo=TEHRAN)
    assert due.weekday() == 0  # Monday


def test_thursday_working_moves_the_deadline_earlier() -> None:
    start = datetime.combine(WED, time(10), tzinfo=TEHRAN)
    assert WorkCalendar(thursday_working=True).add_working_days(start, 3).date() == SUN + timedelta(
        days=7,
    )


def test_holiday_is_skipped() -> None:
    start = datetime.combine(WED, time(10), tzinfo=TEHRAN)
    cal = WorkCalendar(holidays=frozenset({SAT + timedelta(days=7)}))
    assert cal.add_working_days(start, 1).date() == SUN + timedelta(days=7)


def test_start_day_never_counts_even_late_at_night() -> None:
    start = datetime.combine(SAT, time(23, 50), tzinfo=TEHRAN)
    assert WorkCalendar().add_working_days(start, 1).date() == SUN


def test_zero_working_days_is_end_of_the_current_working_day() -> None:
    cal = WorkCalendar()
    assert cal.add_working_days(datetime.combine(MON, time(9)), 0) == datetime.combine(
        MON,
        END_OF_DAY,
    )
    assert cal.add_working_days(datetime.combine(FRI, time(9)), 0).date() == FRI + timedelta(1)


def test_naive_start_gives_naive_deadline_and_tz_is_kept() -> None:
    cal = WorkCalendar()
    assert cal.add_working_days(datetime.combine(SAT, time(9)), 1).tzinfo is None
    assert cal.add_working_days(datetime.combine(SAT, time(9), tzinfo=UTC), 1).tzinfo is UTC


@pytest.mark.parametrize("n", [-1, True])
def test_add_working_days_refuses_negative_or_bool(n: int) -> None:
    with pytest.raises(ValueError, match="working days"):
        WorkCalendar().add_working_days(datetime.combine(SAT, time(9)), n)


def test_working_days_between() -> None:
    cal = WorkCalendar()
    assert cal.working_days_between(WED, MON + timedelta(7)) == 3
    assert cal.working_days_between(MON + timedelta(7), WED) == -3
    assert cal.working_days_between(SAT, SAT) == 0
    assert cal.working_days_between(WED, FRI) == 0
    assert cal.working_days_between(SAT, SAT + timedelta(7)) == 5
    assert WorkCalendar(thursday_working=True).working_days_between(SAT, SAT + timedelta(7)) == 6
    assert WorkCalendar(holidays=frozenset({SUN, FRI})).working_days_between(SAT, FRI) == 3


days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
calendars = st.builds(
    WorkCalendar,
    thursday_working=st.booleans(),
    holidays=st.frozensets(days, max_size=40),
    iran_public=st.booleans(),
)


@given(calendars, days, st.times(), st.integers(min_value=0, max_value=60))
def test_deadline_is_a_working_day_at_end_of_day(
    cal: WorkCalendar,
    day: date,
    at: time,
    n: int,
) -> None:
    due = cal.add_working_days(datetime.combine(day, at, tzinfo=TEHRAN), n)
    assert cal.is_working_day(due.date())
    assert due.weekday() != 4  # never Friday
    assert due.date() not in cal.holidays
    assert not (cal.iran_public and due.date() in iran_public_holidays(due.year))
    assert due.timetz() == END_OF_DAY.replace(tzinfo=TEHRAN)
    assert due.date() >= day


@given(calendars, days, st.integers(min_value=0, max_value=60))
def test_deadline_is_monotone_in_n(cal: WorkCalendar, day: date, n: int) -> None:
    start = datetime.combine(day, time(10), tzinfo=TEHRAN)
    assert cal.add_working_days(start, n) <= cal.add_working_days(start, n + 1)
    if n >= 1:
        assert cal.add_working_days(start, n) < cal.add_working_days(start, n + 1)


def test_zero_and_one_coincide_only_when_the_start_day_is_off() -> None:
    cal = WorkCalendar()
    friday = datetime.combine(FRI, time(10))
    monday = datetime.combine(MON, time(10))
    assert cal.add_working_days(friday, 0) == cal.add_working_days(friday, 1)
    assert cal.add_working_days(monday, 0) < cal.add_working_days(monday, 1)


@given(calendars, days, st.integers(min_value=1, max_value=60))
def test_between_counts_what_add_added(cal: WorkCalendar, day: date, n: int) -> None:
    due = cal.add_working_days(datetime.combine(day, time(10)), n)
    assert cal.working_days_between(day, due.date()) == n


@given(calendars, days, days)
def test_between_matches_a_day_by_day_count(cal: WorkCalendar, a: date, b: date) -> None:
    lo, hi = min(a, b), max(a, b)
    slow = sum(cal.is_working_day(lo + timedelta(i)) for i in range(1, (hi - lo).days + 1))
    assert cal.working_days_between(lo, hi) == slow
    assert cal.working_days_between(hi, lo) == -slow


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-21",
        "1405-01-01",
        "1405/01/01",
        "1405/1/1",
        "۱۴۰۵/۰۱/۰۱",
        " 1405-01-01 ",
        NOWRUZ,
        date(1405, 1, 1),  # what YAML makes of an unquoted 1405-01-01
        datetime(2026, 3, 21, 0, 0),
    ],
)
def test_parse_holiday_nowruz(value: str | date) -> None:
    assert parse_holiday(value) == NOWRUZ


def test_parse_holiday_last_day_of_a_leap_jalali_year() -> None:
    # 1403 is a leap year, so Esfand has 30 days; 1404-01-01 is 2025-03-21.
    assert parse_holiday("1403-12-30") == date(2025, 3, 20)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("1405-13-01", "not a real Jalali date"),
        ("1405-12-30", "not a real Jalali date"),
        ("2026-02-30", "not a real Gregorian date"),
        ("2026-03-21T00:00", "not a holiday date"),
        ("1405-01/01", "not a holiday date"),
        ("21/03/2026", "not a holiday date"),
        ("Nowruz", "not a holiday date"),
        (20260321, "not a holiday date"),
    ],
)
def test_parse_holiday_rejects_with_examples(value: object, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        parse_holiday(value)  # type: ignore[arg-type]
    assert "2026-03-21" in str(info.value)
    assert "1405-01-01" in str(info.value)


# -- Iran's public holidays -------------------------------------------------------------------

IRAN = WorkCalendar(iran_public=True)
# Nowruz 1405: 1-4 Farvardin = 21-24 March 2026 (Saturday to Tuesday); 29 Esfand 1404,
# Oil Nationalisation Day, is Friday 20 March. Tasua and Ashura 1448: 24-25 June 2026.
NOWRUZ_1405 = [date(2026, 3, 21) + timedelta(days=i) for i in range(4)]
TASUA_1448, ASHURA_1448 = date(2026, 6, 24), date(2026, 6, 25)
TASUA_1447, ASHURA_1447 = date(2025, 7, 5), date(2025, 7, 6)  # Saturday and Sunday


def test_nowruz_and_tasua_ashura_are_days_off() -> None:
    for day in [*NOWRUZ_1405, TASUA_1448, TASUA_1447, ASHURA_1447]:
        assert not IRAN.is_working_day(day), day
        assert IRAN.is_holiday(day)
    assert {*NOWRUZ_1405, TASUA_1448, ASHURA_1448} <= iran_public_holidays(2026)
    assert {TASUA_1447, ASHURA_1447} <= iran_public_holidays(2025)
    # the same weekdays without the public calendar: ordinary working days
    assert all(WorkCalendar().is_working_day(d) for d in [*NOWRUZ_1405, TASUA_1448])


def test_a_deadline_waits_out_nowruz() -> None:
    # Reported Wednesday 27 Esfand 1404; Thursday off, Friday, then four days of Nowruz:
    # Wednesday 25 March is day 1, Saturday 28 day 2, Sunday 29 March day 3.
    start = datetime(2026, 3, 18, 11, 0, tzinfo=TEHRAN)
    assert IRAN.add_working_days(start, 3) == datetime(2026, 3, 29, 23, 59, 59, tzinfo=TEHRAN)
    assert WorkCalendar().add_working_days(start, 3).date() == date(2026, 3, 23)
    assert IRAN.working_days_between(start.date(), date(2026, 3, 29)) == 3


def test_a_deadline_waits_out_tasua_and_ashura() -> None:
    start = datetime(2026, 6, 23, 9, 0, tzinfo=TEHRAN)  # Tuesday
    assert IRAN.add_working_days(start, 1).date() == date(2026, 6, 27)  # Saturday
    assert IRAN.add_working_days(start, 3).date() == date(2026, 6, 29)  # Monday


def test_local_holidays_add_to_the_public_ones() -> None:
    start = datetime(2026, 3, 18, 11, 0, tzinfo=TEHRAN)
    local = WorkCalendar(
        holidays=frozenset({date(2026, 3, 29), NOWRUZ_1405[0]}),  # one new, one already off
        iran_public=True,
    )
    assert local.add_working_days(start, 3).date() == date(2026, 3, 30)
    assert local.working_days_between(start.date(), date(2026, 3, 30)) == 3


def test_the_public_calendar_is_a_pure_function_of_the_year() -> None:
    assert iran_public_holidays(2026) == iran_public_holidays(2026)
    assert iran_public_holidays(1975) == frozenset()  # before the package's start year
    assert all(d.year == 2026 for d in iran_public_holidays(2026))
    assert 20 <= len(iran_public_holidays(2025)) <= 40


def test_the_calendar_in_force_in_one_line() -> None:
    source = public_holiday_source()
    assert source.startswith("holidays 0.")
    two = frozenset({date(2026, 8, 1), date(2026, 8, 2)})
    assert (
        WorkCalendar(thursday_working=True, holidays=two, iran_public=True).describe()
        == f"Iran public holidays ({source}) + 2 local; Thursday working"
    )
    assert IRAN.describe() == f"Iran public holidays ({source}); Thursday off"
    assert WorkCalendar().describe() == "no holidays besides Fridays; Thursday off"
    assert WorkCalendar(holidays=two).describe() == "2 local; Thursday off"
