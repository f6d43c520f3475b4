"""Escalation sweeper: an ack deadline that passed with no ack sets the escalation going.

Deadlines live in the store, so a restart loses none. Each overdue alert is
escalated once: the person gets the same alert on their next channel, and the
audience's ``escalate_to`` audience is told who has not acknowledged. Both go through
the planner and one store transaction, like every other message.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from crisisd.domain import IncidentFacts, Plan, PlannedMessage, Purpose, Rendering
from crisisd.formats.timefmt import duration_words
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice, plan_statement
from crisisd.store import AuditEntry, MessageRow

log = structlog.get_logger("crisisd.scheduler.sweeper")

NOTE = {
    "fa": "تشدید: {name} دریافت هشدار را تا {within} پس از ارسال تأیید نکرده است.",
    "en": "Escalation: {name} has not acknowledged the alert within {within}.",
}
ALL_CHANNELS = ("bale", "telegram", "sms", "email")


async def sweep(service: IncidentService, limit: int = 200) -> int:
    """Escalate every overdue, unacknowledged alert; returns how many were escalated."""
    now = service.clock()
    overdue = await service.store.overdue_acks(now, limit)
    done = 0
    for msg in overdue:
        row = await service.store.get_incident(msg.incident_id)
        if row is None or row.status in ("resolved", "cancelled"):
            await service.store.add_plan(msg.incident_id, Plan(), [], now, escalated_ids=[msg.id])
            continue
        facts = service.facts_of(row)
        plan = _plan(service.lib, facts, msg, now)
        plan = _with_officer_notice(service.lib, facts, msg, plan, now)
        entry = AuditEntry(
            msg.incident_id,
            now,
            "crisisd",
            "escalation.fired",
            None,
            {"message_id": msg.id, "recipient": msg.recipient, "to": msg.escalate_to},
        )
        written = await service.store.add_plan(
            msg.incident_id, plan, [entry], now, escalated_ids=[msg.id]
        )
        if written < 0:
            continue  # acknowledged while the escalation was being planned
        log.warning(
            "escalation.fired",
            incident_id=msg.incident_id,
            recipient=msg.recipient,
            escalate_to=msg.escalate_to,
            messages=len(plan.messages),
        )
        done += 1
    return done


OFFICER_NOTE = {
    "fa": "تشدید در حادثه {id}: {name} ({audience}) دریافت هشدار را تأیید نکرد؛ {to} خبردار شد.",
    "en": "Escalation on incident {id}: {name} ({audience}) did not acknowledge; {to} told.",
}


def _with_officer_notice(
    lib: Library, facts: IncidentFacts, msg: MessageRow, plan: Plan, now: datetime
) -> Plan:
    """The reporting officer hears of every escalation, in the same transaction."""
    person = lib.directory.contacts.get(msg.recipient)
    texts = {
        lang: OFFICER_NOTE[lang].format(
            id=facts.id,
            name=person.name.get(lang) if person else msg.recipient,
            audience=msg.audience,
            to=msg.escalate_to or "—",
        )
        for lang in ("fa", "en")
    }
    notice = plan_notice(lib, facts, texts, f"escalated-{msg.id}", now)
    return Plan(plan.messages + notice.messages)


def _plan(lib: Library, facts: IncidentFacts, msg: MessageRow, now: datetime) -> Plan:
    messages: list[PlannedMessage] = []
    used = msg.channels.index(msg.sent_channel) if msg.sent_channel in msg.channels else -1
    rest = tuple(msg.channels[used + 1 :])
    if rest:  # the same alert again, on the person's next channel
        messages.append(
            PlannedMessage(
                # "resend" keeps this key apart from the escalation-audience message, which
                # the same person may also get (if they are in both audiences)
                key=f"{msg.incident_id}/{Purpose.ESCALATION.value}/{msg.id}/resend/{msg.recipient}",
                incident_id=msg.incident_id,
                purpose=Purpose.ESCALATION,
                step=msg.step,
                audience=msg.audience,
                recipient=msg.recipient,
                lang=msg.lang,
                channels=rest,
                renderings={k: Rendering(**v) for k, v in msg.renderings.items()},
                priority=max(0, msg.priority - 5),
                not_before=now,
                drill=msg.drill,
            )
        )
    if msg.escalate_to:
        messages.extend(_tell_escalation_audience(lib, facts, msg, now).messages)
    return Plan(tuple(messages))


def _tell_escalation_audience(
    lib: Library, facts: IncidentFacts, msg: MessageRow, now: datetime
) -> Plan:
    pb = lib.playbook(facts.factory)
    sev = pb.plan_for(facts.incident_type, facts.severity)
    target = msg.escalate_to or ""
    aud = pb.audiences.get(target)
    if aud is None:
        return Plan()
    step = next((s for s in sev.steps if s.audience == target), None)
    channels = tuple(step.channels) if step else ALL_CHANNELS
    template = sev.steps[min(msg.step, len(sev.steps) - 1)].template
    person = lib.directory.contacts.get(msg.recipient)
    within = (msg.ack_deadline - msg.not_before) if msg.ack_deadline else None
    preface = {
        lang: NOTE[lang].format(
            name=person.name.get(lang) if person else msg.recipient,
            within=duration_words(within, lang) if within else "",
        )
        for lang in ("fa", "en")
    }
    if facts.drill and facts.drill_audiences is not None and target not in facts.drill_audiences:
        return Plan()  # the drill does not involve that audience
    targets = [(target, m, channels) for m in aud.members]
    return plan_statement(lib, facts, Purpose.ESCALATION, template, targets, msg.id, now, preface)
