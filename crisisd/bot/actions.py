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

from crisisd.bot.access import Gate, Person, asked
from crisisd.bot.drafts import Draft, State, keep, pressed, unbutton
from crisisd.bot.dryrun import resolve_plan, takeover_plan
from crisisd.bot.previews import statement_preview
from crisisd.bot.progress import ProgressBoard
from crisisd.bot.replies import send
from crisisd.bot.report import OPEN, ReportFlow
from crisisd.bot.runtime import BotRuntime, Ctx
from crisisd.bot.texts import Html, say
from crisisd.domain import IncidentReport, Purpose
from crisisd.errors import CrisisError, PermissionDeniedError
from crisisd.formats.timefmt import ascii_digits
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

    # -- finding the incident ------------------------------------------------------------
    async def incident_for(
        self, update: Update, context: Ctx, person: Person, command: str
    ) -> IncidentRow | None:
        """The open incident named in the command, if it is one of this officer's factories.

        An unknown ID and another factory's incident get the same answer: nothing is learnt.
        """
        raw = ascii_digits(" ".join(context.args or [])).strip().upper()
        if not raw:
            rows = await self._open_of(person)
            ids = " ".join(r.id for r in rows[:10])
            hint = say("usage_open", person.lang, ids=ids) if ids else ""
            text = say("usage_id", person.lang, command=command, open=Html(hint))
            await send(context.bot, person.user_id, text, person.lang)
            return None
        row = await self.rt.ctx.store.get_incident(raw[:16])
        if row is not None and not person.may_act_for(row.factory):
            await self.gate.refuse(
                update,
                context,
                person,
                asked(update),
                "not_officer_of_factory",
                key="no_incident",
                shown={"id": raw[:16]},
                incident=row.id,
            )
            return None
        if row is None or row.status not in OPEN:
            await send(
                context.bot,
                person.user_id,
                say("no_incident", person.lang, id=raw[:16]),
                person.lang,
            )
            return None
        return row

    async def _open_of(self, person: Person) -> list[IncidentRow]:
        rows: list[IncidentRow] = []
        for factory in person.factories:
            rows += await self.rt.ctx.store.list_incidents(OPEN, factory=factory, limit=20)
        return sorted(rows, key=lambda r: r.opened_at, reverse=True)

    # -- entry points --------------------------------------------------------------------
    async def update_start(self, update: Update, context: Ctx) -> int:
        person = await self.gate.officer(update, context, "/update")
        if person is None:
            return END
        row = await self.incident_for(update, context, person, "update")
        if row is None:
            return END
        draft = Draft("update", person.lang, person.user_id, person.contact_id or "")
        draft.incident_id, draft.factory = row.id, row.factory
        keep(context, draft)
        return await self.report.ask_details(context, draft, row)

    async def resolve_start(self, update: Update, context: Ctx) -> int:
        return await self._statement_start(update, context, "resolve")

    async def takeover_start(self, update: Update, context: Ctx) -> int:
        return await self._statement_start(update, context, "takeover")

    async def _statement_start(self, update: Update, context: Ctx, kind: str) -> int:
        person = await self.gate.officer(update, context, f"/{kind}")
        if person is None:
            return END
        row = await self.incident_for(update, context, person, kind)
        if row is None:
            return END
        lib, lang, now = self.rt.lib, person.lang, self.rt.now()
        msgs = await self.rt.ctx.store.messages_of(row.id)
        if kind == "resolve":
            plan = resolve_plan(self.rt.ctx.service, row, msgs, now)
            title = say("resolve_title", lang, id=row.id)
        else:
            plan, pending = takeover_plan(self.rt.ctx.service, row, msgs, now)
            who = lib.playbook(row.factory).statements.takeover.spokesperson.get(lang)
            title = say("takeover_title", lang, id=row.id, who=who, pending=pending)
        draft = Draft(kind, lang, person.user_id, person.contact_id or "")
        draft.incident_id, draft.factory = row.id, row.factory
        keep(context, draft)
        text = statement_preview(lib, row.factory, title, plan, lang, self.rt.dialect)
        draft.showing(await send(context.bot, draft.chat_id, text, lang, draft.confirm()), text)
        return State.CONFIRM

    async def drill_start(self, update: Update, context: Ctx) -> int:
        """/drill [FACTORY] [type/severity]: the factory's first scheduled scenario by default."""
        person = await self.gate.officer(update, context, "/drill")
        if person is None:
            return END
        args = [a.strip().lower() for a in context.args or []]
        factory = args[0] if args else (person.factories[0] if len(person.factories) == 1 else "")
        if not person.may_act_for(factory):
            if not factory:
                names = ", ".join(person.factories)
                text = say("usage_id", person.lang, command="drill", open=Html(f"\n{names}"))
                await send(context.bot, person.user_id, text, person.lang)
            else:
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
        pb = self.rt.lib.playbook(factory)
        draft = Draft("drill", person.lang, person.user_id, person.contact_id or "")
        draft.factory = factory
        scenario = args[1] if len(args) > 1 else None
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
        keep(context, draft)
        preview = await self.report.preview(draft)
        assert preview is not None
        message_id = await send(context.bot, draft.chat_id, preview, draft.lang, draft.confirm())
        draft.showing(message_id, preview)
        return State.CONFIRM

    # -- Confirm -------------------------------------------------------------------------
    async def on_confirm(self, update: Update, context: Ctx) -> int | None:
        got = await pressed(update, context)
        if got is None:
            return None
        draft = got[0]
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
            reason = str(exc) if isinstance(exc, CrisisError) else say("store_down", draft.lang)
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
            count = await ctx.service.update(iid, draft.details, actor)
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
