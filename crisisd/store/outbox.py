"""Outbox operations: claim due messages under a lease, record outcomes in batches, acks.

Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (several daemons can share one
outbox); on SQLite the one ``UPDATE`` takes the write lock as it starts (kept.py): the
same statement serves both, SQLite simply ignores the locking clause.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from crisisd.domain import MessageStatus
from crisisd.store.claims import CLAIMED, claim_statement, claimed_packed, unpack_renderings
from crisisd.store.driver_errors import store_operation
from crisisd.store.gauges import read_depth
from crisisd.store.kept import KeptMixin
from crisisd.store.outcomes import (
    ATTEMPT_NAMES,
    AUDIT_NAMES,
    SENT_NAMES,
    UPDATE_NAMES,
    sent_statement,
    update_statement,
    written,
)
from crisisd.store.prepared import Memo, PreparedCache, Target
from crisisd.store.records import AckResult, MessageRow, Outcome
from crisisd.store.tables import (
    acks,
    attempts,
    audit,
    messages,
    status_is,
)

PENDING = MessageStatus.PENDING
SENDING = MessageStatus.SENDING
# A claim's channels: busy (left out), with room (None: all), busy but overtaken by an alert
Channels = tuple[tuple[str, ...], tuple[str, ...] | None, tuple[str, ...]]


def _fresh_budget() -> sa.Update:
    return sa.update(messages).where(messages.c.id == sa.bindparam("b_id")).values(attempts=0)


def _attempt_rows() -> sa.Insert:
    return sa.insert(attempts)


def _audit_rows() -> sa.Insert:
    return sa.insert(audit)


class OutboxMixin(KeptMixin):
    _prepared: PreparedCache
    _last_lease: datetime | None = None

    def _lease_mark(self, until: datetime) -> datetime:
        """``until``, or a microsecond after the last lease time this store wrote: each
        claim's lease time is its own, even under a clock that stands still (tests) or
        repeats itself, so that on SQLite it tells that claim's rows (``claimed_packed``)
        from those of an earlier claim still being sent, or extended to the same time."""
        last = self._last_lease
        if last is not None and until <= last:
            until = last + timedelta(microseconds=1)
        self._last_lease = until
        return until

    @store_operation("extend the leases of claimed messages")
    async def extend_leases(self, worker: str, ids: Sequence[int], until: datetime) -> None:
        """Keep claims still queued in memory from expiring under a live worker."""
        until = self._lease_mark(until)
        for start in range(0, len(ids), 500):
            async with self.write(urgent=False) as conn:
                await conn.execute(
                    sa.update(messages)
                    .where(
                        messages.c.id.in_(list(ids[start : start + 500])),
                        messages.c.worker == worker,
                        status_is(SENDING),
                    )
                    .values(lease_until=until)
                )

    @store_operation("claim due messages")
    async def claim(
        self,
        worker: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        exclude: Sequence[str] = (),
        urgent: bool = False,
        only: Sequence[str] | None = None,
        ahead: Mapping[str, int] | None = None,
    ) -> list[MessageRow]:
        """Take up to ``limit`` due messages, highest priority first, leased to ``worker``.

        A lease that expired (its worker died) makes the message claimable again.
        ``exclude``: channels that are busy (a hung channel must not hog the queue);
        ``only``: the channels that have room, when some do not (cheaper than ``exclude``
        with a long backlog, but a channel the daemon does not know waits for a claim
        without it). ``ahead`` (with ``only``): busy channels, each with a priority: their
        due messages of a higher priority (a lower number) are taken too, so an alert
        overtakes a full queue without another batch of its backlog.
        """
        params: dict[str, Any] = {"now": now, "limit": limit}
        params["until"] = self._lease_mark(now + lease)
        params["worker"] = worker
        busy = tuple(sorted(set(exclude)))
        room = None if only is None else tuple(sorted(set(only) - set(busy)))
        ahead = ahead or {}
        over = tuple(sorted(ahead)) if room is not None else ()
        if room == () and not over:
            return []
        for i, name in enumerate(over):
            params[f"ahead_p_{i}"] = ahead[name]
        rows = await self._claimed_rows((busy, room, over), params, urgent, worker)
        claimed = [MessageRow(*r) for r in rows]
        claimed.sort(key=lambda m: (m.priority, m.not_before, m.id))
        return claimed

    async def _claimed_rows(
        self, channels: Channels, params: dict[str, Any], urgent: bool, worker: str
    ) -> list[list[Any]]:
        """The claim is sent alone, a transaction by itself (kept.py): when this is cancelled,
        it is let finish, and what it took is given back. On SQLite's kept connection the
        update returns nothing, and its rows are read back, packed in one, in the same
        transaction and trip (prepared.py ``fetch_packed``)."""
        fetched: asyncio.Task[list[list[Any]]] | None = None
        try:
            # an alert's claim has a lane of its own: not behind a backlog claim in flight
            async with self._writing(urgent, lane="alert" if urgent else "claim") as conn:
                fetched = asyncio.ensure_future(self._claim_on(conn, channels, params))
                try:
                    return await asyncio.shield(fetched)
                except asyncio.CancelledError:
                    await asyncio.wait([fetched])
                    raise
        except asyncio.CancelledError:
            done = fetched is not None and fetched.done() and not fetched.cancelled()
            if fetched is not None and done and fetched.exception() is None:
                with contextlib.suppress(Exception):  # else their lease brings them back
                    await self._give_back(worker, [r[0] for r in fetched.result()])
            raise

    def _claim_on(
        self, conn: Target, channels: Channels, params: dict[str, Any]
    ) -> Coroutine[Any, Any, list[list[Any]]]:
        """The claim as ``conn`` runs it: on SQLite's kept connection the update alone, its
        rows read back packed (prepared.py ``fetch_packed``); elsewhere with ``RETURNING``."""
        busy, room, over = channels
        key = ("claim", busy, room, over)
        if isinstance(conn, aiosqlite.Connection):
            first = self._prepared.get(
                (*key, "bare"), lambda: claim_statement(busy, room, over, returning=False)
            )
            packed = self._prepared.get("claimed", claimed_packed, CLAIMED)
            return packed.fetch_packed(conn, params, first, unpack_renderings)
        claim = self._prepared.get(key, lambda: claim_statement(busy, room, over), CLAIMED)
        return claim.fetch(conn, params)

    @store_operation("record delivery outcomes")
    async def record(self, outcomes: Sequence[Outcome], worker: str | None = None) -> None:
        """Write a batch of outcomes (messages, attempts, audit) in one transaction.

        With ``worker``, a message whose claim has passed to another worker (lease lost) is
        left to that worker. A message cancelled while in flight stays cancelled unless it
        was in fact sent.
        """
        if not outcomes:
            return
        tails: dict[int, str] = {}  # a sent text's JSON, once per rendering in the batch
        rows = [written(o, tails) for o in outcomes]
        trail = [w.audit for w in rows if w.audit is not None]
        fresh = [(o.message_id,) for o, w in zip(outcomes, rows, strict=True) if w.fresh_budget]
        prepared = self._prepared
        mark = prepared.get(("sent", worker), lambda: sent_statement(worker))
        update = prepared.get(("record", worker), lambda: update_statement(worker))
        attempt = prepared.get("attempt", _attempt_rows, columns=ATTEMPT_NAMES)
        entry = prepared.get("audit", _audit_rows, columns=AUDIT_NAMES)
        reset = prepared.get("fresh", _fresh_budget)
        memo: Memo = {}  # a batch's outcomes share most of their times and names
        # The parameters are made before the transaction: the write lock is held no longer
        # than the statements take.
        marks = mark.batch([w.update for w in rows if w.sent], SENT_NAMES, memo)
        updates = update.batch([w.update for w in rows if not w.sent], UPDATE_NAMES, memo)
        resets = reset.batch(fresh, ("b_id",))
        tried = attempt.batch([w.attempt for w in rows], ATTEMPT_NAMES, memo)
        entries = entry.batch(trail, AUDIT_NAMES, memo)
        async with self._writing(urgent=False) as conn:
            # The sends first: were a message in the batch twice (its claim lost and taken
            # again), its send would stand, as an update of a message no longer "sending"
            # changes nothing.
            await mark.run(conn, marks)
            await update.run(conn, updates)
            # a new channel starts with a fresh retry budget
            await reset.run(conn, resets)
            await attempt.run(conn, tried)
            await entry.run(conn, entries)

    @store_operation("give claimed messages back")
    async def release(self, worker: str, ids: Sequence[int] | None = None) -> int:
        """Give back every claim of ``worker`` (on shutdown), or those of ``ids``, untouched."""
        return await self._give_back(worker, ids)

    async def _give_back(
        self, worker: str, ids: Sequence[int] | None = None, until: datetime | None = None
    ) -> int:
        """``worker``'s claims (of ``ids`` only, or leased ``until`` only, when given) back
        to the queue, untouched."""
        if ids is not None and not ids:
            return 0
        mine = [messages.c.worker == worker, status_is(SENDING)]
        if ids is not None:
            mine.append(messages.c.id.in_(list(ids)))
        if until is not None:
            mine.append(messages.c.lease_until == until)
        async with self.write() as conn:
            result = await conn.execute(
                sa.update(messages)
                .where(*mine)
                .values(
                    status=PENDING, lease_until=None, worker=None, attempts=messages.c.attempts - 1
                )
            )
        return result.rowcount

    @store_operation("count the outbox")
    async def queue_depth(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            return await read_depth(conn)

    @store_operation("find the next due message")
    async def next_due(self) -> datetime | None:
        """When the next pending message becomes due (for the dispatcher's sleep)."""
        async with self.engine.connect() as conn:
            value: datetime | None = await conn.scalar(
                sa.select(sa.func.min(messages.c.not_before)).where(status_is(PENDING))
            )
        return value

    # -- acknowledgements -----------------------------------------------------------------

    @store_operation("look up an acknowledgement code")
    async def message_by_ack_code(self, code: str) -> MessageRow | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(messages).where(messages.c.ack_code == code))
            ).first()
        return MessageRow.from_row(row) if row else None

    @store_operation("look up a message")
    async def message_by_key(self, key: str) -> MessageRow | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(messages).where(messages.c.key == key))).first()
        return MessageRow.from_row(row) if row else None

    @store_operation("record an acknowledgement")
    async def acknowledge(
        self,
        incident_id: str,
        recipient: str,
        via: str,
        at: datetime,
        message_id: int | None = None,
    ) -> AckResult:
        """Record that ``recipient`` acknowledged; pressing again changes nothing."""
        async with self.write() as conn:
            first = await conn.execute(
                sa.select(acks.c.at).where(
                    acks.c.incident_id == incident_id, acks.c.recipient == recipient
                )
            )
            earlier = first.scalar()
            if earlier is not None:
                return AckResult(False, incident_id, recipient, earlier)
            try:
                async with conn.begin_nested():
                    await conn.execute(
                        sa.insert(acks).values(
                            incident_id=incident_id,
                            recipient=recipient,
                            at=at,
                            via=via,
                            message_id=message_id,
                        )
                    )
            except IntegrityError:  # a simultaneous press won (two taps, or button and link)
                again = await conn.execute(
                    sa.select(acks.c.at).where(
                        acks.c.incident_id == incident_id, acks.c.recipient == recipient
                    )
                )
                return AckResult(False, incident_id, recipient, again.scalar_one())
            await conn.execute(
                sa.update(messages)
                .where(
                    messages.c.incident_id == incident_id,
                    messages.c.recipient == recipient,
                    messages.c.acked_at.is_(None),
                )
                .values(acked_at=at, acked_via=via)
            )
            await conn.execute(
                sa.insert(audit).values(
                    incident_id=incident_id,
                    at=at,
                    actor=recipient,
                    action="ack",
                    channel=via,
                    detail={"message_id": message_id},
                )
            )
        return AckResult(True, incident_id, recipient, at)

    @store_operation("look for overdue acknowledgements")
    async def overdue_acks(self, now: datetime, limit: int = 500) -> list[MessageRow]:
        """Sent alerts whose ack deadline passed with no ack and no escalation yet."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages)
                    .where(
                        messages.c.ack_required.is_(True),
                        messages.c.acked_at.is_(None),
                        messages.c.escalated.is_(False),
                        messages.c.ack_deadline < now,
                        messages.c.status.in_([MessageStatus.SENT, MessageStatus.FAILED]),
                    )
                    .order_by(messages.c.ack_deadline)
                    .limit(limit)
                )
            ).all()
        return [MessageRow.from_row(r) for r in rows]
