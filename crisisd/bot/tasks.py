"""/tasks: the follow-up tasks still owed at the officer's factories, grouped under their
incident, each with a button that marks it done.

A task marked done, and every task of a resolved or cancelled incident, leaves the list
and is not reminded again (the store's ``tasks_due`` skips them). The list is edited in
place after each press, so it always shows what is left.
"""

from __future__ import annotations

from collections import defaultdict

import structlog
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from crisisd.bot.access import Gate, Person
from crisisd.bot.labels import factory_name, type_name, when
from crisisd.bot.replies import edit, send, toast
from crisisd.bot.report import OPEN
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import norm, say
from crisisd.errors import NotFoundError, PermissionDeniedError, StoreError
from crisisd.redaction import redact
from crisisd.store import IncidentRow, TaskRow

log = structlog.get_logger("crisisd.bot")
PREFIX = "task:"
PATTERN = rf"^{PREFIX}\d{{1,12}}$"
MAX_LISTED = 30
LABEL_LIMIT = 40  # characters of a task's title on its button


class TaskList:
    """/tasks and its buttons."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def command(self, update: Update, context: Ctx) -> None:
        person = await self.gate.officer(update, context, "/tasks")
        if person is None:
            return
        text, markup = await self.listing(person)
        await send(context.bot, person.user_id, text, person.lang, markup)

    async def done(self, update: Update, context: Ctx) -> None:
        """A task's button: mark it done, say so, show what is left."""
        query = update.callback_query
        if query is None:
            return
        person = await self.gate.officer(update, context, "task:done")
        if person is None or person.contact_id is None:
            return  # refused (and answered) by the gate
        task_id = int((query.data or "").removeprefix(PREFIX))
        lang = person.lang
        try:
            result = await self.rt.ctx.service.complete_task(task_id, person.contact_id)
        except (NotFoundError, PermissionDeniedError):
            # Another factory's task gets the same answer as a missing one: nothing is learnt.
            await query.answer(toast(say("task_gone", lang)), show_alert=True)
            return
        except StoreError as exc:  # not recorded: the officer must know to press again
            log.warning("bot.task_not_recorded", error=redact(str(exc))[:300])
            await query.answer(toast(say("not_recorded", lang)), show_alert=True)
            return
        title = _title(result.task, lang)
        answer = say("task_done", lang, title=title) if result.new else say("task_gone", lang)
        await query.answer(toast(answer))
        if result.new:
            log.info("bot.task_done", incident_id=result.task.incident_id, task_id=task_id)
        text, markup = await self.listing(person)
        message = query.message
        edited = message is not None and await edit(
            context.bot, message.chat.id, message.message_id, text, lang, markup
        )
        if result.new and not edited:  # (an unchanged list is refused as "not modified")
            await send(context.bot, person.user_id, text, lang, markup)

    async def listing(self, person: Person) -> tuple[str, InlineKeyboardMarkup | None]:
        """The open tasks of the officer's open incidents, under a heading per incident."""
        lib, lang, now, store = self.rt.lib, person.lang, self.rt.now(), self.rt.ctx.store
        incidents: dict[str, IncidentRow] = {}
        for factory in person.factories:
            for row in await store.list_incidents(OPEN, factory=factory, limit=50):
                incidents[row.id] = row
        by_incident: dict[str, list[TaskRow]] = defaultdict(list)
        for task in await store.tasks_of(None, open_only=True, live_only=True):
            if task.incident_id in incidents:
                by_incident[task.incident_id].append(task)
        if not by_incident:
            return say("tasks_none", lang), None
        lines, buttons, listed = [f"<b>{say('tasks_title', lang)}</b>"], [], 0
        order = sorted(by_incident, key=lambda i: incidents[i].opened_at, reverse=True)
        for incident_id in order:
            row = incidents[incident_id]
            heading = say(
                "tasks_incident",
                lang,
                id=row.id,
                factory=factory_name(lib, row.factory, lang),
                type=type_name(lib, row.factory, row.incident_type, lang),
                when=when(lib, row.opened_at, lang),
            )
            lines += ["", heading]
            for task in by_incident[incident_id][: MAX_LISTED - listed]:
                late = say("task_late", lang) if task.due_at < now else ""
                due = when(lib, task.due_at, lang)
                lines.append(say("task_line", lang, title=_title(task, lang), due=due, late=late))
                label = say("btn_task_done", lang, title=_short(_title(task, lang)))
                buttons.append([InlineKeyboardButton(label, callback_data=f"{PREFIX}{task.id}")])
                listed += 1
        lines += ["", say("tasks_hint", lang)]
        return "\n".join(lines), InlineKeyboardMarkup(buttons)


def _title(task: TaskRow, lang: str) -> str:
    return task.title_fa if norm(lang) == "fa" else task.title_en


def _short(title: str) -> str:
    return title if len(title) <= LABEL_LIMIT else title[: LABEL_LIMIT - 1] + "…"
