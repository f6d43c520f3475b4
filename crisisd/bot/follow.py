"""/status [ID], /tasks, /help — and the answer to anything else.

Everything here is limited to the officer's own factories; anyone who is not an officer
gets the polite refusal (and an audit entry) whatever they send.
"""

from __future__ import annotations

from telegram import Update

from crisisd.bot.access import Gate, Person, asked
from crisisd.bot.labels import when
from crisisd.bot.replies import send
from crisisd.bot.report import OPEN
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.status import detail_text, summary_line
from crisisd.bot.texts import norm, say
from crisisd.formats.timefmt import ascii_digits
from crisisd.store import IncidentRow

MAX_LISTED = 10


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
            row = await store.get_incident(raw)
            if row is None or not person.may_act_for(row.factory):
                if row is not None:
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
                await send(context.bot, person.user_id, say("no_incident", lang, id=raw), lang)
                return
            text = detail_text(lib, row, await store.messages_of(row.id), lang)
            await send(context.bot, person.user_id, text, lang)
            return
        rows = await self._incidents(person, OPEN)
        if not rows:
            await send(context.bot, person.user_id, say("status_none", lang), lang)
            return
        lines = [f"<b>{say('status_head', lang)}</b>"]
        for row in rows[:MAX_LISTED]:
            lines.append(summary_line(lib, row, await store.messages_of(row.id), lang))
        await send(context.bot, person.user_id, "\n".join(lines), lang)

    async def tasks(self, update: Update, context: Ctx) -> None:
        person = await self.gate.officer(update, context, "/tasks")
        if person is None:
            return
        lang, now = person.lang, self.rt.now()
        mine = {r.id for r in await self._incidents(person, None)}
        tasks = [
            t
            for t in await self.rt.ctx.store.tasks_of(None, open_only=True)
            if t.incident_id in mine
        ]
        if not tasks:
            await send(context.bot, person.user_id, say("tasks_none", lang), lang)
            return
        lines = [
            say(
                "task_line",
                lang,
                title=t.title_fa if norm(lang) == "fa" else t.title_en,
                due=when(self.rt.lib, t.due_at, lang),
                late=say("task_late", lang) if t.due_at < now else "",
                id=t.incident_id,
            )
            for t in tasks[:30]
        ]
        await send(context.bot, person.user_id, "\n".join(lines), lang)

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
