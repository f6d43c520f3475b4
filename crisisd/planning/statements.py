"""What an update, an all-clear or a takeover sends: pure planning, shared by the incident
service (which stores it) and the officers' bot (which previews it first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from crisisd.domain import (
    DETAILS_LIMIT,
    IncidentFacts,
    IncidentStatus,
    MessageStatus,
    Plan,
    PlannedMessage,
    Purpose,
    UpdateTexts,
)
from crisisd.planning.planner import plan_statement
from crisisd.planning.sources import Sources
from crisisd.playbook import Playbook
from crisisd.store.records import MessageRow
from crisisd.templates import clean_user_text

Targets = list[tuple[str, str, tuple[str, ...]]]
FOLLOW_GAP = timedelta(seconds=1)  # an update held back goes right after the first statement


def external_audiences(pb: Playbook) -> list[str]:
    return [a for a, aud in pb.audiences.items() if aud.external]


def update_plan(
    lib: Sources,
    facts: IncidentFacts,
    details: str | UpdateTexts,
    now: datetime,
    msgs: Iterable[MessageRow] = (),
    *,
    send_now: bool = False,
) -> tuple[Plan, IncidentFacts]:
    """The next approved update statement; after a takeover the press gets the referral.

    ``details``: one text for everyone, or per audience group and language
    (:class:`UpdateTexts`); an English reader given Persian text sees it labelled so.
    An update never reaches an audience before that audience's first statement of this
    incident is due (``msgs``: the incident's messages so far): it waits and follows it,
    unless ``send_now``. An external audience that was never due anything gets nothing.
    Returns the plan and the facts as they are after the update (number, common details).
    """
    pb = lib.playbook(facts.factory)
    texts = details if isinstance(details, UpdateTexts) else UpdateTexts(common=details)
    after = replace(
        facts,
        update_number=facts.update_number + 1,
        update_details=clean_user_text(texts.common or _any_text(texts), DETAILS_LIMIT),
    )
    upd = pb.statements.update
    due = first_statement_due(msgs)
    groups: dict[tuple[bool, datetime, str], Targets] = {}
    seen: set[str] = set()
    for aid in upd.audiences:
        if facts.drill and facts.drill_audiences is not None and aid not in facts.drill_audiences:
            continue  # a drill limited to some audiences updates only those
        aud = pb.audiences[aid]
        first = due.get(aid)
        if first is None and aud.external:
            continue  # the press never heard of it: an update would be its first news
        at = now if send_now or first is None or first <= now else first + FOLLOW_GAP
        for member in aud.members:
            contact = lib.directory.contacts.get(member)
            if member in seen or contact is None:
                continue
            seen.add(member)
            text = _reader_text(texts, pb.group_of(aid), contact.lang)
            groups.setdefault((aud.external, at, text), []).append(
                (aid, member, tuple(upd.channels))
            )
    press_template = upd.template
    if facts.status == IncidentStatus.TAKEN_OVER:
        press_template = pb.statements.takeover.template
    n = after.update_number
    out: list[PlannedMessage] = []
    for (external, at, text), targets in sorted(groups.items(), key=lambda g: g[0][:2]):
        template = press_template if external else upd.template
        worded = replace(after, update_details=text)
        out.extend(plan_statement(lib, worded, Purpose.UPDATE, template, targets, n, at).messages)
    return Plan(tuple(out)), after


def _any_text(texts: UpdateTexts) -> str:
    return next((s for by_lang in texts.groups.values() for s in by_lang.values() if s), "")


def _reader_text(texts: UpdateTexts, group: str, lang: str) -> str:
    """The reader's text (labelled at rendering if it is in a language they do not read)."""
    return clean_user_text(texts.for_reader(group, lang), DETAILS_LIMIT)


def first_statement_due(msgs: Iterable[MessageRow]) -> dict[str, datetime]:
    """Per audience, when its first message about the incident is (or was) due."""
    due: dict[str, datetime] = {}
    for m in msgs:
        if m.status == MessageStatus.CANCELLED or m.sink_for:
            continue
        if m.purpose in (Purpose.ALERT, Purpose.TAKEOVER):
            due[m.audience] = min(due.get(m.audience, m.not_before), m.not_before)
    return due


def told(pb: Playbook, msgs: Iterable[MessageRow]) -> Targets:
    """Everyone a message reached, with the channel that reached them first."""
    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for m in msgs:
        if m.status != "sent" or m.recipient in out or m.sink_for or m.audience not in pb.audiences:
            continue
        order = [m.sent_channel or m.channel, *(c for c in m.channels if c != m.sent_channel)]
        out[m.recipient] = (m.audience, m.recipient, tuple(order))
    return list(out.values())


def all_clear_plan(
    lib: Sources, facts: IncidentFacts, msgs: Iterable[MessageRow], now: datetime
) -> Plan:
    """The all-clear to everyone who was told."""
    pb = lib.playbook(facts.factory)
    resolved = replace(facts, status=IncidentStatus.RESOLVED)
    template = pb.statements.all_clear.template
    return plan_statement(lib, resolved, Purpose.ALL_CLEAR, template, told(pb, msgs), 0, now)


def takeover_plan(lib: Sources, facts: IncidentFacts, now: datetime) -> Plan:
    """The referral to the official spokesperson, for every external audience of the incident."""
    pb = lib.playbook(facts.factory)
    external = external_audiences(pb)
    sev = pb.plan_for(facts.incident_type, facts.severity)
    targets = [
        (s.audience, m, tuple(s.channels))
        for s in sev.steps
        if s.audience in external
        for m in pb.audiences[s.audience].members
    ]
    taken = replace(facts, status=IncidentStatus.TAKEN_OVER)
    template = pb.statements.takeover.template
    return plan_statement(lib, taken, Purpose.TAKEOVER, template, targets, 0, now)


def pending_press(pb: Playbook, msgs: Iterable[MessageRow]) -> int:
    """External-audience messages a takeover would cancel."""
    external = external_audiences(pb)
    return sum(
        1
        for m in msgs
        if m.status == "pending"
        and m.audience in external
        and m.purpose in (Purpose.ALERT.value, Purpose.UPDATE.value)
    )
