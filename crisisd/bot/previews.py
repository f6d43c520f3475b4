"""The officer's preview of a plan, as Telegram HTML that fits 4096 units in the messenger's
dialect (measured as it will be sent: Bale's Markdown marks take room too).

Per audience: how many people, on which channels, when, whether they must acknowledge;
then the exact statement text that goes to the outside (press, authorities) — or, for
updates and the all-clear, each distinct statement — and the next update time. Only the
statement bodies are shortened to fit, with a note saying so: the counts always show.
"""

from __future__ import annotations

import html as htmllib
import re
from collections import defaultdict
from datetime import datetime
from html import escape

from crisisd.bot.labels import (
    at_clock,
    audience_name,
    factory_name,
    person_name,
    severity_name,
    type_name,
    when,
)
from crisisd.bot.texts import LANG_NAMES, Html, T, channel_name, joined, norm, say
from crisisd.channels.dialects import fit, measure
from crisisd.domain import Dialect, Plan, PlannedMessage
from crisisd.formats.textfit import TELEGRAM_LIMIT
from crisisd.formats.timefmt import duration_words
from crisisd.library.model import Library

_TAGS = re.compile(r"<[^>]+>")
MIN_BODY = 160  # units a statement needs to be worth showing at all
SPARE = 64  # units kept free for RLM, separators and rounding


def _channels(msgs: list[PlannedMessage], lang: str) -> str:
    seen = dict.fromkeys(c for m in msgs for c in m.channels)
    return " → ".join(channel_name(c, lang) for c in seen) or "—"


def _audience_lines(lib: Library, factory: str, plan: Plan, lang: str) -> list[str]:
    by_step: dict[tuple[int, str], list[PlannedMessage]] = defaultdict(list)
    for m in plan.messages:
        by_step[(m.step, m.audience)].append(m)
    start = min((m.not_before for m in plan.messages), default=None)
    lines: list[str] = []
    for (_step, audience), msgs in sorted(by_step.items()):
        first = msgs[0]
        name = audience_name(lib, factory, audience, lang)
        if first.sink_for:
            count = len(lib.playbook(factory).audiences[first.sink_for].members)
            lines.append(say("aud_sink", lang, name=name, count=count))
            continue
        line: str = say(
            "aud_line", lang, name=name, count=len(msgs), channels=_channels(msgs, lang)
        )
        if first.ack_required and first.ack_deadline is not None:
            within = duration_words(first.ack_deadline - first.not_before, norm(lang))
            line += say("aud_ack", lang, within=within)
        if start is not None and first.not_before > start:
            line += say("aud_after", lang, after=duration_words(first.not_before - start, lang))
        lines.append(line)
    return lines


def _skipped(lib: Library, factory: str, steps: list[str], plan: Plan, lang: str) -> list[str]:
    planned = {m.audience for m in plan.messages}
    return [
        say("aud_skipped", lang, name=audience_name(lib, factory, a, lang))
        for a in dict.fromkeys(steps)
        if a not in planned
    ]


def _unreachable(lib: Library, plan: Plan, lang: str) -> list[str]:
    if not plan.unreachable:
        return []
    names = sorted({person_name(lib, who, lang) for _aud, who in plan.unreachable})
    return [say("unreachable", lang, names=joined(names, lang))]


def _plain(msg: PlannedMessage) -> tuple[str, str, str | None]:
    """(channel, plain text, subject) of what ``msg`` sends on its first channel."""
    channel = msg.channels[0]
    r = msg.rendering_for(channel)
    text = r.text
    if r.kind == "chat":
        text = htmllib.unescape(_TAGS.sub("", text))
    return channel, text.strip("\u200f\n "), r.subject


def _statements(
    lib: Library, factory: str, msgs: list[PlannedMessage], lang: str
) -> list[tuple[str, str]]:
    """(heading HTML, plain body) for each distinct template text among ``msgs``."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for m in msgs:
        if not m.channels:
            continue
        channel, body, subject = _plain(m)
        r = m.rendering_for(channel)
        if r.template in seen:
            continue
        seen.add(r.template)
        head = say(
            "statement_head",
            lang,
            audience=audience_name(lib, factory, m.sink_for or m.audience, lang),
            channel=channel_name(channel, lang),
            language=LANG_NAMES[norm(lang)].get(m.lang, m.lang),
        )
        if subject:
            body = T["subject"][norm(m.lang)].format(subject=subject) + "\n" + body
        out.append((head, body))
    return out


def assemble(
    head: list[str],
    statements: list[tuple[str, str]],
    tail: list[str],
    lang: str,
    dialect: Dialect = "telegram_html",
) -> str:
    """``head``, the statements shortened to share what is left of 4096, then ``tail``."""
    fixed = "\n".join([*head, *tail])
    room = TELEGRAM_LIMIT - measure(fixed, dialect) - SPARE
    blocks: list[str] = []
    for i, (title, body) in enumerate(statements):
        left = len(statements) - i
        budget = (room - sum(measure(t, dialect) + 2 for t, _ in statements[i:])) // left
        if budget < MIN_BODY:
            break
        cut = say("statement_cut", lang)
        quoted = fit(escape(body, quote=False), dialect, budget, ellipsis=cut)
        block = f"{title}\n<blockquote expandable>{quoted}</blockquote>"
        room -= measure(block, dialect) + 2
        blocks.append(block)
    return "\n\n".join(p for p in ("\n".join(head), "\n\n".join(blocks), "\n".join(tail)) if p)


def open_preview(
    lib: Library,
    plan: Plan,
    *,
    factory: str,
    incident_type: str,
    severity: str,
    details: str,
    drill: bool,
    lang: str,
    now: datetime,
    dialect: Dialect = "telegram_html",
) -> str:
    """What opening this incident (or drill) sends, before anything is stored."""
    pb = lib.playbook(factory)
    head = [f"<b>{say('preview_title', lang)}</b>"]
    if drill:
        head.append(f"<b>{say('preview_drill', lang)}</b>")
    head.append(
        f"<b>{escape(factory_name(lib, factory, lang))}</b> · "
        f"{escape(type_name(lib, factory, incident_type, lang))} · "
        f"{escape(severity_name(severity, lang))}"
    )
    if details:
        head.append(f"<i>{fit(escape(details, quote=False), dialect, 600)}</i>")
    head += ["", say("who_is_told", lang), *_audience_lines(lib, factory, plan, lang)]
    if drill:
        steps = [s.audience for s in pb.plan_for(incident_type, severity).steps]
        head += _skipped(lib, factory, steps, plan, lang)
    head += _unreachable(lib, plan, lang)
    outside = [m for m in plan.messages if m.external or m.sink_for]
    tail: list[str] = []
    if plan.tasks:
        tail.append(say("tasks_head", lang))
        due = [(t.title_fa if norm(lang) == "fa" else t.title_en, t.due_at) for t in plan.tasks]
        tail += [f"• {escape(title)} — {escape(when(lib, at, lang))}" for title, at in due]
    if plan.next_update_at is not None and plan.update_every is not None:
        every = duration_words(plan.update_every, norm(lang))
        tail.append(
            say("next_update", lang, time=at_clock(lib, plan.next_update_at, lang), every=every)
        )
    return assemble(head, _statements(lib, factory, outside, lang), tail, lang, dialect)


def statement_preview(
    lib: Library,
    factory: str,
    title: Html,
    plan: Plan,
    lang: str,
    dialect: Dialect = "telegram_html",
) -> str:
    """An update, all-clear or referral: who gets it, and each distinct text."""
    head = [f"<b>{title}</b>", ""]
    if plan.messages:
        head += [say("who_is_told", lang), *_audience_lines(lib, factory, plan, lang)]
    else:
        head.append(say("nobody", lang))
    head += _unreachable(lib, plan, lang)
    statements = _statements(lib, factory, list(plan.messages), lang)
    return assemble(head, statements, [], lang, dialect)
