"""The dispatcher's kept connections: its claims and records skip the pool's round trips.

A claim runs many times a second. Through the pool, each cost a checkout, a ping
(``pool_pre_ping``), ``BEGIN``, the statement, ``COMMIT`` and the reset on return (a
``ROLLBACK``): on PostgreSQL five round trips for one statement, on SQLite as many trips to
aiosqlite's thread. Here each backend keeps its driver's own connection for them:

* SQLite: one connection, ``BEGIN IMMEDIATE`` and ``COMMIT`` sent straight to it; writers
  still take turns at the gate (engine.py).
* PostgreSQL: one connection per lane, so that none waits for another, each used by one
  operation at a time: the backlog's claims, an alert's claims (a kick's: not behind a
  backlog claim in flight), records, and an incident's opening when it is small (up to
  one chunk of messages) and the lane is free; a larger open, or one that finds the lane
  busy, goes through the pool as before, so that it holds up no other. An open on the
  lane skips the pool's checkout, ping and reset: about 1 ms of an alert's median and
  more of its tail on bench/core.py's probes. After :data:`QUIET` seconds unused, the
  open lane is pinged first, as the pool would (an open is a person's; a claim is
  retried by itself).

A claim is one ``UPDATE … RETURNING``, atomic by itself: it is sent alone, without
``BEGIN`` and ``COMMIT`` (on SQLite a lone write statement takes the write lock when it
starts, as ``BEGIN IMMEDIATE`` would). One trip instead of three matters most on SQLite:
each trip to aiosqlite's thread waits for the GIL while the senders run. A claim cancelled
in flight is let finish, and what it took is given back (outbox.py). A record's statements
run in one transaction.

Work that runs under a leader lease (:func:`crisisd.store.leases.fenced`) takes the usual
path, :meth:`Transactions.write`, which checks the fence first. A kept connection that
failed in any way other than a PostgreSQL error (the server gone, a cancellation in the
middle of a statement) is dropped; the next operation takes a fresh one. One the server
closed (a restart) is replaced before it is used, once the driver has seen it closed: a
kept connection skips the pool's ping, and would otherwise fail the first claim after.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.store.checkpoint import WalCheckpoints, kept_sqlite
from crisisd.store.engine import (
    CONNECT_TIMEOUT_S,
    Transactions,
    WriteGate,
    mark_stale,
    opened_stale,
)
from crisisd.store.leases import current_fence
from crisisd.store.prepared import PgConnection, Target, is_pg_error, pg_errors, sqlite_errors

log = structlog.get_logger("crisisd.store.kept")


class _Lane:
    """One kept PostgreSQL connection and the lock that lets one operation use it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.conn: AsyncConnection | None = None
        self.used = 0.0  # the event loop's time of its last use


class KeptMixin(Transactions):
    _hot: tuple[AsyncConnection, aiosqlite.Connection] | None
    _checkpoints: WalCheckpoints
    _lanes: dict[str, _Lane]

    @contextlib.asynccontextmanager
    async def _writing(self, urgent: bool, lane: str = "record") -> AsyncIterator[Target]:
        """The dispatcher's write transaction (claims and records).

        ``lane="claim"``: a single statement (PostgreSQL runs it in its own transaction).
        """
        if self._gate is not None:
            async with self._sqlite_writing(self._gate, urgent, lane in CLAIMS) as raw:
                yield raw
        elif current_fence() is not None:  # leader-only work: the fence is checked first
            async with self.write(urgent) as conn:
                yield conn
        else:
            async with self._pg_writing(lane) as pg:
                yield pg

    @contextlib.asynccontextmanager
    async def _opening(self, small: bool = True, alone: bool = False) -> AsyncIterator[Target]:
        """An incident's first write (opening.py): a person's, so urgent, and the gate is kept
        for the claim that follows (engine.py); a ``small`` one goes beside a checkpoint. On
        SQLite on the kept connection, one trip to aiosqlite's thread per statement; on
        PostgreSQL a small one on the open lane when it is free, any other through the
        pool, so that a province-sized open does not hold up another. ``alone``: on SQLite
        the open brings its own ``BEGIN`` and ``COMMIT`` (opening.py ``open_in_one_trip``);
        on the open lane it is one statement, its own transaction (pgopen.py)."""
        if self._gate is not None:
            async with self._sqlite_writing(
                self._gate, True, alone, keep=True, beside=small
            ) as raw:
                yield raw
        elif small and current_fence() is None and not self._lane_busy(OPEN):
            async with self._pg_writing(OPEN, ping_after=QUIET, alone=alone) as pg:
                yield pg
        else:
            async with self.write(queues=True) as conn:
                yield conn

    def _lane_busy(self, name: str) -> bool:
        lane = self._lanes.get(name)
        return lane is not None and lane.lock.locked()

    @contextlib.asynccontextmanager
    async def _sqlite_writing(
        self, gate: WriteGate, urgent: bool, alone: bool, keep: bool = False, beside: bool = True
    ) -> AsyncIterator[aiosqlite.Connection]:
        async with gate.hold(urgent, alone, keep, beside=beside):  # claims go ahead of records
            raw = await self._hot_connection()
            if raw.in_transaction:  # left open by a cancelled write (see _roll_back_hot)
                await self._roll_back_hot()
                raw = await self._hot_connection()
            try:
                if alone:  # one statement, its own transaction
                    yield raw
                    self._checkpoints.wrote()
                    return
                try:
                    # Inside the try: a task cancelled while BEGIN runs in aiosqlite's thread
                    # would otherwise leave the write lock taken, and every other writer locked.
                    with sqlite_errors("BEGIN IMMEDIATE"):
                        await raw.execute("BEGIN IMMEDIATE")
                    yield raw
                    with sqlite_errors("COMMIT"):
                        await raw.execute("COMMIT")
                    self._checkpoints.wrote()  # not checkpointed in the commit (checkpoint.py)
                except BaseException:
                    await self._roll_back_hot()
                    raise
            except sa.exc.DBAPIError as exc:
                if exc.orig is not None and opened_stale(exc.orig):
                    # Pooled connections opened during the fault go too (engine.py), so
                    # that every write works again by itself once the file does.
                    mark_stale(self.engine)
                raise

    @contextlib.asynccontextmanager
    async def _pg_writing(
        self, name: str, ping_after: float | None = None, alone: bool = False
    ) -> AsyncIterator[PgConnection]:
        lane = self._lanes.setdefault(name, _Lane())
        async with lane.lock:
            pooled = None if lane.conn is None else await lane.conn.get_raw_connection()
            now = asyncio.get_running_loop().time()
            quiet = ping_after is not None and now - lane.used > ping_after
            lane.used = now
            why = None
            if pooled is not None and _closed(pooled):
                # The server closed it (a restart, an administrator) and the driver has seen
                # it: replaced now, at no cost, instead of failing the next claim or record.
                why = "closed by the server"
            elif pooled is not None and quiet and not await _answers(pooled):
                why = "no answer after a quiet while"  # as the pool's ping would find it
            if why is not None:
                conn, lane.conn, pooled = lane.conn, None, None
                await _drop(conn)
                log.warning("store.connection_replaced", lane=name, why=why)
            if pooled is None:
                lane.conn = await _lane_connection(self.engine, name)
                pooled = await lane.conn.get_raw_connection()
            raw: Any = pooled.driver_connection
            try:
                if name in CLAIMS or alone:  # one statement: its own transaction
                    yield raw
                else:
                    with pg_errors("BEGIN; … COMMIT"):  # the transaction's own statements
                        async with raw.transaction():
                            yield raw
            except BaseException as exc:
                orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
                if orig is None or not is_pg_error(orig) or raw.is_closed():
                    conn, lane.conn = lane.conn, None
                    await _drop(conn)
                raise

    async def _hot_connection(self) -> aiosqlite.Connection:
        if self._hot is None:
            conn, driver = await kept_sqlite(self.engine)
            try:
                with sqlite_errors("PRAGMA wal_autocheckpoint=0"):
                    await driver.execute("PRAGMA wal_autocheckpoint=0")  # checkpoint.py does it
            except BaseException:
                await _drop(conn)
                raise
            self._hot = (conn, driver)
        return self._hot[1]

    async def _roll_back_hot(self) -> None:
        """Roll back whatever the kept connection began. Always sent (the BEGIN of a
        cancelled task may still be queued in aiosqlite's thread, which runs in order) and
        shielded, so a second cancellation cannot leave the write lock taken."""
        if self._hot is None:
            return
        raw = self._hot[1]
        try:
            await asyncio.shield(raw.execute("ROLLBACK"))
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                await self._close_hot(broken=True)
        except Exception:  # noqa: BLE001 - a broken connection is dropped, not reused
            await self._close_hot(broken=True)

    async def _close_hot(self, broken: bool = False) -> None:
        """Give the kept connections back (on close), or drop SQLite's (when it broke)."""
        hot, self._hot = self._hot, None
        if hot is not None:
            with contextlib.suppress(Exception):
                if broken:
                    await hot[0].invalidate()
                await hot[0].close()
        if broken:
            return
        for name, lane in self._lanes.items():
            async with lane.lock:
                conn, lane.conn = lane.conn, None
                if conn is not None and name in ASYNC_COMMIT:
                    await _drop(conn)  # its session setting must not reach the pool
                elif conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()


# Lanes whose commits do not wait for the WAL to reach the disk. A claim is a lease: lost in
# a crash of the server, its messages are pending again, as at-least-once delivery allows,
# and a record of their sending flushes the WAL past the claim before it is durable itself.
# Claims made up half of a backlog's commits, and each waited for its own flush (an alert's
# claim too: 1.05-1.20 ms median on bench/core.py's probes instead of 1.21-1.38).
# https://www.postgresql.org/docs/current/wal-async-commit.html
ASYNC_COMMIT = frozenset({"claim", "alert"})
CLAIMS = frozenset({"claim", "alert"})  # lanes whose operation is one statement, alone
OPEN = "open"
QUIET = 30.0  # seconds unused after which the open lane is pinged before an open


async def _lane_connection(engine: AsyncEngine, name: str) -> AsyncConnection:
    conn: AsyncConnection = await engine.connect()
    if name in ASYNC_COMMIT:
        try:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            with pg_errors("SET synchronous_commit TO off"):
                await raw.execute("SET synchronous_commit TO off")
        except BaseException:
            await _drop(conn)
            raise
    return conn


async def _answers(pooled: Any) -> bool:
    """The server still answers on this kept connection (one round trip, as the pool's
    ``pool_pre_ping`` makes), within the time a new connection may take: a connection cut
    without a goodbye (a network gone) is replaced instead of holding a person's open."""
    try:
        await pooled.driver_connection.fetchval("SELECT 1", timeout=CONNECT_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - any failure: it is replaced
        return False
    return True


def _closed(pooled: Any) -> bool:
    """asyncpg's ``Connection.is_closed``: True once its socket was closed, by either side."""
    driver = pooled.driver_connection
    return driver is None or bool(driver.is_closed())


async def _drop(conn: AsyncConnection | None) -> None:
    """A connection that failed mid-use is not trusted again: closed, not pooled."""
    if conn is None:
        return
    with contextlib.suppress(Exception):
        await conn.invalidate()
    with contextlib.suppress(Exception):
        await conn.close()
