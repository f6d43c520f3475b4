"""What an action would send, planned without storing anything, for the officer's preview.

The open preview is :func:`crisisd.preview.preview_open`. Update, all-clear and takeover
follow :class:`~crisisd.incidents.IncidentService` step by step (same targets, same
templates, same planner), so the preview is what ``update`` / ``resolve`` / ``takeover``
will store. (Duplicated until the service offers ``plan_update`` and friends.)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from crisisd.domain import DETAILS_LIMIT, IncidentFacts, IncidentStatus, Plan, Purpose
from crisisd.incidents import IncidentService
from crisisd.library import Library
from crisisd.planner import plan_open, plan_statement
from crisisd.playbook import Playbook
from crisisd.store import IncidentRow, MessageRow
from crisisd.templates import clean_user_text

Targets = list[tuple[str, str, tuple[str, ...]]]


def open_plan(
    lib: Library,
    *,
    factory: str,
    incident_type: str,
    severity: str,
    details: str,
    reporter: str,
    drill: bool,
    drill_audiences: tuple[str, ...] | None,
    now: datetime,
) -> Plan:
    """What opening this report would store (the drill audiences included)."""
    facts = IncidentFacts(
        id="PREVIEW",
        factory=factory,
        incident_type=incident_type,
        severity=severity,
        reporter=reporter,
        opened_at=now,
        details=clean_user_text(details, DETAILS_LIMIT),
        drill=drill,
        drill_audiences=drill_audiences,
    )
    return plan_open(lib, facts)


def update_plan(service: IncidentService, row: IncidentRow, details: str, now: datetime) -> Plan:
    """The next update statement: internal audiences get it, press the referral after a
    takeover."""
    lib = service.lib
    pb = lib.playbook(row.factory)
    number = row.update_number + 1
    facts = replace(
        service.facts_of(row),
        update_number=number,
        update_details=clean_user_text(details, DETAILS_LIMIT),
    )
    upd = pb.statements.update
    internal: Targets = []
    external: Targets = []
    for aid in upd.audiences:
        for member in pb.audiences[aid].members:
            target = (aid, member, tuple(upd.channels))
            (external if pb.audiences[aid].external else internal).append(target)
    template = upd.template
    if row.status == IncidentStatus.TAKEN_OVER.value:
        template = pb.statements.takeover.template
    first = plan_statement(lib, facts, Purpose.UPDATE, upd.template, internal, number, now)
    second = plan_statement(lib, facts, Purpose.UPDATE, template, external, number, now)
    return Plan(first.messages + second.messages)


def told(pb: Playbook, msgs: list[MessageRow]) -> Targets:
    """Everyone a message reached, with the channel that reached them first."""
    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for m in msgs:
        if m.status != "sent" or m.recipient in out or m.sink_for or m.audience not in pb.audiences:
            continue
        order = [m.sent_channel or m.channel, *(c for c in m.channels if c != m.sent_channel)]
        out[m.recipient] = (m.audience, m.recipient, tuple(order))
    return list(out.values())


def resolve_plan(
    service: IncidentService, row: IncidentRow, msgs: list[MessageRow], now: datetime
) -> Plan:
    """The all-clear to everyone who was told."""
    lib = service.lib
    pb = lib.playbook(row.factory)
    facts = replace(service.facts_of(row), status=IncidentStatus.RESOLVED)
    template = pb.statements.all_clear.template
    return plan_statement(lib, facts, Purpose.ALL_CLEAR, template, told(pb, msgs), 0, now)


def takeover_plan(
    service: IncidentService, row: IncidentRow, msgs: list[MessageRow], now: datetime
) -> tuple[Plan, int]:
    """The referral to the external audiences, and how many of their messages are cancelled."""
    lib = service.lib
    pb = lib.playbook(row.factory)
    external = [a for a, aud in pb.audiences.items() if aud.external]
    sev = pb.plan_for(row.incident_type, row.severity)
    targets = [
        (s.audience, m, tuple(s.channels))
        for s in sev.steps
        if s.audience in external
        for m in pb.audiences[s.audience].members
    ]
    facts = replace(service.facts_of(row), status=IncidentStatus.TAKEN_OVER)
    template = pb.statements.takeover.template
    plan = plan_statement(lib, facts, Purpose.TAKEOVER, template, targets, 0, now)
    pending = sum(
        1
        for m in msgs
        if m.status == "pending"
        and m.audience in external
        and m.purpose in (Purpose.ALERT.value, Purpose.UPDATE.value)
    )
    return plan, pending
