"""SQLite: the write-ahead log is checkpointed in the background, not by an alert's commit.

SQLite copies the WAL back into the database (a checkpoint) when a commit finds the WAL past
1,000 pages, in the committing connection and inside its commit (``wal_autocheckpoint``,
https://www.sqlite.org/wal.html#automatic_checkpoint). The dispatcher's kept connection
commits the claims, the records and the incidents opened (kept.py), so every few hundred
sends an open paid for a checkpoint of 1,000 pages: on bench/core.py's probes, the slowest
opens took 7–12 ms where the median took 2.6.

The kept connection does not checkpoint itself: after it has written, a checkpoint follows
within :data:`PERIOD`, on a connection of its own, as a writer of the lowest rank at the
gate (engine.py: it waits for every writer waiting, and is short: the WAL holds a tenth of
a second of writes, or one burst of opens). PASSIVE (https://www.sqlite.org/pragma.html#pragma_wal_checkpoint)
waits for no reader; taken while no write runs, it copies the whole WAL, so the next write
starts the WAL file over instead of growing it (checkpointed beside the writes, without the
gate, it never caught up: 250 MB of WAL for 30,000 messages). The other connections keep
SQLite's automatic checkpoint, as before.
"""

from __future__ import annotations

import asyncio
import contextlib

import aiosqlite
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.store.engine import WriteGate

log = structlog.get_logger("crisisd.store.checkpoint")

PERIOD = 0.1  # seconds between two checkpoints while the kept connection writes


async def kept_sqlite(engine: AsyncEngine) -> tuple[AsyncConnection, aiosqlite.Connection]:
    """A pooled SQLite connection kept out of the pool, with aiosqlite's own beside it."""
    conn = await engine.connect()
    driver = (await conn.get_raw_connection()).driver_connection
    if not isinstance(driver, aiosqlite.Connection):  # pragma: no cover
        await conn.close()
        raise TypeError("the SQLite engine is expected to run on aiosqlite")
    return conn, driver


class WalCheckpoints:
    """Checkpoints after the kept connection's writes, on a connection of their own."""

    def __init__(self, engine: AsyncEngine, gate: WriteGate | None) -> None:
        self.engine = engine
        self._gate = gate
        self._task: asyncio.Task[None] | None = None
        self._conn: tuple[AsyncConnection, aiosqlite.Connection] | None = None
        self._closed = False

    def wrote(self) -> None:
        """The kept connection committed: a checkpoint follows within :data:`PERIOD`."""
        if self._task is None and self._gate is not None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._later())

    async def _later(self) -> None:
        try:
            await asyncio.sleep(PERIOD)
            raw = await self._connection()
            if self._gate is not None:
                async with self._gate.hold(False, idle=True):
                    await raw.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # noqa: BLE001 - the next commit brings another
            log.info("store.checkpoint_failed", error=type(exc).__name__)
            await self._drop()
        finally:
            self._task = None

    async def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            self._conn = await kept_sqlite(self.engine)
        return self._conn[1]

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn[0].invalidate()
                await conn[0].close()

    async def aclose(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn[0].close()
