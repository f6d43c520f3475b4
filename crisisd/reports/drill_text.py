"""A drill score in words: the officer's message (Telegram HTML, one message) and the
Markdown/HTML report sections, in Persian and English."""

from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup

from crisisd.formats.textfit import TELEGRAM_LIMIT, fit_telegram_html
from crisisd.formats.timefmt import is_persian
from crisisd.planning.render import SEVERITY_NAMES
from crisisd.redaction import redact
from crisisd.reports.drill import DrillDelta, DrillScore, FirstChoice, Unreached
from crisisd.reports.facts import AudienceSummary, number, pct, span
from crisisd.reports.render import NO_HEAD, Cell, Pair, Section, both, md_document, status_of
from crisisd.reports.rollcall import drill_delta_lines, drill_lines

__all__ = ["render_drill_markdown", "render_drill_text"]

RLM = "\u200f"
CHAT_UNREACHED_LINES = 10  # more names do not help in a chat message; the report lists all

_WORDS = {
    "title": ("کارنامهٔ تمرین", "Drill score"),
    "title_real": ("کارنامهٔ حادثه", "Incident score"),
    "first": ("نخستین پیام", "First notification"),
    "after_open": ("پس از گشایش", "after opening"),
    "none_sent": ("هنوز پیامی نرفته است", "nothing sent yet"),
    "channels": ("کانال‌ها", "Channels"),
    # "sent", not "delivered": a provider accepting a message is not a person receiving it.
    "delivered": ("فرستاده", "sent"),
    "failed": ("ناموفق", "failed"),
    "acks": ("تأیید دریافت", "Acknowledged"),
    "of": ("از", "of"),
    "comma": ("،", ","),
    "sep": (" — ", " · "),  # "·" looks like the Persian zero "۰"
    "median": ("میانه", "median"),
    "no_acks": ("تأییدی خواسته نشده بود", "no acknowledgement was asked for"),
    "unreached": ("دست‌نیافته", "Never reached"),
    "more": ("و {n} نفر دیگر", "and {n} more"),
    "since": ("نسبت به تمرین", "Since drill"),
    "ack_rate": ("نرخ تأیید", "Ack rate"),
    "p90": ("زمان تأیید ۹۰٪ افراد", "time for 90% to acknowledge"),
    "p90_short": ("۹۰٪ تا", "p90"),
    "silent": ("تأیید نکردند", "Did not acknowledge"),
    "n_unreached": ("دست‌نیافته‌ها", "Never reached"),
    "faster": ("زودتر", "faster"),
    "slower": ("دیرتر", "slower"),
    "same": ("بدون تغییر", "no change"),
    "na": ("قابل مقایسه نیست", "not comparable"),
    "points_up": ("واحد درصد بیشتر", "points higher"),
    "points_down": ("واحد درصد کمتر", "points lower"),
    "people_more": ("نفر بیشتر", "more"),
    "people_fewer": ("نفر کمتر", "fewer"),
    "first_choice": ("رسیده با کانال نخست", "Reached on the first-choice channel"),
    "on": ("با", "on"),
    "stale": ("ربات را مسدود کرده‌اند", "Blocked the bot"),
}


CHANNEL_NAMES = {
    "bale": ("بله", "Bale"),
    "telegram": ("تلگرام", "Telegram"),
    "sms": ("پیامک", "SMS"),
    "email": ("ایمیل", "email"),
}


def _channel(name: str, lang: str) -> str:
    pair = CHANNEL_NAMES.get(name)
    return name if pair is None else pair[0 if is_persian(lang) else 1]


def _severity(severity: str, lang: str) -> str:
    return SEVERITY_NAMES.get(severity, {}).get("fa" if is_persian(lang) else "en", severity)


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
        sep = _w("sep", lang)
        text += f"{sep}{_w('median', lang)} {span(a.median_ack, lang)}"
        text += f"{sep}{_w('p90_short', lang)} {span(a.p90_ack, lang)}"
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
        f"{score.factory.get(lang)}{_w('sep', lang)}{score.scenario.get(lang)}"
        f" ({_severity(score.severity, lang)})",
        score.opened.get(lang),
        f"{_w('first', lang)}: {_first(score, lang)}",
        f"{_w('channels', lang)}: "
        + _w("sep", lang).join(
            f"{_channel(c.channel, lang)} {number(c.delivered, lang)} {_w('delivered', lang)}"
            f"{_w('comma', lang)} {number(c.failed, lang)} {_w('failed', lang)}"
            for c in score.channels
        ),
        f"{_w('acks', lang)}: {_acks(score, lang)}",
        *(f"• {a.audience.get(lang)}: {_acks(a, lang)}" for a in score.audiences if a.asked),
    ]
    if score.unreachable:
        lines.append(f"{_w('unreached', lang)} ({number(len(score.unreachable), lang)}):")
        for u in score.unreachable[:CHAT_UNREACHED_LINES]:
            auds = _audiences(u, lang)
            # A provider's reason is English; the Persian message says what happened.
            error = status_of(u.status).fa if is_persian(lang) else u.last_error or u.status
            error = error[:120]
            lines.append(f"• {u.person.get(lang)} ({auds}) — {error}")
        extra = len(score.unreachable) - CHAT_UNREACHED_LINES
        if extra > 0:
            lines.append(_w("more", lang).format(n=number(extra, lang)))
    lines += _reach_lines(score, lang)
    if score.silent:
        lines.append(f"{_w('silent', lang)} ({number(len(score.silent), lang)}):")
        names = [s.get(lang) for s in score.silent[:CHAT_UNREACHED_LINES]]
        lines.append("• " + (_w("comma", lang) + " ").join(names))
        extra = len(score.silent) - CHAT_UNREACHED_LINES
        if extra > 0:
            lines.append(_w("more", lang).format(n=number(extra, lang)))
    if score.roll_call is not None:
        lines += drill_lines(score.roll_call, lang)
        lines += drill_delta_lines(score.roll_call, score.previous_roll_call, lang)
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


def _first_choice(f: FirstChoice, lang: str) -> str:
    """E.g. "67% (2 of 3) on Bale"."""
    if f.share is None:
        return _w("na", lang)
    counts = f"{number(f.reached, lang)} {_w('of', lang)} {number(f.members, lang)}"
    return f"{pct(f.share, lang)} ({counts}) {_w('on', lang)} {_channel(f.channel, lang)}"


def _reach_lines(score: DrillScore, lang: str) -> list[str]:
    lines = []
    if score.first_choice:
        lines.append(f"{_w('first_choice', lang)}:")
        lines += [f"• {f.audience.get(lang)}: {_first_choice(f, lang)}" for f in score.first_choice]
    if score.stale:
        names = [s.get(lang) for s in score.stale[:CHAT_UNREACHED_LINES]]
        lines.append(
            f"{_w('stale', lang)} ({number(len(score.stale), lang)}): "
            + (_w("comma", lang) + " ").join(names)
        )
        extra = len(score.stale) - CHAT_UNREACHED_LINES
        if extra > 0:
            lines.append(_w("more", lang).format(n=number(extra, lang)))
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
    text = md_document(heading, score.drill, _sections(score))
    return text if score.roll_call is None else f"{text}\n{redact(score.roll_call.markdown())}"


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
    if score.first_choice or score.stale:
        out.append(_reach_section(score))
    if score.previous is not None:
        out.append(_delta_section(score.previous))
    return out


def _reach_section(score: DrillScore) -> Section:
    rows: list[tuple[Cell, ...]] = [
        (f.audience, Pair(_first_choice(f, "fa"), _first_choice(f, "en")))
        for f in score.first_choice
    ]
    if score.stale:
        names = Pair("، ".join(s.fa for s in score.stale), ", ".join(s.en for s in score.stale))
        rows.append((Pair(*_WORDS["stale"]), names))
    head = (Pair("مخاطبان", "audience"), Pair(*_WORDS["first_choice"]))
    return Section(Pair("دسترسی", "reachability"), head, tuple(rows))


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
