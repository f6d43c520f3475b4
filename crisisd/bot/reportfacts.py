"""The facts a report asks after its severity: is anyone hurt (none / injured / fatalities /
not known yet), how many (buttons, a typed number, or skip), and where (the playbook's
``factory.locations`` as buttons, a typed place, or skip). Then the details follow.

Each answer edits the same message, like the steps before it; a typed answer (a number, a
place) gets the next question as a new message under it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from crisisd.bot.drafts import Draft, State, draft_of, pressed, unbutton
from crisisd.bot.labels import factory_name, severity_name, type_name
from crisisd.bot.replies import send
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, num, say
from crisisd.domain import CASUALTIES_MAX, LOCATION_LIMIT, Casualties
from crisisd.formats.timefmt import ascii_digits
from crisisd.library.model import Library
from crisisd.templates import clean_user_text

CHOICES = (Casualties.NONE, Casualties.INJURED, Casualties.FATALITIES, Casualties.UNKNOWN)
COUNT_BUTTONS = 10  # 1…10 as buttons; more is typed
Show = Callable[[Ctx, Draft, str, InlineKeyboardMarkup], Awaitable[None]]
Next = Callable[[Ctx, Draft], Awaitable[int]]


def casualties_line(casualties: str | None, count: int | None, lang: str) -> Html:
    """How the officer reads what they reported about casualties."""
    kind = Casualties(casualties or Casualties.UNKNOWN.value)
    if kind in (Casualties.INJURED, Casualties.FATALITIES):
        key = f"cas_{kind.value}" if count else f"cas_{kind.value}_some"
        return say(key, lang, count=count or 0)
    return say(f"cas_{kind.value}", lang)


def facts_text(lib: Library, draft: Draft, *, place: bool = False) -> Html:
    """The report so far: factory, type, severity; casualties once asked; the place once
    decided (``place``)."""
    assert draft.factory is not None
    assert draft.incident_type is not None
    lang = draft.lang
    lines = [
        say(
            "facts_head",
            lang,
            factory=factory_name(lib, draft.factory, lang),
            type=type_name(lib, draft.factory, draft.incident_type, lang),
            severity=severity_name(draft.severity or "", lang),
        )
    ]
    if draft.casualties is not None:
        lines.append(casualties_line(draft.casualties, draft.casualties_count, lang))
    if place:
        lines.append(
            say("place", lang, place=draft.location)
            if draft.location
            else say("place_unknown", lang)
        )
    return Html("\n".join(lines))


def _rows(buttons: list[InlineKeyboardButton], per_row: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


class FactSteps:
    """Casualties → count → place, as PTB callbacks; ``then`` asks what comes next."""

    def __init__(self, rt: BotRuntime, show: Show, then: Next) -> None:
        self.rt = rt
        self.show = show
        self.then = then

    def _tail(self, draft: Draft, skip: str | None = None) -> list[list[InlineKeyboardButton]]:
        last = [draft.button(say("btn_back", draft.lang), "b")]
        last.append(draft.button(say("btn_cancel", draft.lang), "x"))
        return ([[draft.button(say("btn_skip", draft.lang), skip)]] if skip else []) + [last]

    async def ask_casualties(self, context: Ctx, draft: Draft) -> int:
        draft.choices = [c.value for c in CHOICES]
        buttons = [
            draft.button(say(f"btn_cas_{c}", draft.lang), "k", i) for i, c in enumerate(CHOICES)
        ]
        markup = InlineKeyboardMarkup([*_rows(buttons, 2), *self._tail(draft)])
        text = say("ask_casualties", draft.lang, facts=facts_text(self.rt.lib, draft))
        await self.show(context, draft, text, markup)
        return State.CASUALTIES

    async def on_casualties(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        if index is None or not 0 <= index < len(CHOICES):
            return None
        draft.casualties, draft.casualties_count = CHOICES[index].value, None
        if CHOICES[index].countable:
            return await self.ask_count(context, draft)
        return await self.ask_location(context, draft)

    async def ask_count(self, context: Ctx, draft: Draft) -> int:
        numbers = [draft.button(num(n, draft.lang), "n", n) for n in range(1, COUNT_BUTTONS + 1)]
        markup = InlineKeyboardMarkup([*_rows(numbers, 5), *self._tail(draft, "n")])
        text = say("ask_count", draft.lang, facts=facts_text(self.rt.lib, draft))
        await self.show(context, draft, text, markup)
        return State.COUNT

    async def on_count(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        if index is not None and not 1 <= index <= COUNT_BUTTONS:
            return None
        draft.casualties_count = index  # None: skipped
        return await self.ask_location(context, draft)

    async def on_count_text(self, update: Update, context: Ctx) -> int | None:
        draft, message = draft_of(context), update.effective_message
        if draft is None or message is None:
            return None
        raw = ascii_digits(message.text or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= CASUALTIES_MAX:
            await send(
                context.bot,
                draft.chat_id,
                say("count_bad", draft.lang, max=CASUALTIES_MAX),
                draft.lang,
            )
            return None
        draft.casualties_count = int(raw)
        await unbutton(context.bot, draft)
        draft.showing(None, "")  # the next question comes under what they typed
        return await self.ask_location(context, draft)

    async def ask_location(self, context: Ctx, draft: Draft) -> int:
        assert draft.factory is not None
        places = self.rt.lib.playbook(draft.factory).factory.locations
        draft.choices = [p.get(draft.lang) for p in places]
        buttons = [draft.button(name, "l", i) for i, name in enumerate(draft.choices)]
        markup = InlineKeyboardMarkup([*_rows(buttons, 2), *self._tail(draft, "l")])
        text = say(
            "ask_location",
            draft.lang,
            facts=facts_text(self.rt.lib, draft),
            limit=LOCATION_LIMIT,
        )
        await self.show(context, draft, text, markup)
        return State.LOCATION

    async def on_location(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        if index is not None and not 0 <= index < len(draft.choices):
            return None
        draft.location = draft.choices[index] if index is not None else ""
        return await self.then(context, draft)

    async def on_location_text(self, update: Update, context: Ctx) -> int | None:
        draft, message = draft_of(context), update.effective_message
        if draft is None or message is None:
            return None
        place = clean_user_text(message.text or "", LOCATION_LIMIT)
        if not place:
            return None
        draft.location = place
        await unbutton(context.bot, draft)
        draft.showing(None, "")
        return await self.then(context, draft)
