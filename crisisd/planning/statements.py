"""What an update, an all-clear or a takeover sends: pure planning, shared by the incident
service (which stores it) and the officers' bot (which previews it first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from crisisd.domain import DETAILS_LIMIT, IncidentFacts, IncidentStatus, Plan, Purpose
from crisisd.planning.planner import plan_statement
from crisisd.planning.sources import Sources
from crisisd.playbook import Playbook
from crisisd.store.records import MessageRow
from crisisd.templates import clean_user_text

Targets = list[tuple[str, str, tuple[str, ...]]]


def external_audiences(pb: Playbook) -> list[str]:
    return [a for a, aud in pb.audiences.items() if aud.external]


def update_plan(
    lib: Sources, facts: IncidentFacts, details: str, now: datetime
) -> tuple[Plan, IncidentFacts]:
    """The next approved update statement; after a takeover the press gets the referral.

    Returns the plan and the facts as they are after the update (number, details).
    """
    pb = lib.playbook(facts.factory)
    after = replace(
        facts,
        update_number=facts.update_number + 1,
        update_details=clean_user_text(details, DETAILS_LIMIT),
    )
    upd = pb.statements.update
    internal: Targets = []
    external: Targets = []
    for aid in upd.audiences:
        if facts.drill and facts.drill_audiences is not None and aid not in facts.drill_audiences:
            continue  # a drill limited to some audiences updates only those
        for member in pb.audiences[aid].members:
            target = (aid, member, tuple(upd.channels))
            (external if pb.audiences[aid].external else internal).append(target)
    press_template = upd.template
    if facts.status == IncidentStatus.TAKEN_OVER:
        press_template = pb.statements.takeover.template
    n = after.update_number
    first = plan_statement(lib, after, Purpose.UPDATE, upd.template, internal, n, now)
    second = plan_statement(lib, after, Purpose.UPDATE, press_template, external, n, now)
    return Plan(first.messages + second.messages), after


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
