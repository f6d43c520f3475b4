"""Escalation sweeper: an ack deadline that passed with no ack sets the escalation going.

Deadlines live in the store, so a restart loses none. Each overdue alert is escalated
once: the person gets the same alert on their next channel. The alerts of one incident
that fall due together form one *round*: the audience's ``escalate_to`` audience gets one
message listing everyone silent (not one per person), and the reporting officer one notice.
Everything goes through the planner and one store transaction, like every other message.

Wording: in Persian "تشدید" reads as "the incident got worse"; the notes speak of an
alert nobody has acknowledged ("هشدار بی‌پاسخ") instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from crisisd.domain import IncidentFacts, Plan, PlannedMessage, Purpose, Rendering
from crisisd.formats.timefmt import duration_words, fa_digits
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice, plan_statement
from crisisd.playbook import Playbook
from crisisd.store import AuditEntry, MessageRow

log = structlog.get_logger("crisisd.scheduler.sweeper")

NOTE = {
    "fa": "هشدار بی‌پاسخ: {names} دریافت هشدار را تا {within} پس از ارسال تأیید نکرده‌اند.",
    "en": "Unacknowledged alert: {names} did not acknowledge the alert within {within}.",
}
OFFICER_NOTE = {
    "fa": "هشدار بی‌پاسخ در حادثهٔ {id}: {names} ({audience}) دریافت هشدار را تأیید نکردند؛"
    " به «{to}» خبر داده شد.",
    "en": "Unacknowledged alert on incident {id}: {names} ({audience}) did not acknowledge;"
    " {to} told.",
}
MORE = {"fa": "و {n} نفر دیگر", "en": "and {n} more"}
NAMES_SHOWN = 10  # a longer list helps nobody on a phone; the report lists everyone
ALL_CHANNELS = ("bale", "telegram", "sms", "email")
DEFAULT_WITHIN = timedelta(minutes=10)  # the planner's default for ack: true without a rule


async def sweep(service: IncidentService, limit: int = 200) -> int:
    """Escalate every overdue, unacknowledged alert; returns how many alerts were escalated."""
    now = service.clock()
    rounds: dict[tuple[str, str], list[MessageRow]] = defaultdict(list)
    for msg in await service.store.overdue_acks(now, limit):
        rounds[(msg.incident_id, msg.escalate_to or "")].append(msg)
    done = 0
    for (incident_id, _to), silent in rounds.items():
        done += await _escalate_round(service, incident_id, silent, now)
    return done


async def _escalate_round(
    service: IncidentService, incident_id: str, silent: Sequence[MessageRow], now: datetime
) -> int:
    ids = [m.id for m in silent]
    row = await service.store.get_incident(incident_id)
    if row is None or row.status in ("resolved", "cancelled"):
        await service.store.add_plan(incident_id, Plan(), [], now, escalated_ids=ids)
        return 0
    facts = service.facts_of(row)
    lib = service.lib
    plan = Plan(tuple(_resend(m, now) for m in silent if _next_channels(m)))
    plan = Plan(plan.messages + _tell_escalation_audience(lib, facts, silent, now).messages)
    plan = Plan(plan.messages + _officer_notice(lib, facts, silent, now).messages)
    first = silent[0]
    entry = AuditEntry(
        incident_id,
        now,
        "crisisd",
        "escalation.fired",
        None,
        {"message_ids": ids, "recipients": [m.recipient for m in silent], "to": first.escalate_to},
    )
    if await service.store.add_plan(incident_id, plan, [entry], now, escalated_ids=ids) < 0:
        return 0  # one of them was acknowledged meanwhile: the next sweep takes the rest
    log.warning(
        "escalation.fired",
        incident_id=incident_id,
        recipients=len(silent),
        escalate_to=first.escalate_to,
        messages=len(plan.messages),
    )
    return len(silent)


def _next_channels(msg: MessageRow) -> tuple[str, ...]:
    used = msg.channels.index(msg.sent_channel) if msg.sent_channel in msg.channels else -1
    return tuple(msg.channels[used + 1 :])


def _resend(msg: MessageRow, now: datetime) -> PlannedMessage:
    """The same alert again, on the person's next channel."""
    return PlannedMessage(
        # "resend" keeps this key apart from the escalation-audience message, which
        # the same person may also get (if they are in both audiences)
        key=f"{msg.incident_id}/{Purpose.ESCALATION.value}/{msg.id}/resend/{msg.recipient}",
        incident_id=msg.incident_id,
        purpose=Purpose.ESCALATION,
        step=msg.step,
        audience=msg.audience,
        recipient=msg.recipient,
        lang=msg.lang,
        channels=_next_channels(msg),
        renderings={k: Rendering(**v) for k, v in msg.renderings.items()},
        priority=max(0, msg.priority - 5),
        not_before=now,
        drill=msg.drill,
    )


def _names(lib: Library, silent: Sequence[MessageRow], lang: str) -> str:
    people = [lib.directory.contacts.get(m.recipient) for m in silent]
    shown = [p.name.get(lang) if p else m.recipient for p, m in zip(people, silent, strict=True)]
    sep = "، " if lang == "fa" else ", "
    text = sep.join(shown[:NAMES_SHOWN])
    if len(shown) > NAMES_SHOWN:
        extra = len(shown) - NAMES_SHOWN
        text += " " + MORE[lang].format(n=fa_digits(str(extra)) if lang == "fa" else extra)
    return text


def _audience_name(pb: Playbook, audience: str, lang: str) -> str:
    aud = pb.audiences.get(audience)
    return aud.name.get(lang) if aud is not None and aud.name else audience


def _within(pb: Playbook, msg: MessageRow) -> timedelta:
    """The playbook's rule (``ack.within``), not the time left after retries."""
    aud = pb.audiences.get(msg.audience)
    return aud.ack.within if aud is not None and aud.ack is not None else DEFAULT_WITHIN


def _officer_notice(
    lib: Library, facts: IncidentFacts, silent: Sequence[MessageRow], now: datetime
) -> Plan:
    """The reporting officer hears of every round, in the same transaction."""
    pb = lib.playbook(facts.factory)
    first = silent[0]
    texts = {
        lang: OFFICER_NOTE[lang].format(
            id=facts.id,
            names=_names(lib, silent, lang),
            audience="، ".join(dict.fromkeys(_audience_name(pb, m.audience, lang) for m in silent))
            if lang == "fa"
            else ", ".join(dict.fromkeys(_audience_name(pb, m.audience, lang) for m in silent)),
            to=_audience_name(pb, first.escalate_to, lang) if first.escalate_to else "—",
        )
        for lang in ("fa", "en")
    }
    return plan_notice(lib, facts, texts, f"escalated-{first.id}", now)


def _tell_escalation_audience(
    lib: Library, facts: IncidentFacts, silent: Sequence[MessageRow], now: datetime
) -> Plan:
    first = silent[0]
    pb = lib.playbook(facts.factory)
    sev = pb.plan_for(facts.incident_type, facts.severity)
    target = first.escalate_to or ""
    aud = pb.audiences.get(target)
    if aud is None:
        return Plan()
    if facts.drill and facts.drill_audiences is not None and target not in facts.drill_audiences:
        return Plan()  # the drill does not involve that audience
    step = next((s for s in sev.steps if s.audience == target), None)
    channels = tuple(step.channels) if step else ALL_CHANNELS
    template = sev.steps[min(first.step, len(sev.steps) - 1)].template
    within = _within(pb, first)
    preface = {
        lang: NOTE[lang].format(
            names=_names(lib, silent, lang), within=duration_words(within, lang)
        )
        for lang in ("fa", "en")
    }
    targets = [(target, m, channels) for m in aud.members]
    return plan_statement(lib, facts, Purpose.ESCALATION, template, targets, first.id, now, preface)
