"""The store: incidents, the outbox, attempts, acks, tasks and the audit log, on one engine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite
import sqlalchemy as sa
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.domain import IncidentFacts, MessageStatus, Plan, PlannedMessage
from crisisd.errors import IncidentIdTaken, StoreConflict
from crisisd.store import migrate
from crisisd.store.checkpoint import WalCheckpoints
from crisisd.store.driver_errors import store_operation
from crisisd.store.due import DueMixin
from crisisd.store.engine import WriteGate, create_engine
from crisisd.store.opening import (
    CHUNK,
    Lease,
    audit_values,
    audit_write,
    chunks,
    incident_insert,
    incident_values,
    insert_incident,
    insert_messages,
    message_writes,
    open_in_one_trip,
)
from crisisd.store.outbox import OutboxMixin
from crisisd.store.pgopen import one_statement, taken_rows
from crisisd.store.prepared import PreparedCache
from crisisd.store.records import AuditEntry, IncidentRow, MessageRow
from crisisd.store.settings import SettingsMixin
from crisisd.store.stats import OutboxStats
from crisisd.store.tables import audit, incidents, messages
from crisisd.store.taking import (
    AGAIN_AFTER,
    Take,
    chosen,
    give_back_later,
    packed_read,
    taken_of,
)

log = structlog.get_logger("crisisd.store.core")


class Store(SettingsMixin, DueMixin, OutboxMixin):
    """Durable state. Every method is one transaction; nothing is half-written.

    Every operation raises a :class:`crisisd.errors.StoreError` subclass, never a driver's
    own error (see driver_errors.py).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url)
        self.dialect = self.engine.dialect.name
        self._gate = WriteGate() if self.dialect == "sqlite" else None
        self._prepared = PreparedCache(self.engine.dialect)
        self._hot = None  # the dispatcher's own connections (kept.py)
        self._lanes = {}
        self._stats = OutboxStats(self.engine)  # PostgreSQL: fresh statistics (stats.py)
        self._checkpoints = WalCheckpoints(self.engine, self._gate)  # SQLite's kept connection's
        self._giving_back: set[asyncio.Task[Any]] = set()  # an open's, when it failed (taking.py)

    @store_operation("apply the schema migrations")
    async def start(self) -> None:
        """Apply pending migrations (safe on every start)."""
        await migrate.upgrade(self.engine)

    async def aclose(self) -> None:
        if self._giving_back:  # the second try of a give-back is not waited for
            await asyncio.wait(self._giving_back, timeout=AGAIN_AFTER + 1)
            for task in self._giving_back:
                task.cancel()
        await self._stats.aclose()
        await self._checkpoints.aclose()
        await self._close_hot()
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except (OSError, sa.exc.SQLAlchemyError):
            return False
        return True

    # -- incidents --------------------------------------------------------------------------

    @store_operation("open an incident")
    async def open_incident(
        self,
        facts: IncidentFacts,
        plan: Plan,
        entry: AuditEntry,
        *,
        source: str,
        idempotency_key: str | None,
        drill_window_end: datetime | None = None,
        take: Take | None = None,
    ) -> tuple[str, bool]:
        """Write the incident, its messages, tasks and audit entry in one transaction.

        Returns (incident id, created). With an idempotency key already used, the
        earlier incident's id is returned and nothing is written. With ``take`` (the
        daemon's dispatcher), its share of the messages is written already claimed and
        handed to it once committed (taking.py).
        """
        row = {
            **incident_values(facts, plan),
            "source": source,
            "idempotency_key": idempotency_key,
            "updated_at": facts.opened_at,
            "drill_window_end": drill_window_end,
            "reported": False,
        }
        planned = _one_per_key(plan)
        lease: Lease | None = None  # of the messages taken as they are written (taking.py)
        taken: dict[str, Lease] = {}
        # Only a small open takes: it commits within moments of the lease's start, where a
        # province-sized one could outlast the lease and be claimed again as it is sent.
        if take is not None and len(plan.messages) <= CHUNK:
            lease = (self._lease_mark(take.until), take.worker)
            taken = {m.key: lease for m in chosen(planned, take)}
        todo = _Open(row, entry, planned, plan, taken, lease if taken else None, idempotency_key)
        with self._back_if_failed(todo.lease):
            try:
                # one chunk of rows or fewer: small enough to go beside a WAL checkpoint
                # (engine.py), and on SQLite written in one trip to aiosqlite's thread
                if len(plan.messages) <= CHUNK:
                    earlier, handed = await self._open_at_once(todo)
                else:
                    earlier, handed = await self._open_rows(todo)
                if earlier is not None:  # the same request, made before: nothing more written
                    return earlier, False
            except IntegrityError as exc:
                if idempotency_key is not None:
                    earlier = await self._by_key(idempotency_key)
                    if earlier is not None:  # the same request, committed meanwhile
                        return earlier, False
                if await self._id_taken(facts.id):
                    raise IncidentIdTaken(
                        f"incident id {facts.id} is already in use — draw another"
                    ) from exc
                raise
        self._stats.queued(len(plan.messages))
        if take is not None and lease is not None and handed:
            try:
                take.hand(handed)
            except Exception as exc:  # noqa: BLE001 - the open stands; the claims go back
                log.error("store.hand_failed", incident_id=facts.id, error=repr(exc))
                self._give_back_later(lease)
        return facts.id, True

    async def _open_rows(self, todo: _Open) -> tuple[str | None, list[MessageRow]]:
        """A large open's statements one by one, a chunk of rows at a time (it takes none:
        it could outlast the lease)."""
        prepared, at = self._prepared, todo.row["opened_at"]
        async with self._opening(small=False) as conn:
            if not await insert_incident(prepared, conn, todo.row, todo.entry):
                find = prepared.get("open.key", _by_key_statement, returning=[incidents.c.id])
                return _earlier(await find.fetch(conn, {"key": todo.key})), []
            await insert_messages(prepared, conn, todo.planned, todo.plan, at)
            return None, []

    async def _open_at_once(self, todo: _Open) -> tuple[str | None, list[MessageRow]]:
        """A small open: on SQLite every statement in one trip (opening.py), on PostgreSQL
        one statement (pgopen.py)."""
        prepared, at = self._prepared, todo.row["opened_at"]
        incident = incident_insert(prepared, todo.row)
        find = prepared.get("open.key", _by_key_statement, returning=[incidents.c.id])
        writes = [
            audit_write(prepared, [todo.entry]),
            *message_writes(prepared, todo.planned, todo.plan, at, todo.taken),
        ]
        if self._gate is None:
            one, params = one_statement(
                prepared, (incident, incident.params(todo.row)), writes, todo.lease is not None
            )
            async with self._opening(small=True, alone=True) as conn:
                found = await one.fetch_params(conn, params)
                if not found:  # the idempotency key was used: nothing written
                    return _earlier(await find.fetch(conn, {"key": todo.key})), []
            return None, taken_rows(found)
        back = None if todo.lease is None else packed_read(prepared, todo.lease)
        async with self._opening(small=True, alone=True) as raw:
            if not isinstance(raw, aiosqlite.Connection):  # pragma: no cover - SQLite only
                raise TypeError("an open in one trip needs SQLite's kept connection")
            earlier, packed = await open_in_one_trip(
                raw,
                (incident, incident.params(todo.row)),
                (find, find.params({"key": todo.key})),
                writes,
                back,
            )
        if earlier is not None:
            return _earlier([[earlier]] if earlier else []), []
        return None, [] if back is None else taken_of(back[0], packed)

    def _give_back_later(self, lease: Lease) -> None:
        until, worker = lease
        give_back_later(self._giving_back, lambda: self._give_back(worker, until=until), lease)

    @contextlib.contextmanager
    def _back_if_failed(self, lease: Lease | None) -> Iterator[None]:
        """What was taken under ``lease`` is given back when this fails: the open may have
        committed even so (cancelled as its commit was under way)."""
        try:
            yield
        except BaseException:
            if lease is not None:
                self._give_back_later(lease)
            raise

    async def _by_key(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(incidents.c.id).where(incidents.c.idempotency_key == key)
            )
        return None if found is None else str(found)

    async def _id_taken(self, incident_id: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(incidents.c.id).where(incidents.c.id == incident_id)
            )
        return found is not None

    @store_operation("look up an incident id")
    async def incident_exists(self, incident_id: str) -> bool:
        return await self._id_taken(incident_id)

    @store_operation("add messages to an incident")
    async def add_plan(
        self,
        incident_id: str,
        plan: Plan,
        entries: Sequence[AuditEntry],
        at: datetime,
        changes: dict[str, Any] | None = None,
        cancel: dict[str, Any] | None = None,
        escalated_ids: Iterable[int] = (),
    ) -> int:
        """Add messages to an incident, change its row, cancel pending ones: atomically.

        ``cancel``: {"audiences": [...] | None, "purposes": [...] | None} selects pending
        messages of the incident to cancel. Returns how many were cancelled.
        ``escalated_ids``: alerts this plan escalates; when one of them was acknowledged or
        escalated meanwhile, nothing is written and -1 is returned.
        """
        try:
            return await self._add_plan(
                incident_id, plan, entries, at, changes, cancel, escalated_ids
            )
        except _Superseded:
            return -1

    async def _add_plan(
        self,
        incident_id: str,
        plan: Plan,
        entries: Sequence[AuditEntry],
        at: datetime,
        changes: dict[str, Any] | None,
        cancel: dict[str, Any] | None,
        escalated_ids: Iterable[int],
    ) -> int:
        cancelled = 0
        async with self.write(queues=bool(plan.messages)) as conn:
            if cancel is not None:
                # Claimed ones too: a worker's later "retry" must not bring them back
                # (record() only updates messages still in "sending").
                cond = [
                    messages.c.incident_id == incident_id,
                    messages.c.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]),
                ]
                if cancel.get("audiences") is not None:
                    cond.append(messages.c.audience.in_(cancel["audiences"]))
                if cancel.get("purposes") is not None:
                    cond.append(messages.c.purpose.in_(cancel["purposes"]))
                result = await conn.execute(
                    sa.update(messages)
                    .where(*cond)
                    .values(status=MessageStatus.CANCELLED, last_error="cancelled")
                )
                cancelled = result.rowcount
            ids = list(escalated_ids)
            if ids:
                marked = await conn.execute(
                    sa.update(messages)
                    .where(
                        messages.c.id.in_(ids),
                        messages.c.escalated.is_(False),
                        messages.c.acked_at.is_(None),
                    )
                    .values(escalated=True)
                )
                if marked.rowcount != len(ids):
                    raise _Superseded  # acknowledged (or escalated) since the sweep looked

            if changes:
                await conn.execute(
                    sa.update(incidents)
                    .where(incidents.c.id == incident_id)
                    .values(**changes, updated_at=at)
                )
            await self._insert_plan(conn, plan, at)
            for entry in entries:
                await conn.execute(sa.insert(audit).values(**audit_values(entry)))
        self._stats.queued(len(plan.messages))
        return cancelled

    async def _insert_plan(self, conn: AsyncConnection, plan: Plan, at: datetime) -> None:
        """The plan's messages not stored yet (planning twice adds nothing), and its tasks."""
        planned = _one_per_key(plan)
        existing: set[str] = set()
        for chunk in chunks([m.key for m in planned], CHUNK):
            found = await conn.execute(sa.select(messages.c.key).where(messages.c.key.in_(chunk)))
            existing.update(k for (k,) in found)
        planned = [m for m in planned if m.key not in existing]
        await insert_messages(self._prepared, conn, planned, plan, at)

    @store_operation("read an incident")
    async def get_incident(self, incident_id: str) -> IncidentRow | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(incidents).where(incidents.c.id == incident_id))
            ).first()
        return IncidentRow.from_row(row) if row else None

    @store_operation("list incidents")
    async def list_incidents(
        self, statuses: Sequence[str] | None = None, factory: str | None = None, limit: int = 100
    ) -> list[IncidentRow]:
        query = sa.select(incidents).order_by(incidents.c.opened_at.desc()).limit(limit)
        if statuses is not None:
            query = query.where(incidents.c.status.in_(list(statuses)))
        if factory is not None:
            query = query.where(incidents.c.factory == factory)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [IncidentRow.from_row(r) for r in rows]

    @store_operation("read an incident's messages")
    async def messages_of(self, incident_id: str) -> list[MessageRow]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages)
                    .where(messages.c.incident_id == incident_id)
                    .order_by(messages.c.priority, messages.c.id)
                )
            ).all()
        return [MessageRow.from_row(r) for r in rows]

    @store_operation("write to the audit trail")
    async def add_audit(self, entry: AuditEntry) -> None:
        async with self.write() as conn:
            await conn.execute(sa.insert(audit).values(**audit_values(entry)))

    @store_operation("read the audit trail")
    async def audit_of(self, incident_id: str) -> list[AuditEntry]:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit).where(audit.c.incident_id == incident_id).order_by(audit.c.id)
                )
            ).all()
        return [
            AuditEntry(r.incident_id, r.at, r.actor, r.action, r.channel, r.detail) for r in rows
        ]


@dataclass(frozen=True, slots=True)
class _Open:
    """What an open writes (Store.open_incident)."""

    row: dict[str, Any]
    entry: AuditEntry
    planned: list[PlannedMessage]
    plan: Plan
    taken: dict[str, Lease]
    lease: Lease | None  # of the messages taken, when some are
    key: str | None


def _earlier(found: Sequence[Sequence[Any]]) -> str:
    """The id of the incident that holds the idempotency key (found as the open wrote)."""
    if not found:  # pragma: no cover - deleted as we looked
        raise StoreConflict("the incident with this idempotency key was removed meanwhile; retry")
    return str(found[0][0])


class _Superseded(Exception):
    """Rolls an add_plan back: what it was based on has changed."""


def _one_per_key(plan: Plan) -> list[PlannedMessage]:
    """One message per key: a plan may name the same message twice (e.g. a person who is in
    both the alerted and the escalation audience); the last one counts."""
    return list({m.key: m for m in reversed(plan.messages)}.values())[::-1]


def _by_key_statement() -> sa.Select[tuple[str]]:
    return sa.select(incidents.c.id).where(incidents.c.idempotency_key == sa.bindparam("key"))
