"""Drill scores: how fast and how far a drill's alerts got, and whether that improved.

A score counts the *recipients'* messages: the drill copies of external statements
sent to the reporting officer, and crisisd's notices to the officer, are left out,
since they reach the officer, not the people the drill exercises. The statistics
(time to ack, ack rate, median, nearest-rank p90) are defined in :mod:`crisisd.reports.facts`.

- time to first notification: the first recipient message's ``sent_at`` (the
  ``message.sent`` audit time) minus the incident's ``opened_at``;
- per channel: messages delivered on it, and messages that ended failed with it as
  the last channel tried (failovers that later succeeded elsewhere are not failures);
- never reached: recipients none of whose messages went out, with the last error
  recorded on their messages (a stale number, a bot the person blocked, …);
- the change since the previous drill: this drill's number minus that drill's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from markupsafe import Markup

from crisisd.errors import InvalidReportError
from crisisd.formats.textfit import TELEGRAM_LIMIT, fit_telegram_html
from crisisd.formats.timefmt import is_persian
from crisisd.library.model import Library
from crisisd.playbook import Playbook
from crisisd.redaction import redact
from crisisd.reports.facts import (
    AudienceSummary,
    Name,
    When,
    acks_of,
    audience_name,
    factory_names,
    incident_row,
    incident_rows,
    median,
    nearest_rank,
    number,
    pct,
    person,
    span,
    summarize_audiences,
    when,
)
from crisisd.reports.render import NO_HEAD, Cell, Pair, Section, both, md_document, status_of
from crisisd.store import MessageRow, Store

__all__ = [
    "ChannelTally",
    "DrillDelta",
    "DrillScore",
    "Unreached",
    "drill_score",
    "previous_drill",
    "render_drill_markdown",
    "render_drill_text",
]

RLM = "\u200f"
CHAT_UNREACHED_LINES = 10  # more names do not help in a chat message; the report lists all


@dataclass(frozen=True, slots=True)
class ChannelTally:
    channel: str
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class Unreached:
    """A recipient none of whose messages went out."""

    person: Name
    audiences: tuple[Name, ...]
    last_error: str | None
    status: str  # of their latest message: failed, pending, cancelled


@dataclass(frozen=True, slots=True)
class DrillDelta:
    """This drill's numbers minus the previous drill's; a negative time is an improvement."""

    previous_id: str
    previous_opened: When
    first_notification: timedelta | None
    ack_rate_points: float | None  # percentage points
    p90_ack: timedelta | None
    unreachable: int


@dataclass(frozen=True, slots=True)
class DrillScore:
    incident_id: str
    factory: Name
    scenario: Name
    severity: str
    drill: bool
    status: str
    opened: When
    first_notification: timedelta | None
    channels: tuple[ChannelTally, ...]
    audiences: tuple[AudienceSummary, ...]
    unreachable: tuple[Unreached, ...]
    previous: DrillDelta | None = None

    @property
    def asked(self) -> int:
        return sum(a.asked for a in self.audiences)

    @property
    def acked(self) -> int:
        return sum(a.asked_acked for a in self.audiences)

    @property
    def ack_rate(self) -> float | None:
        """Over every audience membership asked to acknowledge."""
        return self.acked / self.asked if self.asked else None

    @property
    def ack_times(self) -> tuple[timedelta, ...]:
        return tuple(t for a in self.audiences for t in a.ack_times)

    @property
    def median_ack(self) -> timedelta | None:
        return median(self.ack_times)

    @property
    def p90_ack(self) -> timedelta | None:
        return nearest_rank(self.ack_times, 90)


async def previous_drill(store: Store, factory: str, before_id: str) -> str | None:
    """The latest drill of ``factory`` opened before ``before_id``; cancelled drills don't count."""
    before = await incident_row(store, before_id)
    limit = 100
    while True:
        rows = await store.list_incidents(
            statuses=["open", "taken_over", "resolved"], factory=factory, limit=limit
        )
        for row in rows:  # newest first
            if row.drill and row.id != before.id and row.opened_at < before.opened_at:
                return row.id
        if len(rows) < limit:
            return None
        limit *= 4  # all of these were newer than ``before``: look further back


async def drill_score(
    store: Store, lib: Library, incident_id: str, previous_id: str | None
) -> DrillScore:
    """Score a drill and, with ``previous_id`` (see :func:`previous_drill`), compare."""
    score = await _measure(store, lib, incident_id)
    if previous_id is None:
        return score
    prev = await _measure(store, lib, previous_id)
    if prev.factory.id != score.factory.id:
        raise InvalidReportError(
            f"{prev.incident_id} is a drill of {prev.factory.id}, not of {score.factory.id}; "
            "compare drills of the same factory"
        )
    return replace(score, previous=_delta(score, prev))


def _delta(now: DrillScore, prev: DrillScore) -> DrillDelta:
    def minus(a: timedelta | None, b: timedelta | None) -> timedelta | None:
        return None if a is None or b is None else a - b

    rate = None
    if now.ack_rate is not None and prev.ack_rate is not None:
        rate = (now.ack_rate - prev.ack_rate) * 100
    return DrillDelta(
        previous_id=prev.incident_id,
        previous_opened=prev.opened,
        first_notification=minus(now.first_notification, prev.first_notification),
        ack_rate_points=rate,
        p90_ack=minus(now.p90_ack, prev.p90_ack),
        unreachable=len(now.unreachable) - len(prev.unreachable),
    )


def _is_recipient(m: MessageRow) -> bool:
    return not m.sink_for and m.audience != "notice"


async def _measure(store: Store, lib: Library, incident_id: str) -> DrillScore:
    row, messages, trail = await incident_rows(store, incident_id)
    tz = lib.config.zone
    pb, factory, scenario = factory_names(lib, row)
    mine = [m for m in messages if _is_recipient(m)]
    sent = [m.sent_at for m in mine if m.sent_at is not None]
    tallies: dict[str, list[int]] = {}
    for m in mine:
        if m.status == "sent" and m.sent_channel:
            tallies.setdefault(m.sent_channel, [0, 0])[0] += 1
        elif m.status == "failed":
            tallies.setdefault(m.channel or "—", [0, 0])[1] += 1
    return DrillScore(
        incident_id=row.id,
        factory=factory,
        scenario=scenario,
        severity=redact(row.severity),
        drill=row.drill,
        status=row.status,
        opened=when(row.opened_at, tz),
        first_notification=min(sent) - row.opened_at if sent else None,
        channels=tuple(ChannelTally(redact(c), d, f) for c, (d, f) in sorted(tallies.items())),
        audiences=summarize_audiences(pb, mine, acks_of(lib, trail, mine, tz)),
        unreachable=_unreached(lib, pb, mine),
    )


def _unreached(lib: Library, pb: Playbook | None, mine: list[MessageRow]) -> tuple[Unreached, ...]:
    by_person: dict[str, list[MessageRow]] = {}
    for m in sorted(mine, key=lambda m: (m.priority, m.id)):
        by_person.setdefault(m.recipient, []).append(m)
    out = []
    for recipient, ms in by_person.items():
        if any(m.status == "sent" for m in ms):
            continue
        latest = max(ms, key=lambda m: m.id)
        errors = [m.last_error for m in sorted(ms, key=lambda m: m.id) if m.last_error]
        auds = {a.id: a for a in (audience_name(pb, m) for m in ms)}
        out.append(
            Unreached(
                person=person(lib, recipient),
                audiences=tuple(auds.values()),
                last_error=redact(errors[-1]) if errors else None,
                status=latest.status,
            )
        )
    return tuple(out)


# -- rendering --------------------------------------------------------------------------------

_WORDS = {
    "title": ("کارنامهٔ تمرین", "Drill score"),
    "title_real": ("کارنامهٔ حادثه", "Incident score"),
    "first": ("نخستین پیام", "First notification"),
    "after_open": ("پس از گشایش", "after opening"),
    "none_sent": ("هنوز پیامی نرفته است", "nothing sent yet"),
    "channels": ("کانال‌ها", "Channels"),
    "delivered": ("رسید", "delivered"),
    "failed": ("نرسید", "failed"),
    "acks": ("تأیید دریافت", "Acknowledged"),
    "of": ("از", "of"),
    "comma": ("،", ","),
    "median": ("میانه", "median"),
    "no_acks": ("تأییدی خواسته نشده بود", "no acknowledgement was asked for"),
    "unreached": ("دست‌نیافته", "Never reached"),
    "more": ("و {n} نفر دیگر", "and {n} more"),
    "since": ("نسبت به تمرین", "Since drill"),
    "ack_rate": ("نرخ تأیید", "Ack rate"),
    "p90": ("p90 تأیید", "p90 time to ack"),
    "n_unreached": ("دست‌نیافته‌ها", "Never reached"),
    "faster": ("زودتر", "faster"),
    "slower": ("دیرتر", "slower"),
    "same": ("بدون تغییر", "no change"),
    "na": ("قابل مقایسه نیست", "not comparable"),
    "points_up": ("واحد درصد بیشتر", "points higher"),
    "points_down": ("واحد درصد کمتر", "points lower"),
    "people_more": ("نفر بیشتر", "more"),
    "people_fewer": ("نفر کمتر", "fewer"),
}


def _w(key: str, lang: str) -> str:
    return _WORDS[key][0 if is_persian(lang) else 1]


def _time_delta(d: timedelta | None, lang: str) -> str:
    if d is None:
        return _w("na", lang)
    if round(d.total_seconds()) == 0:
        return _w("same", lang)
    return f"{span(d, lang)} {_w('faster' if d < timedelta(0) else 'slower', lang)}"


def _rate_delta(points: float | None, lang: str) -> str:
    if points is None:
        return _w("na", lang)
    if round(points) == 0:
        return _w("same", lang)
    words = _w("points_up" if points > 0 else "points_down", lang)
    return f"{number(abs(round(points)), lang)} {words}"


def _count_delta(n: int, lang: str) -> str:
    if n == 0:
        return _w("same", lang)
    return f"{number(abs(n), lang)} {_w('people_more' if n > 0 else 'people_fewer', lang)}"


def _acks(a: AudienceSummary | DrillScore, lang: str) -> str:
    """E.g. "80% (4 of 5) · median 1 min 15 s · p90 2 min" in the reader's language."""
    asked = a.asked
    acked = a.asked_acked if isinstance(a, AudienceSummary) else a.acked
    if not asked or a.ack_rate is None:
        return _w("no_acks", lang)
    text = f"{pct(a.ack_rate, lang)} ({number(acked, lang)} {_w('of', lang)} {number(asked, lang)})"
    if a.median_ack is not None and a.p90_ack is not None:
        text += f" · {_w('median', lang)} {span(a.median_ack, lang)} · p90 {span(a.p90_ack, lang)}"
    return text


def _audiences(u: Unreached, lang: str) -> str:
    return ("، " if is_persian(lang) else ", ").join(a.get(lang) for a in u.audiences)


def _first(score: DrillScore, lang: str) -> str:
    if score.first_notification is None:
        return _w("none_sent", lang)
    return f"{span(score.first_notification, lang)} {_w('after_open', lang)}"


def _lines(score: DrillScore, lang: str) -> list[str]:
    """The chat message as plain lines (escaped into HTML by the caller)."""
    lines = [
        f"{score.factory.get(lang)} · {score.scenario.get(lang)} ({score.severity})",
        score.opened.get(lang),
        f"{_w('first', lang)}: {_first(score, lang)}",
        f"{_w('channels', lang)}: "
        + " · ".join(
            f"{c.channel} {number(c.delivered, lang)} {_w('delivered', lang)}{_w('comma', lang)} "
            f"{number(c.failed, lang)} {_w('failed', lang)}"
            for c in score.channels
        ),
        f"{_w('acks', lang)}: {_acks(score, lang)}",
        *(f"• {a.audience.get(lang)}: {_acks(a, lang)}" for a in score.audiences if a.asked),
    ]
    if score.unreachable:
        lines.append(f"{_w('unreached', lang)} ({number(len(score.unreachable), lang)}):")
        for u in score.unreachable[:CHAT_UNREACHED_LINES]:
            auds = _audiences(u, lang)
            error = (u.last_error or status_of(u.status).en)[:120]
            lines.append(f"• {u.person.get(lang)} ({auds}) — {error}")
        extra = len(score.unreachable) - CHAT_UNREACHED_LINES
        if extra > 0:
            lines.append(_w("more", lang).format(n=number(extra, lang)))
    d = score.previous
    if d is not None:
        lines += [
            f"{_w('since', lang)} {d.previous_id} ({d.previous_opened.get(lang)}):",
            f"• {_w('first', lang)}: {_time_delta(d.first_notification, lang)}",
            f"• {_w('ack_rate', lang)}: {_rate_delta(d.ack_rate_points, lang)}",
            f"• {_w('p90', lang)}: {_time_delta(d.p90_ack, lang)}",
            f"• {_w('n_unreached', lang)}: {_count_delta(d.unreachable, lang)}",
        ]
    return lines


def render_drill_text(score: DrillScore, lang: str) -> str:
    """A short Telegram-HTML message (escaped, within 4096) for the officer's chat."""
    title = _w("title" if score.drill else "title_real", lang)
    head = Markup("<b>{} {}</b>").format(title, score.incident_id)
    body = Markup("\n").join(Markup("{}").format(line) for line in _lines(score, lang))
    text = str(Markup("{}\n{}").format(head, body))
    if is_persian(lang):
        text = RLM + text  # so Telegram and Bale lay the message out right to left
    return fit_telegram_html(redact(text), TELEGRAM_LIMIT)


def render_drill_markdown(score: DrillScore) -> str:
    """The score as Markdown, both languages, every never-reached contact listed."""
    title = Pair(*_WORDS["title" if score.drill else "title_real"])
    heading = f"{title.fa} {score.incident_id} · {title.en} {score.incident_id}"
    return md_document(heading, score.drill, _sections(score))


def _sections(score: DrillScore) -> list[Section]:
    summary: list[tuple[Cell, ...]] = [
        (Pair("کارخانه", "factory"), score.factory),
        (Pair("سناریو", "scenario"), Pair(score.scenario.fa, score.scenario.en)),
        (Pair("شدت", "severity"), score.severity),
        (Pair("گشایش", "opened"), score.opened),
        (Pair(*_WORDS["first"]), both(lambda lang: _first(score, lang))),
        (Pair(*_WORDS["acks"]), both(lambda lang: _acks(score, lang))),
        (Pair(*_WORDS["unreached"]), str(len(score.unreachable))),
    ]
    out = [
        Section(Pair("خلاصه", "summary"), NO_HEAD, tuple(summary)),
        Section(
            Pair(*_WORDS["channels"]),
            (Pair("کانال", "channel"), Pair(*_WORDS["delivered"]), Pair(*_WORDS["failed"])),
            tuple((c.channel, c.delivered, c.failed) for c in score.channels),
        ),
        Section(
            Pair("تأیید به تفکیک مخاطبان", "acknowledgement per audience"),
            (Pair("مخاطبان", "audience"), Pair("تأیید", "acknowledged")),
            tuple(
                (a.audience, Pair(_acks(a, "fa"), _acks(a, "en")))
                for a in score.audiences
                if a.asked
            ),
        ),
        Section(
            Pair(*_WORDS["unreached"]),
            (Pair("نام", "name"), Pair("مخاطبان", "audiences"), Pair("آخرین خطا", "last error")),
            tuple(
                (
                    u.person,
                    Pair(_audiences(u, "fa"), _audiences(u, "en")),
                    u.last_error or status_of(u.status),
                )
                for u in score.unreachable
            ),
        ),
    ]
    if score.previous is not None:
        out.append(_delta_section(score.previous))
    return out


def _delta_section(d: DrillDelta) -> Section:
    return Section(
        Pair(f"{_WORDS['since'][0]} {d.previous_id}", f"since drill {d.previous_id}"),
        NO_HEAD,
        (
            (Pair("تمرین پیشین", "previous drill"), d.previous_opened),
            (Pair(*_WORDS["first"]), both(lambda g: _time_delta(d.first_notification, g))),
            (Pair(*_WORDS["ack_rate"]), both(lambda g: _rate_delta(d.ack_rate_points, g))),
            (Pair(*_WORDS["p90"]), both(lambda g: _time_delta(d.p90_ack, g))),
            (Pair(*_WORDS["n_unreached"]), both(lambda g: _count_delta(d.unreachable, g))),
        ),
    )
