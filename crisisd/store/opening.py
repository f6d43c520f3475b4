"""The rows of an incident's plan, written as prepared statements (prepared.py).

An incident is opened while the dispatcher may be sending a backlog. Through SQLAlchemy
each statement of the open's transaction cost three or four trips to aiosqlite's thread
(a cursor, the statement, a fetch, the cursor's close), 21 for a small incident, and each
trip waits for the event loop, busy with the sends. Prepared, each statement is one trip
(the transaction 6 on SQLite's kept connection: kept.py), and a 100,000-message plan skips
SQLAlchemy's per-row parameter processing. The values written are the ones SQLAlchemy would
write: the same column processors apply (prepared.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from crisisd.domain import IncidentFacts, MessageStatus, Plan, PlannedMessage, Rendering, ack_code
from crisisd.store.outcomes import AUDIT_NAMES
from crisisd.store.prepared import Memo, PreparedCache, Target
from crisisd.store.records import AuditEntry
from crisisd.store.tables import audit, incidents, messages, tasks

CHUNK = 500  # rows made a chunk at a time: memory stays flat for a province-sized plan

MESSAGE_NAMES = (
    "key", "incident_id", "purpose", "step", "audience", "recipient", "lang", "channels",
    "channel_index", "channel", "renderings", "priority", "planned_at", "not_before", "status",
    "attempts", "ack_required", "ack_deadline", "ack_code", "escalate_to", "escalated",
    "external", "drill", "sink_for", "last_error", "lease_until", "worker",
)  # fmt: skip
Lease = tuple[datetime, str]  # a message taken as it is written (taking.py): until, worker
TASK_NAMES = ("incident_id", "title_fa", "title_en", "due_at")


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def incident_values(facts: IncidentFacts, plan: Plan) -> dict[str, Any]:
    return {
        "id": facts.id,
        "factory": facts.factory,
        "incident_type": facts.incident_type,
        "severity": facts.severity,
        "status": facts.status,
        "drill": facts.drill,
        "reporter": facts.reporter,
        "details": facts.details,
        "location": facts.location,
        "casualties": facts.casualties.value,
        "opened_at": facts.opened_at,
        "update_number": facts.update_number,
        "update_details": facts.update_details,
        "update_every_s": int(plan.update_every.total_seconds()) if plan.update_every else None,
        "next_update_at": plan.next_update_at,
        "drill_audiences": list(facts.drill_audiences) if facts.drill_audiences else None,
    }


def message_row(
    m: PlannedMessage, at: datetime, shared: dict[int, dict[str, Any]], lease: Lease | None
) -> tuple[Any, ...]:
    """A planned message's values, in :data:`MESSAGE_NAMES` order; with ``lease``, claimed
    (one attempt, as a claim leaves it: taking.py)."""
    reachable = bool(m.channels)
    status = MessageStatus.PENDING if reachable else MessageStatus.FAILED
    return (
        m.key,
        m.incident_id,
        m.purpose,
        m.step,
        m.audience,
        m.recipient,
        m.lang,
        list(m.channels),
        0,
        m.channels[0] if reachable else "",
        {k: _rendering_values(r, shared) for k, r in m.renderings.items()},
        m.priority,
        at,
        m.not_before,
        # A recipient with no reachable channel is a failure the officer must see at once.
        status if lease is None else MessageStatus.SENDING,
        0 if lease is None else 1,
        m.ack_required,
        m.ack_deadline,
        ack_code(m.key),
        m.escalate_to,
        False,
        m.external,
        m.drill,
        m.sink_for,
        None if reachable else "reachable on none of the step's channels",
        *(lease or (None, None)),
    )


def _rendering_values(r: Rendering, shared: dict[int, dict[str, Any]]) -> dict[str, Any]:
    found = shared.get(id(r))  # the plan holds every rendering, so an id is not reused
    if found is None:
        found = shared[id(r)] = asdict(r)
    return found


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    return {
        "incident_id": entry.incident_id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "channel": entry.channel,
        "detail": entry.detail or {},
    }


async def insert_incident(
    prepared: PreparedCache, conn: Target, row: dict[str, Any], entry: AuditEntry
) -> bool:
    """The incident's row and the audit entry that says it was opened. False, and nothing
    written, when an incident with the same idempotency key is there already: the insert
    says so itself (``ON CONFLICT DO NOTHING``), so an open with a key spends no statement
    looking for it first (on PostgreSQL a round trip, on SQLite a trip to aiosqlite's
    thread). An open that races one with the same key waits for it, then writes nothing."""
    names = tuple(row)
    incident = prepared.get(
        ("incident", names),
        lambda: _insert_once(prepared.dialect.name),
        returning=[incidents.c.id],
        columns=names,
    )
    if not await incident.fetch(conn, row):
        return False
    await insert_audit(prepared, conn, [entry])
    return True


def _insert_once(dialect: str) -> sa.Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key = [incidents.c.idempotency_key]  # unique; NULLs (no key) never conflict
    return insert(incidents).on_conflict_do_nothing(index_elements=key).returning(incidents.c.id)


async def insert_audit(
    prepared: PreparedCache, conn: Target, entries: Sequence[AuditEntry]
) -> None:
    trail = prepared.get("audit", lambda: sa.insert(audit), columns=AUDIT_NAMES)
    rows = [tuple(audit_values(e).values()) for e in entries]
    await trail.run(conn, trail.batch(rows, AUDIT_NAMES))


async def insert_messages(
    prepared: PreparedCache,
    conn: Target,
    planned: Sequence[PlannedMessage],
    plan: Plan,
    at: datetime,
    taken: Mapping[str, Lease] | None = None,
) -> None:
    """``planned`` (the plan's messages still to write) and the plan's tasks; ``taken``:
    messages written already claimed, by key (taking.py)."""
    rows = prepared.get("messages", lambda: sa.insert(messages), columns=MESSAGE_NAMES)
    shared: dict[int, dict[str, Any]] = {}  # renderings shared by many messages: once
    memo: Memo = {}  # times and names recur across a plan's rows: each processed once
    lease = (taken or {}).get
    for chunk in chunks(planned, CHUNK):
        values = [message_row(m, at, shared, lease(m.key)) for m in chunk]
        batch = rows.batch(values, MESSAGE_NAMES, memo)
        await rows.run(conn, batch)
    if plan.tasks and plan.messages:
        inc = plan.messages[0].incident_id
        todo = prepared.get("tasks", lambda: sa.insert(tasks), columns=TASK_NAMES)
        values = [(inc, t.title_fa, t.title_en, t.due_at) for t in plan.tasks]
        await todo.run(conn, todo.batch(values, TASK_NAMES))
