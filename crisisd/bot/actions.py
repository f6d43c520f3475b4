"""/update, /resolve, /takeover, /drill — and Confirm, which does what a preview showed.

"Accepted" (or "done") is said only after the incident service returned, i.e. after the
store committed the incident or action with all its messages; then the dispatcher is
woken and one progress message follows the delivery. Any failure before that says
plainly that nothing was accepted.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import ConversationHandler

from crisisd.bot.access import Gate
from crisisd.bot.choose import IncidentChooser
from crisisd.bot.drafts import Draft, State, keep, pressed, unbutton
from crisisd.bot.dryrun import resolve_plan, takeover_plan
from crisisd.bot.labels import factory_name
from crisisd.bot.previews import resolve_preview, statement_preview
from crisisd.bot.progress import ProgressBoard
from crisisd.bot.replies import send
from crisisd.bot.report import ReportFlow
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import say
from crisisd.bot.wording import update_texts
from crisisd.domain import Casualties, IncidentReport, Purpose
from crisisd.errors import CrisisError, PermissionDeniedError, StoreError
from crisisd.redaction import redact
from crisisd.store import IncidentRow

log = structlog.get_logger("crisisd.bot")
END = ConversationHandler.END


class ActionFlow:
    """Entry points for actions on incidents, and the shared Confirm step."""

    def __init__(self, rt: BotRuntime, gate: Gate, report: ReportFlow, progress: ProgressBoard):
        self.rt = rt
        self.gate = gate
        self.report = report
        self.progress = progress
        self.chooser = IncidentChooser(rt, gate, self.proceed)

    # -- entry points --------------------------------------------------------------------
    async def update_start(self, update: Update, context: Ctx) -> int:
        return await self.chooser.begin(update, context, "update")

    async def resolve_start(self, update: Update, context: Ctx) -> int:
        return await self.chooser.begin(update, context, "resolve")

    async def takeover_start(self, update: Update, context: Ctx) -> int:
        return await self.chooser.begin(update, context, "takeover")

    async def proceed(self, context: Ctx, draft: Draft, row: IncidentRow) -> int:
        """The incident is chosen: ask the update's text, or show what the all-clear or
        the takeover would send."""
        draft.incident_id, draft.factory = row.id, row.factory
        if draft.kind == "update":
            return await self.report.ask_details(context, draft, row)
        lib, lang, now = self.rt.lib, draft.lang, self.rt.now()
        msgs = await self.rt.ctx.store.messages_of(row.id)
        if draft.kind == "resolve":
            plan = resolve_plan(self.rt.ctx.service, row, msgs, now)
            text = resolve_preview(lib, row, plan, lang, self.rt.dialect)
        else:
            plan, pending = takeover_plan(self.rt.ctx.service, row, msgs, now)
            who = lib.playbook(row.factory).statements.takeover.spokesperson.get(lang)
            title = say("takeover_title", lang, id=row.id, who=who, pending=pending)
            text = statement_preview(lib, row.factory, title, plan, lang, self.rt.dialect)
        await self.report.show(context, draft, text, draft.confirm())
        return State.CONFIRM

    async def drill_start(self, update: Update, context: Ctx) -> int:
        """/drill [FACTORY] [type/severity]: the factory's first scheduled scenario by default;
        an officer of several factories without one picks it from buttons."""
        person = await self.gate.officer(update, context, "/drill")
        if person is None:
            return END
        args = [a.strip().lower() for a in context.args or []]
        draft = Draft("drill", person.lang, person.user_id, person.contact_id or "")
        if not args and len(person.factories) > 1:
            draft.choices = list(person.factories)
            keep(context, draft)
            names = [factory_name(self.rt.lib, f, person.lang) for f in draft.choices]
            text, markup = say("choose_factory_drill", person.lang), draft.pick(names, "g", 1)
            draft.showing(await send(context.bot, draft.chat_id, text, draft.lang, markup), text)
            return State.FACTORY
        factory = args[0] if args else person.factories[0]
        if not person.may_act_for(factory):
            await self.gate.refuse(
                update,
                context,
                person,
                "/drill",
                "not_officer_of_factory",
                key="refused_factory",
                factory=factory[:64],
            )
            return END
        draft.factory = factory
        keep(context, draft)
        return await self._drill(context, draft, args[1] if len(args) > 1 else None)

    async def on_drill_factory(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        user = update.effective_user
        if got is None or user is None:
            return None
        draft, _action, index = got
        if index is None or not 0 <= index < len(draft.choices):
            return None
        if not self.gate.person(user).may_act_for(draft.choices[index]):
            return None
        draft.factory = draft.choices[index]
        await unbutton(context.bot, draft)
        return await self._drill(context, draft, None)

    async def _drill(self, context: Ctx, draft: Draft, scenario: str | None) -> int:
        """The drill's preview: ``scenario`` (type/severity), else the playbook's first."""
        assert draft.factory is not None
        pb = self.rt.lib.playbook(draft.factory)
        if scenario is None and pb.drills:
            scenario = pb.drills[0].scenario
            audiences = pb.drills[0].audiences
            draft.drill_audiences = tuple(audiences) if audiences is not None else None
        kind, _, severity = (scenario or "").partition("/")
        if kind not in pb.incidents:
            kind = next(iter(pb.incidents))
        if severity not in pb.incidents[kind].severities:
            severity = next(iter(pb.incidents[kind].severities))
        draft.incident_type, draft.severity = kind, severity
        return await self.report.show_preview(context, draft)

    # -- Confirm -------------------------------------------------------------------------
    async def on_confirm(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft = got[0]
        draft.send_now = got[1] == "now"
        if draft.kind == "report":  # someone may have reported the same meanwhile
            twin = await self.report.open_twin(draft)
            if twin is not None:
                await unbutton(context.bot, draft)
                draft.showing(None, "")  # the question comes as a new message
                return await self.report.ask_duplicate_or(context, draft, State.CONFIRM)
        await unbutton(context.bot, draft)  # no second Confirm
        if context.user_data is not None:
            context.user_data.pop("draft", None)
        person = self.report.person_of(update)
        if person is None or not person.contact_id:
            return END
        try:
            text, incident_id, prefixes = await self._execute(draft, person.contact_id)
        except PermissionDeniedError:
            await self.gate.refuse(
                update,
                context,
                person,
                f"confirm:{draft.kind}",
                "not_officer_of_factory",
                key="refused_factory",
                factory=draft.factory,
            )
            return END
        except (CrisisError, SQLAlchemyError, OSError) as exc:
            # nothing was committed: the store's own words (its URL, the driver's reason) are
            # for the log; the officer reads that the database could not take it
            plain = isinstance(exc, CrisisError) and not isinstance(exc, StoreError)
            reason = str(exc) if plain else say("store_down", draft.lang)
            log.warning("bot.action_failed", kind=draft.kind, error=redact(str(exc))[:300])
            await send(
                context.bot, draft.chat_id, say("error", draft.lang, reason=reason), draft.lang
            )
            return END
        await send(context.bot, draft.chat_id, text, draft.lang)
        if prefixes:
            await self.progress.start(context.bot, draft.chat_id, incident_id, prefixes, draft.lang)
        return END

    async def _execute(self, draft: Draft, actor: str) -> tuple[str, str, Sequence[str]]:
        """Do it. Returns (what to tell the officer, incident id, which messages to follow)."""
        ctx, lang = self.rt.ctx, draft.lang
        if draft.kind in ("report", "drill"):
            assert draft.factory
            assert draft.incident_type
            assert draft.severity
            report = IncidentReport(
                factory=draft.factory,
                incident_type=draft.incident_type,
                severity=draft.severity,
                reporter=actor,
                details=draft.details,
                location=draft.location,
                casualties=Casualties(draft.casualties or Casualties.UNKNOWN.value),
                casualties_count=draft.casualties_count,
                drill=draft.kind == "drill",
                source=self.rt.source,
                idempotency_key=f"{self.rt.source}:{draft.chat_id}:{draft.nonce}",
                drill_audiences=draft.drill_audiences,
            )
            opened = await ctx.service.open(report)
            if not opened.created:
                return say("duplicate_known", lang, id=opened.incident_id), opened.incident_id, ()
            if report.drill:
                ctx.metrics.drills.labels(report.factory).inc()
            ctx.kick()
            key = "accepted_drill" if report.drill else "accepted"
            iid = opened.incident_id
            prefixes = [f"{iid}/{Purpose.ALERT.value}/0/", f"{iid}/{Purpose.DRILL_SINK.value}/0/"]
            log.info("bot.accepted", incident_id=iid, factory=draft.factory, drill=report.drill)
            return say(key, lang, id=iid, count=opened.messages), iid, prefixes
        assert draft.incident_id is not None
        iid = draft.incident_id
        if draft.kind == "update":
            texts = update_texts(draft)
            count = await ctx.service.update(iid, texts, actor, send_now=draft.send_now)
            # committed: from here on nothing may report "not accepted" to the officer
            try:
                row = await ctx.store.get_incident(iid)
            except Exception:  # noqa: BLE001 - only the progress message's label depends on it
                row = None
            number = row.update_number if row else 0
            text, purpose = say("update_done", lang, id=iid, count=count), f"update/{number}"
        elif draft.kind == "resolve":
            count = await ctx.service.resolve(iid, actor)
            text, purpose = say("resolve_done", lang, id=iid, count=count), "all_clear/0"
        else:
            count, cancelled = await ctx.service.takeover(iid, actor)
            text = say("takeover_done", lang, id=iid, count=count, cancelled=cancelled)
            purpose = "takeover/0"
        if count:
            ctx.kick()
        log.info("bot.action", kind=draft.kind, incident_id=iid, messages=count)
        return text, iid, [f"{iid}/{purpose}/"] if count else []
