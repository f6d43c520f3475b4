"""Cron weekdays as a playbook author means them (cron's Sunday = 0), on APScheduler 3.x."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from crisisd.formats.crontab import parse_cron

TEHRAN = ZoneInfo("Asia/Tehran")
FRIDAY = datetime(2026, 11, 27, 12, 0, tzinfo=TEHRAN)  # a Friday


def fires(expr: str, count: int = 7) -> list[str]:
    trigger = parse_cron(expr, TEHRAN)
    out, last = [], FRIDAY
    for _ in range(count):
        nxt = trigger.get_next_fire_time(None, last)
        assert nxt is not None
        out.append(nxt.strftime("%a"))
        last = nxt.replace(minute=nxt.minute + 1)
    return out


@pytest.mark.parametrize(
    ("expr", "days"),
    [
        ("0 10 * * 0", {"Sun"}),
        ("0 10 * * 7", {"Sun"}),
        ("0 10 * * 6", {"Sat"}),
        ("0 10 * * sat", {"Sat"}),
        ("0 10 * * 0-3", {"Sun", "Mon", "Tue", "Wed"}),
        ("0 10 * * sun-wed", {"Sun", "Mon", "Tue", "Wed"}),
        ("0 10 * * 5-7", {"Fri", "Sat", "Sun"}),
        ("0 10 * * 6,0-3", {"Sat", "Sun", "Mon", "Tue", "Wed"}),
        ("0 10 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
    ],
)
def test_weekdays_follow_cron(expr: str, days: set[str]) -> None:
    assert set(fires(expr, 10)) == days


@pytest.mark.parametrize("expr", ["0 10 * * 3-1", "0 10 * * funday", "0 10 * *", "61 10 * * *"])
def test_bad_cron_is_refused_with_an_example(expr: str) -> None:
    with pytest.raises(ValueError, match="0 10 \\* \\* sat"):
        parse_cron(expr, TEHRAN)
