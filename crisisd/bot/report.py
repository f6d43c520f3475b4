"""/report: factory (when several) → incident type → severity → details → preview.

Each tap edits the same message (no new message per step, so an officer's chat stays
short and Telegram's one-message-per-second limit never bites); the typed details get a
new message: the preview with Confirm / Edit / Cancel. An open incident of the same type
at the same factory makes the bot offer an update to it instead. What happens on Confirm
lives in :mod:`crisisd.bot.actions`.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import ConversationHandler

from crisisd.bot.access import Gate, Person
from crisisd.bot.drafts import Draft, State, draft_of, keep, pressed, unbutton
from crisisd.bot.dryrun import open_plan, update_plan
from crisisd.bot.labels import factory_name, severity_name, type_name, when
from crisisd.bot.previews import open_preview, statement_preview
from crisisd.bot.replies import edit, send
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, say
from crisisd.domain import DETAILS_LIMIT, IncidentStatus
from crisisd.store import IncidentRow
from crisisd.templates import clean_user_text

END = ConversationHandler.END
OPEN = (IncidentStatus.OPEN.value, IncidentStatus.TAKEN_OVER.value)


class ReportFlow:
    """The steps of /report, as PTB callbacks."""

    def __init__(self, rt: BotRuntime, gate: Gate) -> None:
        self.rt = rt
        self.gate = gate

    async def start(self, update: Update, context: Ctx) -> int:
        person = await self.gate.officer(update, context, "/report")
        if person is None:
            return END
        draft = Draft("report", person.lang, person.user_id, reporter=person.contact_id or "")
        keep(context, draft)
        if len(person.factories) == 1:
            draft.factory = person.factories[0]
            text, markup = self._types(draft)
            state = State.TYPE
        else:
            draft.choices = list(person.factories)
            names = [factory_name(self.rt.lib, f, person.lang) for f in draft.choices]
            text, markup = say("choose_factory", person.lang), draft.pick(names, "f", 1)
            state = State.FACTORY
        draft.showing(await send(context.bot, draft.chat_id, text, draft.lang, markup), text)
        return state

    def _types(self, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
        assert draft.factory is not None
        pb = self.rt.lib.playbook(draft.factory)
        draft.choices = list(pb.incidents)
        labels = [t.name.get(draft.lang) for t in pb.incidents.values()]
        name = factory_name(self.rt.lib, draft.factory, draft.lang)
        return say("choose_type", draft.lang, factory=name), draft.pick(labels, "t")

    def _severities(self, draft: Draft) -> tuple[str, InlineKeyboardMarkup]:
        assert draft.factory is not None
        assert draft.incident_type is not None
        pb = self.rt.lib.playbook(draft.factory)
        draft.choices = list(pb.incidents[draft.incident_type].severities)
        labels = [severity_name(s, draft.lang) for s in draft.choices]
        text = say(
            "choose_severity",
            draft.lang,
            factory=factory_name(self.rt.lib, draft.factory, draft.lang),
            type=type_name(self.rt.lib, draft.factory, draft.incident_type, draft.lang),
        )
        return text, draft.pick(labels, "s", 3)

    async def _show(
        self, context: Ctx, draft: Draft, text: str, markup: InlineKeyboardMarkup
    ) -> None:
        """Turn the live message into the next step, or send the step when there is none."""
        bot = context.bot
        if draft.message_id is not None and await edit(
            bot, draft.chat_id, draft.message_id, text, draft.lang, markup
        ):
            draft.showing(draft.message_id, text)
            return
        draft.showing(await send(bot, draft.chat_id, text, draft.lang, markup), text)

    def _choice(self, draft: Draft, index: int | None) -> str | None:
        if index is None or not 0 <= index < len(draft.choices):
            return None
        return draft.choices[index]

    async def on_factory(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        person = self.person_of(update)
        factory = self._choice(draft, index)
        if factory is None or person is None or not person.may_act_for(factory):
            return None
        draft.factory = factory
        await self._show(context, draft, *self._types(draft))
        return State.TYPE

    async def on_type(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        incident_type = self._choice(draft, index)
        if incident_type is None:
            return None
        draft.incident_type = incident_type
        return await self.ask_duplicate_or(context, draft, State.SEVERITY)

    async def ask_duplicate_or(self, context: Ctx, draft: Draft, then: State) -> int:
        """Offer an update when the same kind of incident is open here; else go to ``then``."""
        twin = await self.open_twin(draft)
        if twin is not None:
            lang = draft.lang
            text = say(
                "duplicate",
                lang,
                type=type_name(self.rt.lib, twin.factory, twin.incident_type, lang),
                factory=factory_name(self.rt.lib, twin.factory, lang),
                id=twin.id,
                when=when(self.rt.lib, twin.opened_at, lang),
            )
            draft.choices = [twin.id]
            markup = InlineKeyboardMarkup(
                [
                    [draft.button(say("btn_dup_update", lang, id=twin.id), "u", 0)],
                    [draft.button(say("btn_dup_new", lang), "n", 0)],
                    [draft.button(say("btn_cancel", lang), "x")],
                ]
            )
            await self._show(context, draft, text, markup)
            return State.DUPLICATE
        if then == State.SEVERITY:
            await self._show(context, draft, *self._severities(draft))
        return then

    async def open_twin(self, draft: Draft) -> IncidentRow | None:
        """An open, real incident of the draft's type at its factory, not waved through."""
        rows = await self.rt.ctx.store.list_incidents(OPEN, factory=draft.factory, limit=50)
        for row in rows:
            if (
                row.incident_type == draft.incident_type
                and not row.drill
                and row.id not in draft.not_duplicates
            ):
                return row
        return None

    async def on_duplicate(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, action, index = got
        twin = self._choice(draft, index)
        if twin is None:
            return None
        if action == "n":
            draft.not_duplicates.add(twin)
            if draft.details:  # asked again at Confirm: show the preview again
                await unbutton(context.bot, draft)
                return await self.show_preview(context, draft)
            await self._show(context, draft, *self._severities(draft))
            return State.SEVERITY
        row = await self.rt.ctx.store.get_incident(twin)
        if row is None or row.status not in OPEN:
            return None
        draft.kind, draft.incident_id, draft.details = "update", row.id, ""
        return await self.ask_details(context, draft, row)

    async def on_severity(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft, _action, index = got
        severity = self._choice(draft, index)
        if severity is None:
            return None
        draft.severity = severity
        return await self.ask_details(context, draft)

    async def ask_details(self, context: Ctx, draft: Draft, row: IncidentRow | None = None) -> int:
        """Turn the live message into the question for free text."""
        lib, lang = self.rt.lib, draft.lang
        if draft.kind == "update":
            if row is None:
                assert draft.incident_id is not None
                row = await self.rt.ctx.store.get_incident(draft.incident_id)
            number = (row.update_number if row else 0) + 1
            text = say("ask_update", lang, number=number, id=draft.incident_id, limit=DETAILS_LIMIT)
            markup = draft.cancel_only()
        else:
            assert draft.factory is not None
            assert draft.incident_type is not None
            text = say(
                "ask_details",
                lang,
                factory=factory_name(lib, draft.factory, lang),
                type=type_name(lib, draft.factory, draft.incident_type, lang),
                severity=severity_name(draft.severity or "", lang),
                limit=DETAILS_LIMIT,
            )
            markup = draft.cancel_only(back=True)
        await self._show(context, draft, text, markup)
        return State.DETAILS

    async def on_back(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft = got[0]
        if draft.kind != "report":
            return None
        draft.severity = None
        await self._show(context, draft, *self._types(draft))
        return State.TYPE

    async def on_edit(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft = got[0]
        await unbutton(context.bot, draft)
        draft.showing(None, "")
        return await self.ask_details(context, draft)

    async def on_details(self, update: Update, context: Ctx) -> int | None:
        draft, message = draft_of(context), update.effective_message
        if draft is None or message is None:
            return END
        raw = message.text or ""
        details = clean_user_text(raw, DETAILS_LIMIT)
        if not details:
            await send(context.bot, draft.chat_id, say("details_empty", draft.lang), draft.lang)
            return None
        draft.details = details
        notes = ""
        if len(clean_user_text(raw, DETAILS_LIMIT + 1)) > DETAILS_LIMIT:
            notes = say("details_cut", draft.lang, limit=DETAILS_LIMIT) + "\n\n"
        await unbutton(context.bot, draft)
        return await self.show_preview(context, draft, notes)

    async def show_preview(self, context: Ctx, draft: Draft, notes: str = "") -> int:
        """Send the preview with Confirm / Edit / Cancel."""
        preview = await self.preview(draft)
        if preview is None:
            return END
        text = notes + preview
        draft.showing(
            await send(context.bot, draft.chat_id, text, draft.lang, draft.confirm()), text
        )
        return State.CONFIRM

    async def preview(self, draft: Draft) -> str | None:
        """The preview of what Confirm would send for a report, drill or update."""
        lib, now = self.rt.lib, self.rt.now()
        if draft.kind == "update":
            assert draft.incident_id is not None
            row = await self.rt.ctx.store.get_incident(draft.incident_id)
            if row is None:
                return None
            msgs = await self.rt.ctx.store.messages_of(row.id)
            plan = update_plan(self.rt.ctx.service, row, msgs, draft.details, now)
            title = say("update_title", draft.lang, number=row.update_number + 1, id=row.id)
            return statement_preview(
                lib, row.factory, Html(title), plan, draft.lang, self.rt.dialect
            )
        assert draft.factory
        assert draft.incident_type
        assert draft.severity
        plan = open_plan(
            lib,
            factory=draft.factory,
            incident_type=draft.incident_type,
            severity=draft.severity,
            details=draft.details,
            reporter=draft.reporter,
            drill=draft.kind == "drill",
            drill_audiences=draft.drill_audiences,
            now=now,
        )
        return open_preview(
            lib,
            plan,
            factory=draft.factory,
            incident_type=draft.incident_type,
            severity=draft.severity,
            details=draft.details,
            drill=draft.kind == "drill",
            lang=draft.lang,
            now=now,
            dialect=self.rt.dialect,
        )

    def person_of(self, update: Update) -> Person | None:
        user = update.effective_user
        return self.gate.person(user) if user else None
