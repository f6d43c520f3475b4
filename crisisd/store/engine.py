"""Engine creation per backend: SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from crisisd.errors import ConfigError
from crisisd.store.jsontext import dumps
from crisisd.store.leases import check_fence

BUSY_TIMEOUT_MS = 10_000
# SQLite: what the write-ahead log file keeps of its size once it starts over after a
# checkpoint. SQLite reuses the file from its start and never shrinks it by itself
# (``journal_size_limit`` is -1 unless set, https://www.sqlite.org/pragma.html#pragma_journal_size_limit):
# a burst (a province-sized fan-out) left its high-water mark on disk for the life of the
# file. 16 MiB is a few seconds of a backlog's writes (bench/core.py: 11-24 MB per 10,000
# messages), so a daemon at work seldom truncates and regrows it.
WAL_KEEP_BYTES = 16 * 1024 * 1024
STATEMENT_TIMEOUT_MS = 60_000  # PostgreSQL: the longest one statement may run or wait
CONNECT_TIMEOUT_S = 10.0  # PostgreSQL: the longest a new connection may take
WRITE_OPTION = "crisisd_write"
_IDLE = 3  # the write gate's rank of housekeeping (checkpoint.py)
FOLLOW_UP = 0.005  # s the SQLite write gate waits for a claim after a person's write


def normalize_url(url: str, base: Path | None = None) -> str:
    """Accept postgresql:// and sqlite:// URLs and pick the async drivers."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        db = parsed.database or ""
        if db and db != ":memory:" and not Path(db).is_absolute() and base is not None:
            parsed = parsed.set(database=str(base / db))
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ConfigError(
            f"store_url backend '{backend}' is not supported — use sqlite:///path or postgresql://"
        )
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: a driver error's text never carries the values of a statement
    # (message text, settings that hold generated secrets), only the SQL.
    # https://docs.sqlalchemy.org/en/20/core/engines.html#sqlalchemy.create_engine.params.hide_parameters
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
            json_serializer=dumps,
        )
        _sqlite_pragmas(engine)
        return engine
    # A statement that waits on a lock or a sick server gives up instead of hanging its
    # task (asyncpg: connect timeout; PostgreSQL: statement_timeout, SQLSTATE 57014, which
    # the store reports as unavailable and the dispatcher retries with backoff).
    settings = {"statement_timeout": str(STATEMENT_TIMEOUT_MS)}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
        hide_parameters=True,
        json_serializer=dumps,
        connect_args={"timeout": CONNECT_TIMEOUT_S, "server_settings": settings},
    )


def opened_stale(exc: BaseException) -> bool:
    """A SQLite error that a connection opened while the file could not be written keeps
    for its life (see ``_stale`` below)."""
    name = getattr(exc, "sqlite_errorname", "")
    return isinstance(name, str) and name.startswith(("SQLITE_READONLY", "SQLITE_IOERR"))


_STALE_SINCE: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def mark_stale(engine: AsyncEngine) -> None:
    """A connection the pool does not see (kept.py) met :func:`opened_stale`'s error: every
    pooled connection opened before now is replaced at its next checkout, as SQLAlchemy
    does when a pooled one meets it (``_stale`` below)."""
    _STALE_SINCE[engine.sync_engine] = time.monotonic()


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    """WAL for readers beside the writer; every transaction takes the write lock up front.

    pysqlite's own transaction handling is switched off so that BEGIN IMMEDIATE is
    ours: a claim then never upgrades a read lock into a write lock (and deadlocks).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        record.info["opened"] = time.monotonic()
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_KEEP_BYTES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "handle_error")
    def _stale(context: Any) -> None:
        # A connection opened while the file could not be written (a read-only folder, an
        # immutable or full WAL) stays read-only for its life: drop it from the pool, so
        # that writes work again by themselves once the file does.
        if opened_stale(context.original_exception):
            context.is_disconnect = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        stale = _STALE_SINCE.get(engine.sync_engine)
        if stale is not None and record.info.get("opened", stale) < stale:
            raise sa.exc.DisconnectionError("opened before a read-only or I/O error")  # anew

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Writers ask for the lock up front; readers take a deferred snapshot (WAL: no wait).
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriteGate:
    """One writer at a time, people first: an incident being opened or acknowledged goes
    ahead of the dispatcher's claims, and claims ahead of its records, that are waiting.

    After a write that queued messages (``keep``: an incident opened or updated) the gate
    is kept for :data:`FOLLOW_UP` for the next claim (or person): the claim that the kick
    following it makes, or the claim loop's own, which the new messages reach either way.
    Else a record that queued meanwhile took it first, and the alert's claim waited for that
    whole transaction too. A write that takes a kept gate keeps it for nobody.

    A person's write does not wait for housekeeping: while the WAL's checkpoint holds the
    gate, one urgent writer goes in beside it (a PASSIVE checkpoint takes no write lock, so
    SQLite runs the two side by side; the checkpoint then copies only what was committed
    before it started, and the next one copies the rest). On bench/core.py's probes with a
    backlog queued, checkpoints held the gate for up to 13 ms, and an open that came during
    one waited for all of it. Only a small write goes beside: the WAL starts over only
    after a checkpoint that nothing wrote beside, and back-to-back large opens beside every
    checkpoint left it growing (81 MB against 24 over three runs of bench/core.py's drain)."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._kept: asyncio.TimerHandle | None = None
        self._rank: int | None = None  # the holder's rank, while it is not kept
        self._beside = False  # an urgent writer is in beside the checkpoint holding the gate
        self._handed = False  # the checkpoint left first: the writer beside holds the gate

    @contextlib.asynccontextmanager
    async def hold(
        self,
        urgent: bool,
        claim: bool = False,
        keep: bool = False,
        idle: bool = False,
        beside: bool = True,
    ) -> AsyncIterator[None]:
        """``idle``: housekeeping (checkpoint.py) that goes after every other writer waiting.
        ``beside=False``: an urgent write too big to go beside a checkpoint (a large open)."""
        rank = 0 if urgent else 1 if claim else _IDLE if idle else 2
        if rank == 0 and beside and self._rank == _IDLE and not self._beside:
            async with self._beside_checkpoint(keep):
                yield
            return
        follows = self._kept is not None and rank <= 1
        if follows and self._kept is not None:  # the gate was kept for this one: take it
            self._kept.cancel()
            self._kept = None
        elif self._busy or self._waiting:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._seq += 1
            heapq.heappush(self._waiting, (rank, self._seq, fut))
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._release()  # it was handed to us as we were cancelled: pass it on
                else:
                    self._waiting = [w for w in self._waiting if w[2] is not fut]
                    heapq.heapify(self._waiting)
                raise
        else:
            self._busy = True
        self._rank = rank
        try:
            yield
        finally:
            if rank == _IDLE and self._beside:
                self._handed, self._rank = True, 0  # the writer beside lets it go
            else:
                self._release(keep=keep and not follows)

    @contextlib.asynccontextmanager
    async def _beside_checkpoint(self, keep: bool) -> AsyncIterator[None]:
        self._beside = True
        try:
            yield
        finally:
            self._beside = False
            if self._handed:  # the checkpoint is over: the gate is this writer's to pass on
                self._handed = False
                self._release(keep=keep)

    def _release(self, keep: bool = False) -> None:
        self._rank = None
        if keep and not (self._waiting and self._waiting[0][0] <= 1):
            loop = asyncio.get_running_loop()
            self._kept = loop.call_later(FOLLOW_UP, self._let_go)  # _busy stays True
            return
        while self._waiting:
            rank, _, fut = heapq.heappop(self._waiting)
            if not fut.done():
                self._rank = rank
                fut.set_result(None)  # ownership passes on; _busy stays True
                return
        self._busy = False

    def _let_go(self) -> None:
        self._kept = None
        self._release()


class Transactions:
    """Write transactions. On SQLite one at a time per process through a :class:`WriteGate`
    (fair and sleep-free, unlike SQLite's busy handler, which sleeps up to 100 ms a try)."""

    engine: AsyncEngine
    _gate: WriteGate | None

    @contextlib.asynccontextmanager
    async def write(
        self, urgent: bool = True, queues: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """A write transaction; ``urgent=False`` for routine dispatcher bookkeeping;
        ``queues``: it queues messages, a claim follows (see :class:`WriteGate`)."""
        gate = self._gate.hold(urgent, keep=queues) if self._gate else contextlib.nullcontext()
        async with gate, self.engine.connect() as conn:
            conn = await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                await check_fence(conn)  # leader-only work writes only under its lease
                yield conn
