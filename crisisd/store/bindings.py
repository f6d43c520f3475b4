"""Messenger bindings: which chat reaches which contact, as people connected themselves.

A :class:`BindingBook` works on a :class:`~crisisd.store.Store`'s engine and write gate
(composition, as the receipts ledger does: the store's core stays untouched). There is one
book per store object (:meth:`BindingBook.of`), so every part of a daemon shares its
in-memory snapshot (:attr:`BindingBook.rows`), and :attr:`BindingBook.version` moves
whenever the snapshot changes: after each of the book's own writes, and when
:meth:`BindingBook.load` finds that another daemon on the same PostgreSQL store wrote.

A binding is one row per contact, messenger and chat id::

    how     phone | invite | directory   (directory: a chat id typed into directory.yaml
                                          that crisisd had to record a state for)
    state   active    the chat reaches the contact; it wins over the directory's chat id
            stale     the messenger refused it (the person blocked the bot, deleted their
                      account): not used until they start the bot again
            retired   stopped (/stop), replaced by a newer chat, or the contact left the
                      directory

At most one active chat per contact and messenger, and one contact per active chat (two
partial unique indexes hold this across daemons). Every change writes an audit entry
(``binding.bound``, ``binding.stale``, ``binding.retired``) in the same transaction; a
delivery only moves ``last_delivery_at``.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import audit, bindings

ACTIVE, STALE, RETIRED = "active", "stale", "retired"
HOWS = ("phone", "invite", "directory")
STOPPED = "stopped by the person (/stop)"
LEFT = "no longer in the directory"
_REASON = 200  # bindings.reason column


@dataclass(frozen=True, slots=True)
class Binding:
    """One stored binding (see the module docstring)."""

    id: int
    contact: str
    messenger: str
    chat_id: int
    how: str
    state: str
    bound_at: datetime
    state_at: datetime
    reason: str
    last_delivery_at: datetime | None
    told_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Binding:
        return cls(**{f: getattr(row, f) for f in cls.__slots__})


class BindOutcome(StrEnum):
    BOUND = "bound"  # the chat reaches the contact now (new, or active again)
    ALREADY = "already"  # it already did: nothing changed
    TAKEN = "taken"  # the chat is another contact's: nothing changed


@dataclass(frozen=True, slots=True)
class BindResult:
    outcome: BindOutcome
    binding: Binding | None
    holder: str | None = None  # TAKEN: the contact whose chat it is
    replaced: int | None = None  # BOUND: their earlier chat on this messenger, now retired
    again: bool = False  # BOUND: the row existed (stale or retired) and is active again


Hook = Callable[[AsyncConnection], Awaitable[None]]


class BindingBook:
    """The bindings of one store (see the module docstring)."""

    _books: ClassVar[weakref.WeakKeyDictionary[Store, BindingBook]] = weakref.WeakKeyDictionary()

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: tuple[Binding, ...] = ()
        self.version = 0

    @classmethod
    def of(cls, store: Store) -> BindingBook:
        """The one book of ``store``: every part of a daemon sees the same snapshot."""
        book = cls._books.get(store)
        if book is None:
            book = cls._books[store] = cls(store)
        return book

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    # -- reading ----------------------------------------------------------------------------

    @store_operation("read the messenger bindings")
    async def load(self) -> bool:
        """Read every binding again; True when the snapshot changed (``version`` moved)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(bindings).order_by(bindings.c.id))).all()
        return self._take(tuple(Binding.from_row(r) for r in rows))

    def _take(self, rows: tuple[Binding, ...]) -> bool:
        if rows == self.rows:
            return False
        self.rows, self.version = rows, self.version + 1
        return True

    def of_chat(self, messenger: str, chat_id: int) -> list[Binding]:
        """Every binding of one chat, newest change first (from the snapshot)."""
        found = [b for b in self.rows if b.messenger == messenger and b.chat_id == chat_id]
        return sorted(found, key=lambda b: (b.state_at, b.id), reverse=True)

    def of_contact(self, contact: str) -> list[Binding]:
        """Every binding of one contact, by messenger, newest change first."""
        found = [b for b in self.rows if b.contact == contact]
        return sorted(found, key=lambda b: (b.messenger, -b.state_at.timestamp(), -b.id))

    def active(self, contact: str, messenger: str) -> Binding | None:
        return next(
            (
                b
                for b in self.rows
                if b.contact == contact and b.messenger == messenger and b.state == ACTIVE
            ),
            None,
        )

    # -- changes ----------------------------------------------------------------------------

    @store_operation("bind a chat to a contact")
    async def bind(
        self,
        contact: str,
        messenger: str,
        chat_id: int,
        how: str,
        at: datetime,
        actor: str,
        before: Hook | None = None,
    ) -> BindResult:
        """Make ``chat_id`` the contact's chat on ``messenger`` (an earlier one is retired).

        A chat that is another contact's stays theirs (TAKEN, nothing written). ``before``
        runs in the same transaction once the bind is sure to happen (an invite is used
        there): what it raises rolls everything back.
        """
        if how not in HOWS:
            raise ValueError(f"how must be one of {HOWS}, not {how!r}")
        b = bindings
        async with self.store.write() as conn:
            holder = await conn.scalar(
                sa.select(b.c.contact).where(
                    b.c.messenger == messenger,
                    b.c.chat_id == chat_id,
                    b.c.state == ACTIVE,
                    b.c.contact != contact,
                )
            )
            if holder is not None:
                return BindResult(BindOutcome.TAKEN, None, holder=str(holder))
            if before is not None:
                await before(conn)
            mine = (
                await conn.execute(
                    sa.select(b).where(
                        b.c.contact == contact, b.c.messenger == messenger, b.c.chat_id == chat_id
                    )
                )
            ).first()
            if mine is not None and mine.state == ACTIVE:
                result = BindResult(BindOutcome.ALREADY, Binding.from_row(mine))
            else:
                replaced = await self._retire_others(conn, contact, messenger, chat_id, at, actor)
                row = await self._activate(conn, mine, contact, messenger, chat_id, how, at)
                await _audit(conn, at, actor, "binding.bound", row, again=mine is not None)
                result = BindResult(BindOutcome.BOUND, row, replaced=replaced, again=bool(mine))
        await self.load()
        return result

    async def _retire_others(
        self,
        conn: AsyncConnection,
        contact: str,
        messenger: str,
        chat_id: int,
        at: datetime,
        actor: str,
    ) -> int | None:
        b = bindings
        old = (
            await conn.execute(
                sa.select(b).where(
                    b.c.contact == contact,
                    b.c.messenger == messenger,
                    b.c.state == ACTIVE,
                    b.c.chat_id != chat_id,
                )
            )
        ).first()
        if old is None:
            return None
        reason = f"replaced by chat {chat_id}"
        await conn.execute(
            sa.update(b).where(b.c.id == old.id).values(state=RETIRED, state_at=at, reason=reason)
        )
        gone = Binding.from_row(old)
        await _audit(conn, at, actor, "binding.retired", gone, reason=reason)
        return gone.chat_id

    async def _activate(
        self,
        conn: AsyncConnection,
        mine: Any,
        contact: str,
        messenger: str,
        chat_id: int,
        how: str,
        at: datetime,
    ) -> Binding:
        b = bindings
        values = {"how": how, "state": ACTIVE, "bound_at": at, "state_at": at, "reason": ""}
        stmt: sa.Insert | sa.Update
        if mine is None:
            key = {"contact": contact, "messenger": messenger, "chat_id": chat_id}
            stmt = sa.insert(b).values(**key, **values)
        else:
            stmt = sa.update(b).where(b.c.id == mine.id).values(**values, told_at=None)
        return Binding.from_row((await conn.execute(stmt.returning(*b.c))).one())

    @store_operation("mark a binding stale")
    async def stale(
        self, contact: str, messenger: str, chat_id: int, reason: str, at: datetime, actor: str
    ) -> Binding | None:
        """The messenger refused ``chat_id`` for good: that binding is stale now (a directory
        chat id gets a row of its own). The binding when it changed; None when it already
        was stale or retired."""
        return await self._set(contact, messenger, chat_id, STALE, reason, at, actor, (ACTIVE,))

    @store_operation("retire a binding")
    async def retire(
        self, contact: str, messenger: str, chat_id: int, reason: str, at: datetime, actor: str
    ) -> Binding | None:
        """``chat_id`` no longer reaches ``contact`` (e.g. /stop); a directory chat id gets a
        row of its own, so the directory's entry is not used either. None when it already
        was retired."""
        return await self._set(
            contact, messenger, chat_id, RETIRED, reason, at, actor, (ACTIVE, STALE)
        )

    async def _set(
        self,
        contact: str,
        messenger: str,
        chat_id: int,
        state: str,
        reason: str,
        at: datetime,
        actor: str,
        from_states: tuple[str, ...],
    ) -> Binding | None:
        b = bindings
        key = {"contact": contact, "messenger": messenger, "chat_id": chat_id}
        reason = reason[:_REASON]
        async with self.store.write() as conn:
            found = (
                await conn.execute(
                    sa.select(b).where(*(getattr(b.c, k) == v for k, v in key.items()))
                )
            ).first()
            stmt: sa.Insert | sa.Update
            if found is None:
                stmt = sa.insert(b).values(
                    **key, how="directory", state=state, bound_at=at, state_at=at, reason=reason
                )
            elif found.state in from_states:
                stmt = sa.update(b).where(b.c.id == found.id)
                stmt = stmt.values(state=state, state_at=at, reason=reason)
            else:
                return None
            row = Binding.from_row((await conn.execute(stmt.returning(*b.c))).one())
            await _audit(conn, at, actor, f"binding.{state}", row, reason=reason)
        await self.load()
        return row

    @store_operation("retire the bindings of removed contacts")
    async def retire_missing(self, known: Collection[str], at: datetime) -> list[Binding]:
        """Retire every binding of a contact not in ``known`` (the directory just loaded)."""
        await self.load()
        gone = [b for b in self.rows if b.state != RETIRED and b.contact not in known]
        if not gone:
            return []
        async with self.store.write() as conn:
            for row in gone:
                await conn.execute(
                    sa.update(bindings)
                    .where(bindings.c.id == row.id)
                    .values(state=RETIRED, state_at=at, reason=LEFT)
                )
                await _audit(conn, at, "crisisd", "binding.retired", row, reason=LEFT)
        await self.load()
        return gone

    @store_operation("record that officers were told")
    async def told(self, ids: Iterable[int], at: datetime) -> None:
        """The officers heard that these bindings went stale (they hear it once)."""
        ids = list(ids)
        if ids:
            async with self.store.write(urgent=False) as conn:
                await conn.execute(
                    sa.update(bindings).where(bindings.c.id.in_(ids)).values(told_at=at)
                )
            await self.load()

    @store_operation("record a delivery on a binding")
    async def delivered(self, deliveries: Iterable[tuple[int, datetime]]) -> None:
        """Move ``last_delivery_at`` forward for (binding id, when a message arrived)."""
        latest: dict[int, datetime] = {}
        for bid, at in deliveries:
            latest[bid] = max(at, latest.get(bid, at))
        if not latest:
            return
        b = bindings
        async with self.store.write(urgent=False) as conn:
            for bid, at in latest.items():
                await conn.execute(
                    sa.update(b)
                    .where(
                        b.c.id == bid,
                        sa.or_(b.c.last_delivery_at.is_(None), b.c.last_delivery_at < at),
                    )
                    .values(last_delivery_at=at)
                )
        await self.load()


async def _audit(
    conn: AsyncConnection, at: datetime, actor: str, action: str, row: Binding, **more: object
) -> None:
    detail: dict[str, object] = {"contact": row.contact, "chat_id": row.chat_id, "how": row.how}
    detail |= {k: v for k, v in more.items() if v not in (None, False, "")}
    entry = {"incident_id": None, "at": at, "actor": actor, "action": action}
    await conn.execute(sa.insert(audit), [entry | {"channel": row.messenger, "detail": detail}])
