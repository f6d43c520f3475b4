"""Which open incident an /update, /resolve or /takeover is about.

A Persian keyboard has no Latin letters, so the officer is never asked to type an ID:
without one, the bot offers a button per open incident of their factories; with exactly
one open, it names it and asks for one tap to go on. A typed ID still works. An unknown
ID and another factory's incident get the same answer: nothing is learnt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from crisisd.bot.access import Gate, Person, asked
from crisisd.bot.drafts import Draft, State, drop, keep, pressed, unbutton
from crisisd.bot.labels import at_clock, factory_name, severity_name, type_name, when
from crisisd.bot.replies import send
from crisisd.bot.report import OPEN
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, say
from crisisd.formats.timefmt import ascii_digits
from crisisd.store import IncidentRow

END = ConversationHandler.END
MAX_BUTTONS = 8
Proceed = Callable[[Ctx, Draft, IncidentRow], Awaitable[int]]


class IncidentChooser:
    """The first step of /update, /resolve and /takeover; ``proceed`` takes the chosen one."""

    def __init__(self, rt: BotRuntime, gate: Gate, proceed: Proceed) -> None:
        self.rt = rt
        self.gate = gate
        self.proceed = proceed

    async def begin(self, update: Update, context: Ctx, kind: str) -> int:
        person = await self.gate.officer(update, context, f"/{kind}")
        if person is None:
            return END
        draft = Draft(kind, person.lang, person.user_id, person.contact_id or "")
        raw = ascii_digits(" ".join(context.args or [])).strip().upper()
        if raw:
            row = await self._named(update, context, person, raw[:16])
            if row is None:
                return END
            keep(context, draft)
            return await self.proceed(context, draft, row)
        rows = (await self._open_of(person))[:MAX_BUTTONS]
        if not rows:
            await send(context.bot, person.user_id, say("pick_none", person.lang), person.lang)
            return END
        draft.choices = [r.id for r in rows]
        keep(context, draft)
        text, markup = self._question(draft, rows)
        draft.showing(await send(context.bot, draft.chat_id, text, draft.lang, markup), text)
        return State.INCIDENT

    def _question(self, draft: Draft, rows: list[IncidentRow]) -> tuple[str, InlineKeyboardMarkup]:
        lib, lang = self.rt.lib, draft.lang
        action = say(f"act_{draft.kind}", lang)
        cancel = [draft.button(say("btn_cancel", lang), "x")]
        if len(rows) == 1:
            row = rows[0]
            text = say(
                "pick_the_one",
                lang,
                action=action,
                id=row.id,
                factory=factory_name(lib, row.factory, lang),
                type=self._type(row, lang),
                severity=severity_name(row.severity, lang),
                when=when(lib, row.opened_at, lang),
            )
            yes = [draft.button(say("btn_this_one", lang), "i", 0)]
            return text, InlineKeyboardMarkup([yes, cancel])
        buttons = [
            [
                draft.button(
                    say(
                        "btn_incident",
                        lang,
                        type=self._type(row, lang),
                        time=at_clock(lib, row.opened_at, lang),
                        id=row.id,
                    ),
                    "i",
                    i,
                )
            ]
            for i, row in enumerate(rows)
        ]
        return say("pick_incident", lang, action=action), InlineKeyboardMarkup([*buttons, cancel])

    def _type(self, row: IncidentRow, lang: str) -> Html:
        name = type_name(self.rt.lib, row.factory, row.incident_type, lang)
        tag = say("drill_tag", lang) if row.drill else ""
        return Html(f"{tag}{escape(name, quote=False)}")

    async def on_pick(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        user = update.effective_user
        if got is None or user is None:
            return None
        draft, _action, index = got
        if index is None or not 0 <= index < len(draft.choices):
            return None
        row = await self.rt.ctx.store.get_incident(draft.choices[index])
        if (
            row is None
            or row.status not in OPEN
            or not self.gate.person(user).may_act_for(row.factory)
        ):  # closed (or taken from them) since the buttons were shown
            await unbutton(context.bot, draft)
            drop(context)
            text = say("no_incident", draft.lang, id=draft.choices[index])
            await send(context.bot, draft.chat_id, text, draft.lang)
            return END
        return await self.proceed(context, draft, row)

    async def _named(
        self, update: Update, context: Ctx, person: Person, raw: str
    ) -> IncidentRow | None:
        """The open incident typed after the command, if it is one of this officer's."""
        row = await self.rt.ctx.store.get_incident(raw)
        if row is not None and not person.may_act_for(row.factory):
            await self.gate.refuse(
                update,
                context,
                person,
                asked(update),
                "not_officer_of_factory",
                key="no_incident",
                shown={"id": raw},
                incident=row.id,
            )
            return None
        if row is None or row.status not in OPEN:
            text = say("no_incident", person.lang, id=raw)
            await send(context.bot, person.user_id, text, person.lang)
            return None
        return row

    async def _open_of(self, person: Person) -> list[IncidentRow]:
        rows: list[IncidentRow] = []
        for factory in person.factories:
            rows += await self.rt.ctx.store.list_incidents(OPEN, factory=factory, limit=20)
        return sorted(rows, key=lambda r: r.opened_at, reverse=True)
