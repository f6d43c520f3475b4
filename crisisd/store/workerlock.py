"""One live daemon per worker id: a second one started by mistake must not take the first
one's claims back (the start of a dispatcher releases whatever its worker id holds)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.errors import WorkerIdInUse
from crisisd.store.driver_errors import store_operation


class WorkerLock:
    """A lock file beside a SQLite store, or a session advisory lock on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, worker_id: str) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self._file: IO[str] | None = None
        self._conn: AsyncConnection | None = None

    @store_operation("take the worker lock")
    async def acquire(self) -> None:
        busy = WorkerIdInUse(
            f"another crisisd already runs as '{self.worker_id}' on this store — stop it first "
            "(systemctl stop crisisd), or give this one its own config file"
        )
        if self.engine.dialect.name == "sqlite":
            database = make_url(str(self.engine.url)).database or ""
            if not database or database == ":memory:":
                return
            path = Path(f"{database}.{_digest(self.worker_id)}.lock")
            handle = path.open("a+", encoding="utf-8")  # noqa: ASYNC230 - once, at start, local
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise busy from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
            return
        conn = await self.engine.connect()
        key = int(_digest(self.worker_id), 16) % (2**63)
        got = await conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        if not got:
            await conn.close()
            raise busy
        self._conn = conn

    @store_operation("release the worker lock")
    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            await self._conn.close()  # the session's advisory lock goes with it
            self._conn = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:15]
