"""Recording roll-call answers and keeping the roll call moving (re-asks, reports).

Every answer — a button, a link, an SMS reply, the API — comes through :class:`RollCalls`,
is written with its audit entry in one transaction, and only then acted on:

- **help** (while the incident is open): the ``help_to`` audience is told at once, with
  the person's name, phone and free-text location, and an acknowledge button;
- an answer after the all-clear is recorded (``after_close``) and reopens nothing;
- a repeated answer is recorded too; the headcount reads the latest.

:meth:`RollCalls.sweep` (a scheduler job) asks again, on their next channel, whoever has
not answered by the step's ``within``, and ``reask_every`` later names whoever still has not
to the ``missing_to`` audiences. Both are planned with idempotent keys from stored times,
so a restart neither loses nor repeats one, nor asks anyone early.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from crisisd.domain import Answer, IncidentFacts, IncidentStatus, Plan, Purpose
from crisisd.errors import PermissionDeniedError, StoreConflict, UnknownIncidentError
from crisisd.formats.phones import normalize_phone
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice
from crisisd.rollcall.headcount import Asked, Headcount, Said, State, headcount
from crisisd.rollcall.replies import read_reply
from crisisd.rollcall.sweep import due_now
from crisisd.rollcall.words import help_texts, missing_texts
from crisisd.steps import RollCallStep
from crisisd.store.records import AuditEntry, IncidentRow
from crisisd.store.rollcall import Event, Question, RollCallBook
from crisisd.templates import clean_user_text

_NEVER = datetime.min.replace(tzinfo=UTC)  # no call for help marked yet

log = structlog.get_logger("crisisd.rollcall")
CLOSED = (IncidentStatus.RESOLVED, IncidentStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class Incoming:
    """One SMS reply as a gateway (or the webhook) gave it."""

    sender: str
    text: str
    via: str
    source: str | None = None  # the gateway, with source_id its message id
    source_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """What became of one answer."""

    outcome: str  # counted | after_close | duplicate | unknown_sender | shared_number | …
    incident_id: str | None = None
    contact: str | None = None
    answer: Answer | None = None

    @property
    def counted(self) -> bool:
        return self.outcome in ("counted", "after_close")


class RollCalls:
    """The roll calls of one daemon (or one command)."""

    def __init__(self, service: IncidentService) -> None:
        self.service = service
        self.book = RollCallBook(service.store)
        self._phones: tuple[Library | None, dict[str, list[str]]] = (None, {})

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.service.clock

    # -- answers --------------------------------------------------------------------------

    async def answer_code(
        self, code: str, answer: Answer, via: str, presser: str | None = None, location: str = ""
    ) -> Recorded:
        """A button (``presser``: only the person asked may press it) or a signed link."""
        msg = await self.service.store.message_by_ack_code(code)
        if msg is None or msg.purpose is not Purpose.ROLL_CALL:
            raise UnknownIncidentError("this roll-call question is not known")
        if presser is not None and presser != msg.recipient:
            raise PermissionDeniedError("only the person this question was sent to can answer")
        q = Question(
            msg.incident_id,
            msg.recipient,
            msg.audience,
            msg.step,
            0,
            msg.status,
            tuple(msg.channels),
            msg.channel,
            msg.not_before,
            msg.sent_at,
        )
        return await self._record(q, answer, via, clean_user_text(location, 200))

    async def answer_sms(
        self,
        sender: str,
        text: str,
        via: str,
        source: str | None = None,
        source_id: str | None = None,
    ) -> Recorded:
        """An SMS reply from ``sender`` (any spelling of a number), from a gateway's inbox
        or the inbound webhook. ``source``/``source_id`` make a repeat harmless."""
        (done,) = await self.answer_many([Incoming(sender, text, via, source, source_id)])
        return done

    async def answer_many(self, replies: Sequence[Incoming]) -> list[Recorded]:
        """SMS replies (a page of a gateway's inbox) recorded in one transaction, each with
        its audit entry; then the calls for help among them go out."""
        now = self.clock()
        rows: dict[str, IncidentRow] = {}
        phones = self._contacts_by_phone()
        wanted = {c for r in replies for c in phones.get(_phone(r.sender) or "", [])}
        asked: dict[str, list[Question]] = {}
        for found in await self.book.latest_to(wanted, limit=None) if wanted else []:
            asked.setdefault(found.contact, []).append(found)  # newest first, as read
        resolved = [await self._resolve(r, now, rows, asked) for r in replies]
        fresh = await self.book.add([ev for ev, _ in resolved])
        out: list[Recorded] = []
        for (ev, q), new in zip(resolved, fresh, strict=True):
            if not new:
                out.append(Recorded("duplicate", ev.incident_id, ev.contact, ev.answer))
                continue
            out.append(Recorded(ev.outcome, ev.incident_id, ev.contact, ev.answer))
            log.info(
                "rollcall." + ev.kind,
                outcome=ev.outcome,
                incident_id=ev.incident_id,
                contact=ev.contact,
                via=ev.via,
            )
            if q is not None and ev.answer is Answer.HELP and ev.outcome == "counted":
                facts = self.service.facts_of(rows[q.incident_id])
                await self._help_once(facts, q, ev.location, now)
        return out

    async def _resolve(
        self,
        r: Incoming,
        now: datetime,
        rows: dict[str, IncidentRow],
        questions: dict[str, list[Question]],
    ) -> tuple[Event, Question | None]:
        """The event a reply makes: an answer to its sender's newest question, or refused
        (unknown or shared number, no question, unreadable text)."""
        base = Event(
            None,
            None,
            "refused",
            "",
            r.via,
            now,
            sender=r.sender,
            text=r.text,
            source=r.source,
            source_id=r.source_id,
        )
        phone = _phone(r.sender)
        if phone is None:
            return replace(base, outcome="unknown_sender"), None
        base = replace(base, sender=phone)
        contacts = self._contacts_by_phone().get(phone, [])
        asked = sorted(
            (q for c in contacts for q in questions.get(c, [])),
            key=lambda q: q.not_before,
            reverse=True,
        )
        if not asked:
            return replace(base, outcome="no_question" if contacts else "unknown_sender"), None
        newest = asked[0]
        base = replace(base, incident_id=newest.incident_id)
        if len({q.contact for q in asked if q.incident_id == newest.incident_id}) > 1:
            return replace(base, outcome="shared_number"), None  # we cannot tell who answered
        reply = read_reply(r.text)
        if reply.answer is None:
            return replace(
                base, contact=newest.contact, outcome="unreadable", location=reply.why
            ), None
        if newest.incident_id not in rows:
            rows[newest.incident_id] = await self.service.get(newest.incident_id)
        status = IncidentStatus(rows[newest.incident_id].status)
        answer = replace(
            base,
            contact=newest.contact,
            kind="answer",
            answer=reply.answer,
            location=reply.location,
            outcome="after_close" if status in CLOSED else "counted",
        )
        return answer, newest

    async def _refuse(self, ev: Event) -> Recorded:
        (new,) = await self.book.add([ev])
        log.info("rollcall.refused", outcome=ev.outcome, incident_id=ev.incident_id, new=new)
        return Recorded(ev.outcome if new else "duplicate", ev.incident_id, ev.contact)

    async def _record(
        self, q: Question, answer: Answer, via: str, location: str, base: Event | None = None
    ) -> Recorded:
        row = await self.service.get(q.incident_id)
        now = self.clock()
        outcome = "after_close" if IncidentStatus(row.status) in CLOSED else "counted"
        ev = Event(q.incident_id, q.contact, "answer", outcome, via, now, answer, location)
        if base is not None:
            ev = replace(
                ev, sender=base.sender, text=base.text, source=base.source, source_id=base.source_id
            )
        (new,) = await self.book.add([ev])
        if not new:
            return Recorded("duplicate", q.incident_id, q.contact, answer)
        log.info(
            "rollcall.answer",
            incident_id=q.incident_id,
            contact=q.contact,
            answer=answer.value,
            via=via,
            outcome=outcome,
        )
        if answer is Answer.HELP and outcome == "counted":
            await self._help_once(self.service.facts_of(row), q, location, now)
        return Recorded(outcome, q.incident_id, q.contact, answer)

    async def _help_once(
        self, facts: IncidentFacts, q: Question, location: str, now: datetime
    ) -> None:
        """The call for help, then its mark; the plan's keys make a repeat (after a crash
        between the two) a conflict that only writes the mark."""
        with contextlib.suppress(StoreConflict):
            await self._call_for_help(facts, q, location, now)
        await self.book.add([Event(facts.id, q.contact, "escalated", "escalated", "help", now)])

    async def _call_for_help(
        self, facts: IncidentFacts, q: Question, location: str, now: datetime
    ) -> None:
        lib = self.service.lib
        rc = _step(lib, facts, q.step)
        person = lib.directory.contacts.get(q.contact)
        if rc is None or person is None:
            return
        pb = lib.playbook(facts.factory)
        team = pb.audiences.get(rc.help_to)
        if team is None:
            return
        texts = help_texts(person, pb.audiences[q.audience], q.audience, location, facts.drill)
        digest = hashlib.sha256(location.encode()).hexdigest()[:8]
        plan = plan_notice(lib, facts, texts, f"rc-help-{q.contact}-{digest}", now, team.members)
        urgent = tuple(
            replace(m, purpose=Purpose.ESCALATION, ack_required=True, audience=rc.help_to)
            for m in plan.messages
        )
        entry = AuditEntry(
            facts.id,
            now,
            "crisisd",
            "rollcall.help_escalated",
            None,
            {"contact": q.contact, "to": rc.help_to},
        )
        await self.service.store.add_plan(facts.id, Plan(urgent), [entry], now)

    def _contacts_by_phone(self) -> dict[str, list[str]]:
        lib = self.service.lib
        if self._phones[0] is not lib:  # the library held, so its identity cannot be reused
            index: dict[str, list[str]] = {}
            for cid, c in lib.directory.contacts.items():
                if c.phone:
                    index.setdefault(c.phone, []).append(cid)
            self._phones = (lib, index)
        return self._phones[1]

    # -- the headcount ----------------------------------------------------------------------

    async def headcount(self, incident_id: str) -> Headcount:
        row = await self.service.get(incident_id)
        questions = await self.book.questions(row.id)
        events = await self.book.events(row.id)
        return headcount(asked_of(questions), said_of(events))

    # -- the sweep ----------------------------------------------------------------------------

    async def sweep(self) -> tuple[int, int]:
        """Re-ask and report whoever is due; returns (asked again, reported missing)."""
        now = self.clock()
        reasked = reported = 0
        for incident_id, questions in (await self.book.open_questions()).items():
            row = await self.service.store.get_incident(incident_id)
            if row is None:
                continue
            facts = self.service.facts_of(row)
            events = await self.book.events(incident_id)
            count = headcount(asked_of(questions), said_of(events))
            a, r = await self._sweep_one(facts, questions, count, now)
            reasked, reported = reasked + a, reported + r
        return reasked, reported

    async def _sweep_one(
        self, facts: IncidentFacts, questions: list[Question], count: Headcount, now: datetime
    ) -> tuple[int, int]:
        lib = self.service.lib
        await self._help_not_yet_called(facts, questions, count, now)
        plan, missing = due_now(lib, facts, questions, count, now, self.service.ack_link)
        if plan.messages:
            entry = AuditEntry(
                facts.id, now, "crisisd", "rollcall.reasked", None, {"people": len(plan.messages)}
            )
            await self.service.store.add_plan(facts.id, plan, [entry], now)
        for position, people in missing.items():
            await self._report_missing(lib, facts, position, people, now)
        return len(plan.messages), sum(len(p) for p in missing.values())

    async def _help_not_yet_called(
        self, facts: IncidentFacts, questions: list[Question], count: Headcount, now: datetime
    ) -> None:
        """Whoever needs help and was not called for (the daemon stopped between recording
        the answer and planning the call): called for now."""
        marked = {
            e.contact: e.at
            for e in await self.book.events(facts.id)
            if e.kind == "escalated" and e.contact is not None
        }
        for person in count.named(State.HELP):
            if person.late or person.at is None or marked.get(person.contact, _NEVER) >= person.at:
                continue
            asked = [q for q in questions if q.contact == person.contact]
            if asked:
                await self._help_once(facts, asked[-1], person.location, now)

    async def _report_missing(
        self, lib: Library, facts: IncidentFacts, position: int, people: list[str], now: datetime
    ) -> None:
        rc = _step(lib, facts, position)
        if rc is None:
            return
        pb = lib.playbook(facts.factory)
        to = [m for a in rc.missing_to if a in pb.audiences for m in pb.audiences[a].members]
        texts = missing_texts(lib, people, facts.drill)
        digest = hashlib.sha256(",".join(sorted(people)).encode()).hexdigest()[:10]
        plan = plan_notice(lib, facts, texts, f"rc-missing-{position}-{digest}", now, to)
        await self.service.store.add_plan(facts.id, plan, [], now)
        await self.book.add(
            [Event(facts.id, p, "reported", "reported", "sweep", now) for p in people]
        )
        log.warning("rollcall.missing", incident_id=facts.id, people=len(people))


def _phone(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except ValueError:
        return None


def _step(lib: Library, facts: IncidentFacts, position: int) -> RollCallStep | None:
    pb = lib.playbooks.get(facts.factory)
    if pb is None:
        return None
    try:
        entry = pb.plan_for(facts.incident_type, facts.severity).entries[position]
    except (KeyError, IndexError):
        return None
    return entry if isinstance(entry, RollCallStep) else None


def asked_of(questions: list[Question]) -> list[Asked]:
    """The store's questions as the headcount reads them."""
    return [
        Asked(
            q.contact,
            q.audience,
            q.step,
            q.round,
            q.status,
            q.channels,
            q.channel,
            q.not_before,
            q.sent_at,
        )
        for q in questions
    ]


def said_of(events: list[Event]) -> list[Said]:
    """The store's events as the headcount reads them."""
    return [
        Said(e.contact, e.kind, e.answer, e.outcome, e.at, e.via, e.location)
        for e in events
        if e.contact is not None
    ]


__all__ = ["Incoming", "Recorded", "RollCalls", "State", "asked_of", "said_of"]
