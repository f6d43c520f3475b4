"""The roll call in the officers' bot: the answer buttons staff press, and /headcount.

A press (``rc:<code>:safe|help``) is recorded for the presser only if the question was
sent to them; the question is then edited to say what was recorded, the buttons kept so
a person can change their answer (the latest wins). ``/headcount [id]`` shows an officer
the live headcount of their newest open incident (or the one named): the counts per
audience, then by name who needs help and who has not answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import structlog
from telegram import Update

from crisisd.bot.access import Gate
from crisisd.bot.replies import send, toast
from crisisd.bot.report import OPEN
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.channels.rollcallbuttons import ROLL_CALL_CALLBACK_PREFIX
from crisisd.domain import Answer, Purpose
from crisisd.errors import PermissionDeniedError, UnknownIncidentError
from crisisd.formats.timefmt import ascii_digits
from crisisd.rollcall.headcount import Headcount, State
from crisisd.rollcall.service import RollCalls

log = structlog.get_logger("crisisd.bot")
PATTERN = f"^{ROLL_CALL_CALLBACK_PREFIX}[0-9a-f]{{24}}:(safe|help)$"
_TOAST = {
    ("fa", "safe"): "ثبت شد: سالم هستید.",
    ("fa", "help"): "ثبت شد: کمک لازم دارید. تیم اضطراری باخبر شد.",
    ("en", "safe"): "Recorded: you are safe.",
    ("en", "help"): "Recorded: you need help. The emergency team has been told.",
}
_NOT_YOURS = {"fa": "این پرسش برای شما نیست.", "en": "This question is not for you."}
_WORDS = {
    "fa": ("حضور و غیاب", "سالم", "کمک لازم", "بی‌پاسخ", "دسترس‌ناپذیر", "هیچ حادثهٔ بازی نیست."),
    "en": ("Roll call", "safe", "need help", "no answer", "unreachable", "No open incident."),
}


class RollCallButton:
    """PTB callback for the roll-call buttons."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def __call__(self, update: Update, context: Ctx) -> None:
        query, user = update.callback_query, update.effective_user
        if query is None or user is None:
            return
        _, code, raw = (query.data or "").split(":")
        person = self.gate.person(user)
        lang = person.lang if person.lang in ("fa", "en") else "en"
        if person.contact_id is None:
            await query.answer(toast(_NOT_YOURS[lang]), show_alert=True)
            return
        rc = RollCalls(self.rt.ctx.service)
        try:
            done = await rc.answer_code(code, Answer(raw), self.rt.messenger, person.contact_id)
        except (PermissionDeniedError, UnknownIncidentError):
            await query.answer(toast(_NOT_YOURS[lang]), show_alert=True)
            return
        log.info("bot.roll_call", incident_id=done.incident_id, outcome=done.outcome)
        await query.answer(toast(_TOAST[(lang, raw)]))


def headcount_text(
    incident_id: str,
    count: Headcount,
    names: dict[str, str],
    lang: str,
    named: tuple[State, ...] = (State.HELP, State.NO_ANSWER, State.UNREACHABLE),
) -> str:
    """The headcount as Telegram HTML (names escaped): totals, audiences, then the names of
    the people in the ``named`` states."""
    title, safe, need, silent, lost, _ = _WORDS[lang]
    t = count.total

    def line(label: str, tally: object) -> str:
        parts = [getattr(tally, k) for k in ("safe", "help", "no_answer", "unreachable")]
        return (
            f"{escape(label)}: ✅ {parts[0]} {safe} · 🆘 {parts[1]} {need} · "
            f"⏳ {parts[2]} {silent} · ⛔ {parts[3]} {lost}"
        )

    out = [f"<b>{title} — {escape(incident_id)}</b>", line("∑", t)]
    out += [line(aud, tally) for aud, tally in sorted(count.by_audience.items())]
    for state, mark in ((State.HELP, "🆘"), (State.NO_ANSWER, "⏳"), (State.UNREACHABLE, "⛔")):
        people = count.named(state) if state in named else []
        if people:
            shown = [
                escape(names.get(p.contact, p.contact))
                + (f" ({escape(p.location)})" if p.location else "")
                for p in people[:50]
            ]
            out.append(f"{mark} " + "، ".join(shown) + (" …" if len(people) > 50 else ""))
    return "\n".join(out)


class HeadcountCommand:
    """``/headcount [incident id]`` for officers."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def __call__(self, update: Update, context: Ctx) -> None:
        person = await self.gate.officer(update, context, "/headcount")
        if person is None:
            return
        lang = person.lang if person.lang in ("fa", "en") else "en"
        store = self.rt.ctx.store
        wanted = ascii_digits(" ".join(context.args or [])).strip().upper()[:16]
        rows = []
        for factory in person.factories:
            rows += await store.list_incidents(None if wanted else OPEN, factory=factory)
        rows = [r for r in rows if not wanted or r.id == wanted]
        if not rows:
            await send(context.bot, person.user_id, _WORDS[lang][5], lang)
            return
        row = max(rows, key=lambda r: r.opened_at)
        count = await RollCalls(self.rt.ctx.service).headcount(row.id)
        lib = self.rt.lib
        names = {cid: c.name.get(lang) for cid, c in lib.directory.contacts.items()}
        await send(context.bot, person.user_id, headcount_text(row.id, count, names, lang), lang)


async def progress_tail(
    rt: BotRuntime, incident_id: str, prefixes: Sequence[str], lang: str
) -> tuple[str, bool]:
    """The headcount under an opened incident's progress message ("" for other progress
    messages and incidents without a roll call), and whether people are still to answer
    (the message is then followed until they have, or its window ends)."""
    opening = f"/{Purpose.ALERT.value}/0/"
    if not any(p.endswith(opening) for p in prefixes):
        return "", False
    count = await RollCalls(rt.ctx.service).headcount(incident_id)
    if count.total.total == 0:
        return "", False
    names = {cid: c.name.get(lang) for cid, c in rt.lib.directory.contacts.items()}
    text = headcount_text(incident_id, count, names, lang, named=(State.HELP,))
    return "\n\n" + text, count.total.no_answer > 0
