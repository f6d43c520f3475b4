"""The planner: a pure expansion of an incident into the messages it implies.

No I/O happens here; templates were compiled when the library was loaded. All the
safety rules live here, where property tests pin them: a drill never plans a
message to an external audience (the reporting officer gets a marked copy instead,
the drill sink), every drill message carries the marker, nobody gets the same step
twice, and delayed steps wait their turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from html import unescape
from typing import Any

from markupsafe import escape

from crisisd.domain import (
    IncidentFacts,
    Plan,
    PlannedMessage,
    PlannedTask,
    Purpose,
    Rendering,
    channel_kind,
)
from crisisd.formats.textfit import fit_sms, fit_telegram_html, sms_info
from crisisd.planning.render import MessageExtras, RenderMemo, render_one
from crisisd.planning.rollcall import plan_roll_calls
from crisisd.planning.sources import Sources
from crisisd.playbook import Playbook
from crisisd.steps import Step

AckLink = Callable[[str], str]  # message key -> signed ack URL


DRILL_PRIORITY_PENALTY = 100  # drill traffic waits behind any real incident's messages


def priority_of(pb: Playbook, audience: str, drill: bool) -> int:
    """Lower goes first; a drill's messages come after every real incident's."""
    return pb.priority_of(audience) + (DRILL_PRIORITY_PENALTY if drill else 0)


def message_key(incident_id: str, purpose: Purpose, seq: int, step: int, recipient: str) -> str:
    """Stable unique key of one planned message: the outbox's idempotency key."""
    return f"{incident_id}/{purpose.value}/{seq}/{step}/{recipient}"


def plan_open(lib: Sources, facts: IncidentFacts, ack_link: AckLink | None = None) -> Plan:
    """Every message, task and reminder that opening ``facts`` sets in motion."""
    pb = lib.playbook(facts.factory)
    sev = pb.plan_for(facts.incident_type, facts.severity)
    next_update = facts.opened_at + sev.update_every if sev.update_every else None
    messages: list[PlannedMessage] = []
    unreachable: list[tuple[str, str]] = []
    memo = RenderMemo()
    for index, step in enumerate(sev.steps):
        audience = pb.audiences[step.audience]
        if facts.drill and audience.external:
            messages.extend(_drill_sink(lib, pb, facts, index, step, next_update))
            continue
        if (
            facts.drill
            and facts.drill_audiences is not None
            and step.audience not in facts.drill_audiences
        ):
            continue
        for member in dict.fromkeys(audience.members):
            contact = lib.directory.contacts[member]
            channels = lib.usable(contact, step.channels)
            if not channels:
                unreachable.append((step.audience, member))
            messages.append(
                _message(
                    lib,
                    pb,
                    facts,
                    Purpose.ALERT,
                    seq=0,
                    index=index,
                    step=step,
                    member=member,
                    channels=channels,
                    next_update=next_update,
                    ack_link=ack_link,
                    memo=memo,
                )
            )
    questions, unasked = plan_roll_calls(lib, facts, ack_link)
    messages.extend(questions)
    unreachable.extend(unasked)
    tasks = tuple(
        PlannedTask(t.title.fa, t.title.en, _due(lib, facts.opened_at, t.due)) for t in sev.tasks
    )
    return Plan(tuple(messages), tasks, next_update, sev.update_every, tuple(unreachable))


def promised_update(
    next_update: datetime | None, not_before: datetime, opened_at: datetime
) -> datetime | None:
    """The next update a statement promises, counted from when it goes out.

    ``next_update`` is the incident's first update time (opened + update_every). A
    statement sent later than the incident opened (a press step with ``after: 30m``)
    promises the same interval from its own sending time, so it never promises an
    update at or before the moment it is read.
    """
    if next_update is None:
        return None
    return max(next_update, not_before + (next_update - opened_at))


def _due(lib: Sources, start: datetime, due: Any) -> datetime:
    if due.working_days is not None:
        local = start.astimezone(lib.config.zone)
        return lib.calendar.add_working_days(local, due.working_days)
    return start + due.delta  # type: ignore[no-any-return]


def _message(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    purpose: Purpose,
    *,
    seq: int,
    index: int,
    step: Step,
    member: str,
    channels: tuple[str, ...],
    next_update: datetime | None,
    ack_link: AckLink | None,
    template: str | None = None,
    sink_for: str | None = None,
    sink_count: int = 0,
    memo: RenderMemo | None = None,
) -> PlannedMessage:
    audience = pb.audiences[step.audience]
    contact = lib.directory.contacts[member]
    ack_required = purpose is Purpose.ALERT and (
        step.ack if step.ack is not None else audience.ack is not None
    )
    key = message_key(facts.id, purpose, seq, index, member)
    not_before = facts.opened_at + step.after
    next_update = promised_update(next_update, not_before, facts.opened_at)
    deadline = None
    if ack_required:
        within = audience.ack.within if audience.ack else timedelta(minutes=10)
        deadline = not_before + within
    extra = MessageExtras(
        ack_required=ack_required,
        ack_url=ack_link(key) if ack_required and ack_link else None,
        next_update=next_update,
    )
    renderings = {
        kind: render_one(
            lib,
            pb,
            facts,
            template or step.template,
            kind,
            contact,
            step.audience,
            audience.sms_parts,
            extra,
            sink=(sink_for, sink_count) if sink_for else None,
            memo=memo,
        )
        for kind in dict.fromkeys(channel_kind(c) for c in channels)
    }
    if memo is not None:
        renderings = memo.bundle(renderings)
    return PlannedMessage(
        key=key,
        incident_id=facts.id,
        purpose=purpose,
        step=index,
        audience=step.audience,
        recipient=member,
        lang=contact.lang,
        channels=channels,
        renderings=renderings,
        priority=priority_of(pb, step.audience, facts.drill),
        not_before=not_before,
        ack_required=ack_required,
        ack_deadline=deadline,
        escalate_to=audience.ack.escalate_to if ack_required and audience.ack else None,
        external=audience.external and not facts.drill,
        drill=facts.drill,
        sink_for=sink_for,
    )


def _drill_sink(
    lib: Sources,
    pb: Playbook,
    facts: IncidentFacts,
    index: int,
    step: Step,
    next_update: datetime | None,
) -> Iterable[PlannedMessage]:
    """In a drill, an external audience's statement goes to the reporting officer only."""
    officer = lib.directory.contacts.get(facts.reporter)
    if officer is None:
        return []
    channels = lib.usable(officer, step.channels)
    if not channels:  # the officer may not have e.g. email: use any chat they have
        channels = lib.usable(officer, officer.chats) or (("sms",) if officer.phone else ())
    count = len(pb.audiences[step.audience].members)
    sink_step = step.model_copy(update={"channels": list(channels), "ack": False})
    return [
        _message(
            lib,
            pb,
            facts,
            Purpose.DRILL_SINK,
            seq=0,
            index=index,
            step=sink_step,
            member=facts.reporter,
            channels=channels,
            next_update=next_update,
            ack_link=None,
            sink_for=step.audience,
            sink_count=count,
        )
    ]


def plan_statement(
    lib: Sources,
    facts: IncidentFacts,
    purpose: Purpose,
    template: str,
    targets: Iterable[tuple[str, str, tuple[str, ...]]],
    seq: int,
    at: datetime,
    preface: dict[str, str] | None = None,
) -> Plan:
    """A statement (update, all-clear, referral, escalation) to (audience, contact, channels).

    Drill rules hold here too: an external audience never receives anything in a drill.
    """
    pb = lib.playbook(facts.factory)
    out: list[PlannedMessage] = []
    seen: set[str] = set()
    memo = RenderMemo()
    for audience, member, channels in targets:
        aud = pb.audiences.get(audience)
        contact = lib.directory.contacts.get(member)
        if aud is None or contact is None or member in seen:
            continue
        if facts.drill and aud.external:
            continue
        seen.add(member)
        usable = lib.usable(contact, channels)
        note = (preface or {}).get(contact.lang, "")
        extra = MessageExtras()
        renderings = {
            kind: render_one(
                lib,
                pb,
                facts,
                template,
                kind,
                contact,
                audience,
                aud.sms_parts,
                extra,
                note=note,
                memo=memo,
            )
            for kind in dict.fromkeys(channel_kind(c) for c in usable)
        }
        out.append(
            PlannedMessage(
                key=message_key(facts.id, purpose, seq, 0, member),
                incident_id=facts.id,
                purpose=purpose,
                step=0,
                audience=audience,
                recipient=member,
                lang=contact.lang,
                channels=usable,
                renderings=renderings,
                priority=priority_of(pb, audience, facts.drill),
                not_before=at,
                external=aud.external and not facts.drill,
                drill=facts.drill,
            )
        )
    return Plan(tuple(out))


def plan_notice(
    lib: Sources,
    facts: IncidentFacts,
    texts: dict[str, str],
    tag: str,
    at: datetime,
    recipients: Iterable[str] | None = None,
    html: bool = False,
) -> Plan:
    """crisisd telling people something (a failure, a reminder, a drill score): no template.

    ``texts`` by language, plain text (escaped here for chat) unless ``html`` says it is
    already Telegram HTML. Goes to the reporting officer unless ``recipients`` are given.
    ``tag`` makes the keys unique.
    """
    out: list[PlannedMessage] = []
    for who in dict.fromkeys(recipients if recipients is not None else [facts.reporter]):
        person = lib.directory.contacts.get(who)
        if person is None:
            continue
        lang = person.lang
        text = texts.get(lang) or texts.get("en") or next(iter(texts.values()))
        channels = lib.usable(person, [*person.chats, "sms", "email"])
        renderings: dict[str, Rendering] = {}
        for kind in dict.fromkeys(channel_kind(c) for c in channels):
            renderings[kind] = _notice_rendering(kind, lang, text, html, person.name.get(lang))
        out.append(
            PlannedMessage(
                key=f"{facts.id}/{Purpose.NOTICE.value}/{tag}/{who}",
                incident_id=facts.id,
                purpose=Purpose.NOTICE,
                step=0,
                audience="notice",
                recipient=who,
                lang=lang,
                channels=channels,
                renderings=renderings,
                priority=5,
                not_before=at,
                drill=facts.drill,
            )
        )
    return Plan(tuple(out))


_TAGS = re.compile(r"<[^>]+>")


def _notice_rendering(kind: str, lang: str, text: str, html: bool, to: str = "") -> Rendering:
    mark = "[crisisd] "
    plain = unescape(_TAGS.sub("", text)) if html else text
    if kind == "chat":
        body = text if html else str(escape(text))
        if lang == "fa" and not body.startswith("\u200f"):
            body = "\u200f" + body
        body = fit_telegram_html(body)
        return Rendering(kind=kind, text=body)
    if kind == "sms":
        body = fit_sms(mark + plain, 3)
        return Rendering(kind=kind, text=body, sms_parts=sms_info(body).parts)
    subject = (mark + plain.strip().splitlines()[0])[:150] if plain.strip() else mark
    return Rendering(kind=kind, text=plain, subject=subject, to_name=to)
