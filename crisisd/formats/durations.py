"""Durations and due times as playbook authors write them.

``parse_duration`` reads "90s", "5m", "2h", "1d", "1h30m", "1h 30m" and "0"; it
also reads the words ``timefmt.duration_words`` writes ("1 hour 30 minutes",
"۱ ساعت و ۳۰ دقیقه"), so text shown to people can be pasted back. Units go from
largest to smallest, each at most once. A bare number other than 0 is refused:
YAML turns ``timeout: 5`` into an int, and nobody can tell whether 5 meant
seconds or minutes.

``parse_due`` reads either a duration or a count of working days ("3 working
days", "۳ روز کاری"), which ``workweek.WorkCalendar.add_working_days`` resolves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from crisisd.formats.timefmt import ascii_digits, normalize_persian

_EXAMPLES = "write e.g. 30s, 5m, 2h, 1d or 1h30m"
_DUE_EXAMPLES = "write e.g. 30m, 4h, 1d, or 3 working days (۳ روز کاری)"

# Unit words in the order they must appear, each mapped to its size in seconds.
_UNITS: tuple[tuple[frozenset[str], int], ...] = (
    (frozenset({"d", "day", "days", "روز"}), 86400),
    (frozenset({"h", "hr", "hrs", "hour", "hours", "ساعت"}), 3600),
    (frozenset({"m", "min", "mins", "minute", "minutes", "دقیقه"}), 60),
    (frozenset({"s", "sec", "secs", "second", "seconds", "ثانیه"}), 1),
)
_UNIT_RANK = {word: rank for rank, (words, _) in enumerate(_UNITS) for word in words}

# A part is a number and a unit word; parts may be separated by spaces, commas or "and"/"و".
_PART = re.compile(r"([0-9]+)\s*([^\W\d_]+)")
_SEP = re.compile(r"\s*(?:(?:,|،|\band\b|\bو)\s*)?")
_WORKING_DAYS = re.compile(
    r"([0-9]+)\s*(?:working\s+days?|work\s*days?|business\s+days?|روز\s+کاری)",
)


@dataclass(frozen=True, slots=True)
class Due:
    """When something is due: after a plain duration, or after N working days.

    Exactly one of the two is set.
    """

    delta: timedelta | None = None
    working_days: int | None = None

    def __post_init__(self) -> None:
        if (self.delta is None) == (self.working_days is None):
            raise ValueError("a Due needs exactly one of delta and working_days")
        if self.delta is not None and self.delta < timedelta(0):
            raise ValueError(f"a Due cannot be negative, got {self.delta}")
        if self.working_days is not None and self.working_days < 1:
            raise ValueError(f"a Due needs at least 1 working day, got {self.working_days}")


def parse_duration(text: str | int) -> timedelta:
    """Read a duration such as "5m", "1h30m" or "0"; raise ``ValueError`` saying how to fix it."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text == 0:
            return timedelta(0)
        raise ValueError(f"{text} has no unit — write a unit, e.g. 5m (or {text}s)")
    # Anything else YAML hands over (a float, a bool) is read as text and fails there.
    clean = _clean(str(text))
    if clean.startswith("-"):
        raise ValueError(f"{text!r} is negative — a duration is 0 or more; {_EXAMPLES}")
    if clean.isascii() and clean.isdigit():
        if int(clean) == 0:
            return timedelta(0)
        raise ValueError(f"{text!r} has no unit — write a unit, e.g. 5m (or {clean}s)")
    seconds = _parse_parts(clean)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration — {_EXAMPLES}")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration — {_EXAMPLES}") from None


def parse_due(text: str | int) -> Due:
    """Read a due time: a duration ("4h") or working days ("3 working days", "۳ روز کاری")."""
    clean = _clean(str(text))
    match = _WORKING_DAYS.fullmatch(clean)
    if match is not None:
        count = int(match.group(1))
        if count < 1:
            raise ValueError(f"{text!r} is no working days at all — {_DUE_EXAMPLES}")
        return Due(working_days=count)
    try:
        return Due(delta=parse_duration(text))
    except ValueError as exc:
        if "working" in clean or "کاری" in clean:
            raise ValueError(f"{text!r} is not a due time — {_DUE_EXAMPLES}") from None
        raise ValueError(f"{exc}; or, for a due time, write e.g. 3 working days") from None


def format_duration(d: timedelta) -> str:
    """Canonical short form, e.g. "1h30m", "2d", "0s"; what ``parse_duration`` reads back.

    Parts below a second are dropped: no playbook timer is that fine.
    """
    if d < timedelta(0):
        raise ValueError(f"cannot write a negative duration ({d})")
    total = d.days * 86400 + d.seconds
    if total == 0:
        return "0s"
    out = []
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            out.append(f"{count}{suffix}")
    return "".join(out)


def _clean(text: str) -> str:
    """Digits in ASCII, Persian letters in Persian form, ZWNJ as space, lower case, trimmed."""
    return normalize_persian(ascii_digits(text)).replace("\u200c", " ").strip().lower()


def _parse_parts(text: str) -> int | None:
    """Total seconds of "1h 30m"-style text, or None when it is not that shape."""
    pos, total, last_rank = 0, 0, -1
    while pos < len(text):
        if pos:
            sep = _SEP.match(text, pos)
            pos = sep.end() if sep else pos
        part = _PART.match(text, pos)
        if part is None:
            return None
        rank = _UNIT_RANK.get(part.group(2))
        if rank is None or rank <= last_rank:
            return None
        total += int(part.group(1)) * _UNITS[rank][1]
        pos, last_rank = part.end(), rank
    return total if last_rank >= 0 else None
