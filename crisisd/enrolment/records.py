"""Enrolment records: how invites and officers' notices about enrolment reach the outbox.

Every outbox message belongs to an incident row, and that is where rate limits, retries,
failover and the audit trail live. So what enrolment sends (an invite batch, "X blocked
the bot", "X stopped alerts") is planned as notices (``plan_notice``) on a *record*: an
incident row of type ``enrolment`` (severity ``invite`` or ``notice``), opened by
``crisisd`` already resolved, with its own audit entry. `crisisd status` shows only open
incidents, so records stay out of the way; `crisisd status --all` and `crisisd report <id>`
show them like any closed incident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from crisisd.domain import IncidentFacts, IncidentStatus, Plan, new_incident_id
from crisisd.errors import IncidentIdTaken
from crisisd.library.model import Library
from crisisd.planning.planner import plan_notice
from crisisd.store import AuditEntry, Store

ENROLMENT = "enrolment"  # incident_type of a record, and its source
INVITE, NOTICE = "invite", "notice"  # a record's severity: what it carries
NOTICE_PRIORITY = 60  # after every alert (10-50), before routine invites
INVITE_PRIORITY = 90  # invites wait behind everything else


def factories_of(lib: Library, contact: str) -> list[str]:
    """The factories whose playbook names ``contact``: as an officer or in an audience."""
    return sorted(
        fid
        for fid, pb in lib.playbooks.items()
        if contact in pb.factory.officers
        or any(contact in aud.members for aud in pb.audiences.values())
    )


def with_priority(plan: Plan, priority: int) -> Plan:
    return replace(plan, messages=tuple(replace(m, priority=priority) for m in plan.messages))


async def open_record(
    store: Store,
    factory: str,
    kind: str,
    now: datetime,
    plan_for: Callable[[IncidentFacts], Plan],
    detail: dict[str, object],
    actor: str = "crisisd",
    once: str | None = None,
) -> tuple[str, bool]:
    """Write a record of ``kind`` for ``factory`` with the messages ``plan_for`` plans on it,
    in one transaction; (record id, created). ``once``: an idempotency key, so a notice two
    daemons decide on at the same time is written once."""
    for _ in range(8):
        facts = IncidentFacts(
            id=new_incident_id(),
            factory=factory,
            incident_type=ENROLMENT,
            severity=kind,
            reporter=actor,
            opened_at=now,
            status=IncidentStatus.RESOLVED,
        )
        plan = plan_for(facts)
        entry = AuditEntry(facts.id, now, actor, f"{ENROLMENT}.{kind}", None, detail)
        try:
            rid, created = await store.open_incident(
                facts, plan, entry, source=ENROLMENT, idempotency_key=once
            )
        except IncidentIdTaken:
            continue
        if created:
            await store.add_plan(rid, Plan(), [], now, changes={"closed_at": now})
        return rid, created
    raise IncidentIdTaken("could not draw a free id for an enrolment record; try again")


async def tell_officers(
    store: Store,
    lib: Library,
    contact: str,
    texts: dict[str, str],
    tag: str,
    now: datetime,
    once: str | None = None,
) -> list[str]:
    """Tell the officers of every factory that names ``contact`` (``texts`` by language,
    plain), each officer once; one record per factory. Returns the records written."""
    written: list[str] = []
    told: set[str] = {contact}  # an officer of two factories hears it once
    for fid in factories_of(lib, contact):
        officers: Sequence[str] = [o for o in lib.playbooks[fid].factory.officers if o not in told]
        told.update(officers)
        if not officers:
            continue

        def plan(facts: IncidentFacts, to: Sequence[str] = officers) -> Plan:
            return with_priority(plan_notice(lib, facts, texts, tag, now, to), NOTICE_PRIORITY)

        detail: dict[str, object] = {"contact": contact, "about": tag, "to": list(officers)}
        key = f"{once}:{fid}" if once else None
        rid, created = await open_record(store, fid, NOTICE, now, plan, detail, once=key)
        if created:
            written.append(rid)
    return written
