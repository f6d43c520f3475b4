"""One live daemon per worker id: a second one started by mistake must not take the first
one's claims back (the start of a dispatcher releases whatever its worker id holds).

On PostgreSQL the lock is a session advisory lock, so it lives exactly as long as the
connection that took it. When that connection drops (a database restart, a network cut,
``pg_terminate_backend``) the lock is gone with it: :meth:`WorkerLock.keep` notices at
once (asyncpg's termination listener) or at its next look (every few seconds), and takes
it again on a new connection as soon as the database answers. Should another daemon have
taken it meanwhile, this one has lost its worker id and must stop (``on_lost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.errors import WorkerIdInUse
from crisisd.store.driver_errors import store_operation
from crisisd.supervision import describe

log = structlog.get_logger("crisisd.workerlock")

MACHINE_ID_FILES = (
    "/etc/machine-id",
    "/var/lib/dbus/machine-id",
    "/proc/sys/kernel/random/boot_id",
)


class WorkerLock:
    """A lock file beside a SQLite store, or a session advisory lock on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, worker_id: str) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self._file: IO[str] | None = None
        self._conn: AsyncConnection | None = None
        self._dropped = asyncio.Event()  # the connection holding the lock is gone
        self.retakes = 0  # how often it was taken again after a drop

    @property
    def held(self) -> bool:
        """False between a dropped connection and the lock being taken again."""
        return self._file is not None or (self._conn is not None and not self._dropped.is_set())

    def _busy(self) -> WorkerIdInUse:
        return WorkerIdInUse(
            f"another crisisd already runs as '{self.worker_id}' on this store — stop it first "
            "(systemctl stop crisisd), or give this one its own config file"
        )

    @store_operation("take the worker lock")
    async def acquire(self) -> None:
        busy = self._busy()
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
        await self._take_pg()

    async def _take_pg(self) -> None:
        conn = await self.engine.connect()
        try:
            got = await conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key})
            await conn.commit()
            if got:
                raw = await conn.get_raw_connection()
                driver = raw.driver_connection
                self._dropped = asyncio.Event()
                if driver is not None and hasattr(driver, "add_termination_listener"):
                    dropped = self._dropped
                    driver.add_termination_listener(lambda _c: dropped.set())
        except BaseException:
            await _close_quietly(conn)
            raise
        if not got:
            await conn.close()
            raise self._busy()
        self._conn = conn

    @property
    def _key(self) -> int:
        return int(_digest(self.worker_id), 16) % (2**63)

    async def keep(self, on_lost: Callable[[str], None], every: float = 2.0) -> None:
        """A supervised part on PostgreSQL: take the lock again whenever its connection
        drops; ``on_lost(cause)`` when another daemon took it meanwhile (then return)."""
        if self._conn is None:
            return  # SQLite: a lock file does not drop
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dropped.wait(), every)
            if not self._dropped.is_set() and await self._alive():
                continue
            self._dropped.set()
            log.warning("workerlock.dropped", worker=self.worker_id)
            old, self._conn = self._conn, None
            if old is not None:
                await _close_quietly(old)
            try:
                await self._take_pg()
            except WorkerIdInUse:
                on_lost(f"worker id '{self.worker_id}' was taken by another daemon")
                return
            except Exception as exc:  # noqa: BLE001 - the database is away: try again soon
                log.warning("workerlock.retake_failed", worker=self.worker_id, error=describe(exc))
                await asyncio.sleep(every)
                continue
            self.retakes += 1
            log.info("workerlock.retaken", worker=self.worker_id)

    async def _alive(self) -> bool:
        """The lock's connection still answers (a cheap round trip, every few seconds)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            async with asyncio.timeout(5.0):
                await conn.scalar(sa.text("SELECT 1"))
                await conn.commit()
        except Exception:  # noqa: BLE001 - whatever the driver says, the lock is gone with it
            return False
        return True

    @store_operation("release the worker lock")
    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await _close_quietly(conn)  # the session's advisory lock goes with it


async def _close_quietly(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


def worker_id_for(config_path: Path | None) -> str:
    """This daemon's worker id: ``<hostname>:<8 hex digits>``, with no configuration.

    Stable across restarts of the same daemon (same machine, same config file), so a daemon
    killed with SIGKILL takes its claims back at once when systemd starts it again instead
    of waiting for their lease. Unique across hosts even when their hostnames and config
    paths are the same (cloned VMs named alike): the digits hash the machine id
    (``/etc/machine-id``, unique per installation; hashed with an application key, as
    machine-id(5) asks, since the id itself is confidential) with the config file's path,
    so two units on one host differ by their config files. A host without a machine id
    uses this boot's id (``/proc/sys/kernel/random/boot_id``): unique, stable until reboot.
    A pid-based id would be unique too, but a restarted daemon would then have to wait a
    whole claim lease to get its own claims back.
    """
    where = str(config_path.resolve()) if config_path else "defaults"
    machine = _machine_id()
    digest = hashlib.sha256(f"crisisd-worker\0{machine}\0{where}".encode()).hexdigest()[:8]
    return f"{os.uname().nodename}:{digest}"


def _machine_id() -> str:
    for path in MACHINE_ID_FILES:
        with contextlib.suppress(OSError):
            text = Path(path).read_text(encoding="ascii").strip()
            if text:
                return text
    return ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:15]
