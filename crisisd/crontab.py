"""Standard 5-field crontab expressions turned into APScheduler 3.x triggers.

APScheduler 3.x numbers weekdays from Monday = 0, unlike cron (Sunday = 0 or 7);
a playbook author writes cron, so numeric weekdays are translated to names here.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DOW_NUMBER = re.compile(r"(?<![/\d])([0-7])(?!\d)")


def _translate_dow(field: str) -> str:
    return _DOW_NUMBER.sub(lambda m: _CRON_DAYS[int(m.group(1))], field.lower())


def parse_cron(expr: str, tz: tzinfo) -> CronTrigger:
    """A CronTrigger for ``expr``; ValueError with a usable message when it is wrong."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron '{expr}' has {len(fields)} fields, expected 5 "
            "(minute hour day-of-month month day-of-week) — e.g. '0 10 * * sat'"
        )
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_translate_dow(dow),
            timezone=tz,
        )
    except ValueError as exc:
        raise ValueError(f"cron '{expr}' is not valid: {exc} — e.g. '0 10 * * sat'") from None
