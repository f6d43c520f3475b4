"""/status [ID], /help — and the answer to anything else (/tasks: :mod:`.tasks`).

/status lists the open incidents with a button each for its details, so no ID need be
typed on a Persian keyboard (a typed one still works).

Everything here is limited to the officer's own factories; anyone who is not an officer
gets the polite refusal (and an audit entry) whatever they send.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from crisisd.bot.access import Gate, Person, asked
from crisisd.bot.labels import type_name
from crisisd.bot.replies import send
from crisisd.bot.report import OPEN
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.status import detail_text, summary_line
from crisisd.bot.texts import say
from crisisd.formats.timefmt import ascii_digits
from crisisd.store import IncidentRow

MAX_LISTED = 10
DETAIL = "status:"
DETAIL_PATTERN = rf"^{DETAIL}[A-Z0-9-]{{1,16}}$"


class FollowUp:
    """Commands that only read."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def _incidents(
        self, person: Person, statuses: tuple[str, ...] | None
    ) -> list[IncidentRow]:
        rows: list[IncidentRow] = []
        for factory in person.factories:
            rows += await self.rt.ctx.store.list_incidents(statuses, factory=factory, limit=50)
        return sorted(rows, key=lambda r: r.opened_at, reverse=True)

    async def status(self, update: Update, context: Ctx) -> None:
        person = await self.gate.officer(update, context, "/status")
        if person is None:
            return
        lib, lang, store = self.rt.lib, person.lang, self.rt.ctx.store
        raw = ascii_digits(" ".join(context.args or [])).strip().upper()[:16]
        if raw:
            await self._detail(update, context, person, raw)
            return
        rows = await self._incidents(person, OPEN)
        if not rows:
            await send(context.bot, person.user_id, say("status_none", lang), lang)
            return
        lines = [f"<b>{say('status_head', lang)}</b>"]
        buttons = []
        for row in rows[:MAX_LISTED]:
            lines.append(summary_line(lib, row, await store.messages_of(row.id), lang))
            label = say(
                "btn_detail",
                lang,
                id=row.id,
                type=type_name(lib, row.factory, row.incident_type, lang),
            )
            buttons.append([InlineKeyboardButton(label, callback_data=f"{DETAIL}{row.id}")])
        markup = InlineKeyboardMarkup(buttons)
        await send(context.bot, person.user_id, "\n".join(lines), lang, markup)

    async def on_detail(self, update: Update, context: Ctx) -> None:
        """A /status button: that incident's details, as a new message."""
        query = update.callback_query
        if query is None:
            return
        person = await self.gate.officer(update, context, "status:detail")
        if person is None:
            return  # refused (and answered) by the gate
        raw = (query.data or "").removeprefix(DETAIL)[:16]
        await self._detail(update, context, person, raw)

    async def _detail(self, update: Update, context: Ctx, person: Person, raw: str) -> None:
        lib, lang, store = self.rt.lib, person.lang, self.rt.ctx.store
        row = await store.get_incident(raw)
        if row is not None and not person.may_act_for(row.factory):
            await self.gate.refuse(
                update,
                context,
                person,
                "/status",
                "not_officer_of_factory",
                key="no_incident",
                shown={"id": raw},
                incident=row.id,
            )
            return
        if update.callback_query is not None:  # (a refusal answers it itself)
            await update.callback_query.answer()
        if row is None:
            await send(context.bot, person.user_id, say("no_incident", lang, id=raw), lang)
            return
        text = detail_text(lib, row, await store.messages_of(row.id), lang)
        await send(context.bot, person.user_id, text, lang)

    async def help(self, update: Update, context: Ctx) -> None:
        person = await self.gate.officer(update, context, asked(update))
        if person is None:
            return
        names = ", ".join(
            self.rt.lib.playbook(f).factory.name.get(person.lang) for f in person.factories
        )
        await send(context.bot, person.user_id, say("help", person.lang, name=names), person.lang)

    async def cancel(self, update: Update, context: Ctx) -> None:
        """/cancel with nothing going on."""
        person = await self.gate.officer(update, context, "/cancel")
        if person is not None:
            await send(context.bot, person.user_id, say("cancelled", person.lang), person.lang)

    async def anything_else(self, update: Update, context: Ctx) -> None:
        """Officers get the help; everyone else the refusal."""
        await self.help(update, context)
