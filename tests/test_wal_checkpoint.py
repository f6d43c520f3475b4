"""SQLite: the kept connection leaves checkpoints to the store's background checkpointer
(store/checkpoint.py), which keeps the write-ahead log from growing with every write.

Asserts on sizes and settings, never on how long anything took.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.store import Store
from crisisd.store.checkpoint import PERIOD
from crisisd.store.engine import WAL_KEEP_BYTES, normalize_url
from tests.minitree import T0, report
from tests.stafftree import STAFF, tree_with_staff

MB = 1024 * 1024


async def test_the_wal_starts_over_instead_of_growing_with_the_kept_connections_writes(
    tmp_path: Path,
) -> None:
    lib = load_library(tree_with_staff(tmp_path / "tree"))
    db = tmp_path / "store.sqlite3"
    store = Store(normalize_url(f"sqlite:///{db}"))
    await store.start()
    try:
        svc = IncidentService(store, lambda: lib, lambda: T0)
        opened = 0
        for round_ in range(40):
            for i in range(5):  # a burst of opens, each on the kept connection
                key = f"r{round_}-{i}"
                opened += (await svc.open(report(severity="minor", idempotency_key=key))).messages
            await asyncio.sleep(PERIOD * 2)  # the checkpoint that follows has its turn
        raw = await store._hot_connection()
        rows = await raw.execute_fetchall("PRAGMA wal_autocheckpoint")
        assert list(rows) == [(0,)]  # the kept connection never checkpoints in a commit
        wal = (tmp_path / "store.sqlite3-wal").stat().st_size
        written = db.stat().st_size + wal
    finally:
        await store.aclose()
    assert opened >= 200 * STAFF
    # Unchecked, the WAL would hold every page written (nearly all of ``written``); it starts
    # over after each checkpoint, so it holds about one burst's pages.
    assert written > 2 * MB
    assert wal < written / 3, (wal, written)


async def test_a_burst_does_not_leave_its_log_size_on_disk(tmp_path: Path) -> None:
    """Once the log starts over after a checkpoint, a file a burst grew past
    ``WAL_KEEP_BYTES`` is cut back to it (``journal_size_limit``), on the kept connection
    as on the pooled ones."""
    lib = load_library(tree_with_staff(tmp_path / "tree"))
    db = tmp_path / "store.sqlite3"
    wal = tmp_path / "store.sqlite3-wal"
    store = Store(normalize_url(f"sqlite:///{db}"))
    await store.start()
    try:
        raw = await store._hot_connection()
        assert list(await raw.execute_fetchall("PRAGMA journal_size_limit")) == [(WAL_KEEP_BYTES,)]
        async with store.engine.begin() as conn:  # a burst: the log grows past the limit
            await conn.execute(sa.text("CREATE TABLE burst (b BLOB)"))
            await conn.execute(
                sa.text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 24) "
                    "INSERT INTO burst SELECT randomblob(1024 * 1024) FROM n"
                )
            )
        grown = wal.stat().st_size
        async with store.engine.connect() as conn:  # copied back: the log may start over
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        svc = IncidentService(store, lambda: lib, lambda: T0)
        await svc.open(report(severity="minor"))  # the kept connection writes next
        kept = wal.stat().st_size
    finally:
        await store.aclose()
    assert grown > 24 * MB > WAL_KEEP_BYTES
    assert kept <= WAL_KEEP_BYTES, (grown, kept)
