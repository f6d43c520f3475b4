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

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from crisisd.domain import IncidentFacts, MessageStatus, Plan, PlannedMessage, Rendering, ack_code
from crisisd.store.outcomes import AUDIT_NAMES
from crisisd.store.prepared import Memo, Prepared, PreparedCache, Target, sqlite_errors
from crisisd.store.records import AuditEntry
from crisisd.store.sqlitethread import submit, transaction
from crisisd.store.tables import audit, incidents, messages, tasks

CHUNK = 500  # rows made a chunk at a time: memory stays flat for a province-sized plan

MESSAGE_NAMES = (
    "key", "incident_id", "purpose", "step", "audience", "recipient", "lang", "channels",
    "channel_index", "channel", "renderings", "priority", "planned_at", "not_before", "status",
    "attempts", "ack_required", "ack_deadline", "ack_code", "escalate_to", "escalated",
    "external", "drill", "sink_for", "last_error",
)  # fmt: skip
TAKEN_NAMES = (*MESSAGE_NAMES, "lease_until", "worker")  # a message taken as it is written
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
    m: PlannedMessage,
    at: datetime,
    shared: dict[int, dict[str, Any]],
    lease: Lease | None = None,
    leased: bool = False,
) -> tuple[Any, ...]:
    """A planned message's values, in :data:`MESSAGE_NAMES` order, or with ``leased`` in
    :data:`TAKEN_NAMES` order; with ``lease``, claimed (one attempt, as a claim leaves it:
    taking.py)."""
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
        *(lease or ((None, None) if leased else ())),
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


Write = tuple[Prepared, list[tuple[Any, ...]]]  # a statement and its rows' parameters


def incident_insert(prepared: PreparedCache, row: dict[str, Any]) -> Prepared:
    """The incident's insert, which says itself when its idempotency key was used already
    (``ON CONFLICT DO NOTHING``): an open with a key spends no statement looking first."""
    names = tuple(row)
    return prepared.get(
        ("incident", names),
        lambda: _insert_once(prepared.dialect.name),
        returning=[incidents.c.id],
        columns=names,
    )


async def insert_incident(
    prepared: PreparedCache, conn: Target, row: dict[str, Any], entry: AuditEntry
) -> bool:
    """The incident's row and the audit entry that says it was opened. False, and nothing
    written, when an incident with the same idempotency key is there already. An open
    that races one with the same key waits for it, then writes nothing."""
    if not await incident_insert(prepared, row).fetch(conn, row):
        return False
    await insert_audit(prepared, conn, [entry])
    return True


def _insert_once(dialect: str) -> sa.Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key = [incidents.c.idempotency_key]  # unique; NULLs (no key) never conflict
    return insert(incidents).on_conflict_do_nothing(index_elements=key).returning(incidents.c.id)


def audit_write(prepared: PreparedCache, entries: Sequence[AuditEntry]) -> Write:
    trail = prepared.get("audit", lambda: sa.insert(audit), columns=AUDIT_NAMES)
    rows = [tuple(audit_values(e).values()) for e in entries]
    return trail, trail.batch(rows, AUDIT_NAMES)


async def insert_audit(
    prepared: PreparedCache, conn: Target, entries: Sequence[AuditEntry]
) -> None:
    trail, batch = audit_write(prepared, entries)
    await trail.run(conn, batch)


def message_writes(
    prepared: PreparedCache,
    planned: Sequence[PlannedMessage],
    plan: Plan,
    at: datetime,
    taken: Mapping[str, Lease] | None = None,
) -> Iterator[Write]:
    """``planned`` (the plan's messages still to write) a chunk at a time, then the plan's
    tasks; ``taken``: messages written already claimed, by key (taking.py)."""
    rows = prepared.get("messages", lambda: sa.insert(messages), columns=MESSAGE_NAMES)
    shared: dict[int, dict[str, Any]] = {}  # renderings shared by many messages: once
    memo: Memo = {}  # times and names recur across a plan's rows: each processed once
    for chunk in chunks(planned, CHUNK):
        if taken:  # a small open's one chunk, with the lease columns bound
            leased = prepared.get(
                "messages.taken", lambda: sa.insert(messages), columns=TAKEN_NAMES
            )
            values = [message_row(m, at, shared, taken.get(m.key), leased=True) for m in chunk]
            yield leased, leased.batch(values, TAKEN_NAMES, memo)
        else:  # no lease columns: an open that takes nothing (a province-sized one)
            yield rows, rows.batch([message_row(m, at, shared) for m in chunk], MESSAGE_NAMES, memo)
    if plan.tasks and plan.messages:
        inc = plan.messages[0].incident_id
        todo = prepared.get("tasks", lambda: sa.insert(tasks), columns=TASK_NAMES)
        values = [(inc, t.title_fa, t.title_en, t.due_at) for t in plan.tasks]
        yield todo, todo.batch(values, TASK_NAMES)


async def insert_messages(
    prepared: PreparedCache,
    conn: Target,
    planned: Sequence[PlannedMessage],
    plan: Plan,
    at: datetime,
) -> None:
    """:func:`message_writes` with nothing taken (a large open, a plan added later), each
    chunk built as the one before is written."""
    for stmt, batch in message_writes(prepared, planned, plan, at):
        await stmt.run(conn, batch)


async def open_in_one_trip(
    raw: aiosqlite.Connection,
    incident: tuple[Prepared, tuple[Any, ...]],
    find: tuple[Prepared, tuple[Any, ...]],
    writes: Sequence[Write],
    read_back: tuple[Prepared, tuple[Any, ...]] | None,
) -> tuple[str | None, str | None]:
    """SQLite: a small open's transaction in one trip to aiosqlite's thread instead of seven
    (``BEGIN``, the incident, its audit entry, its messages, its tasks, the messages taken
    read back, ``COMMIT``), each of which waited for the event loop's turn and the GIL
    behind a backlog's sends. Every parameter is made before, on the event loop.

    Returns (the earlier incident's id when the idempotency key was used, and nothing was
    written; the taken messages packed, as ``read_back`` reads them)."""

    def run(db: sqlite3.Connection) -> tuple[str | None, str | None]:
        if not db.execute(incident[0].sql, incident[1]).fetchall():
            found = db.execute(find[0].sql, find[1]).fetchall()
            return (str(found[0][0]) if found else ""), None  # nothing written
        for stmt, batch in writes:
            if batch:
                db.executemany(stmt.sql, batch)
        if read_back is None:
            return None, None
        got = db.execute(read_back[0].sql, read_back[1]).fetchone()
        return None, None if got is None else got[0]

    queued = submit(raw, lambda db: transaction(db, run))
    try:
        with sqlite_errors(incident[0].sql):
            return await asyncio.shield(queued)
    except asyncio.CancelledError:
        # let it finish first (however often cancelled meanwhile: it is bounded by SQLite's
        # busy timeout): what it took is then given back after its commit, not before
        while not queued.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([queued])
        if not queued.cancelled():
            queued.exception()  # retrieved: the cancellation is what the caller hears
        raise
