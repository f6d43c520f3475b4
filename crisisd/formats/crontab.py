"""Standard 5-field crontab expressions turned into APScheduler 3.x triggers.

APScheduler 3.x numbers weekdays from Monday = 0, unlike cron (Sunday = 0 or 7);
a playbook author writes cron, so numeric weekdays are translated to names here.
"""

from __future__ import annotations

from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DAY_NUMBER = (
    {name: i for i, name in enumerate(_CRON_DAYS)} | {"7": 0} | {str(i): i for i in range(7)}
)


def _day(token: str) -> int:
    token = token.strip().lower()[:3]
    if token not in _DAY_NUMBER:
        raise ValueError(f"'{token}' is not a weekday — use 0-7 or sun…sat")
    return _DAY_NUMBER[token]


def _translate_dow(field: str) -> str:
    """Cron weekdays (Sunday = 0 or 7, ranges in cron's order) as an explicit list of names.

    Ranges are expanded because APScheduler 3.x orders the week from Monday: a cron range
    such as ``sun-wed`` or ``0-3`` would be empty or refused there.
    """
    if field in ("*", "?"):
        return "*"
    days: list[int] = []
    for part in field.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"step in '{part}' must be at least 1")
        if spec == "*":
            first, last = 0, 6
        elif "-" in spec:
            start, end = spec.split("-", 1)
            first, last = _day(start), _day(end)
            if end.strip() == "7":
                last = 7  # 5-7 is Friday to Sunday
        else:
            first = last = _day(spec)
        if last < first:
            raise ValueError(f"weekday range '{spec}' runs backwards")
        days.extend(d % 7 for d in range(first, last + 1, step))
    return ",".join(_CRON_DAYS[d] for d in sorted(set(days)))


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
