"""aiosqlite's thread: work queued to it at once, and the GIL handed to it in time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import sys
from collections.abc import Callable
from typing import TypeVar

import aiosqlite

T = TypeVar("T")

# The longest the event loop's thread keeps the GIL while another thread waits for it
# (``sys.setswitchinterval``; Python's default is 5 ms). aiosqlite's thread needs the GIL
# for a moment before and after every statement (the sqlite3 module lets it go while SQLite
# works), and the event loop, busy with sends, kept it for up to 5 ms each time: the two
# took turns. At 0.5 ms the thread's statements run beside the loop's sends. bench/core.py,
# SQLite drain of 10,000 messages, with claims queued at once (``fetch_packed``): 6.6-6.9k
# msg/s against 5.5-5.9k with neither, 5.9-6.1k with either alone.
GIL_SWITCH_S = 0.0005


def share_the_gil() -> None:
    """Set :data:`GIL_SWITCH_S` for the process (the daemon does at start)."""
    sys.setswitchinterval(GIL_SWITCH_S)


def submit(on: aiosqlite.Connection, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
    """Queue ``work`` to aiosqlite's own thread now, with its sqlite3 connection; the future
    is its result. aiosqlite runs every call as a function queued to that thread
    (``Connection._execute``, aiosqlite/core.py, 0.20-0.22: it checks that the connection
    is open, then ``self._tx.put_nowait((future, partial(fn, ...)))``), but only once the
    coroutine is first run: this queues it at once, and one function may run several
    statements in one trip."""
    if not on._running or on._connection is None:
        raise ValueError("Connection closed")
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    on._tx.put_nowait((future, functools.partial(work, on._conn)))
    return future


def transaction(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """On aiosqlite's thread: ``work`` between ``BEGIN IMMEDIATE`` and ``COMMIT``, rolled
    back when it raises (else the next write on the kept connection would: kept.py)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        done = work(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise
    return done
