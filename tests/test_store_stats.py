"""PostgreSQL: after many messages are queued, the store refreshes the outbox's planner
statistics itself (store/stats.py), so claims of a fresh backlog read the ordered index
instead of sorting all of it. Asserts that it happened, never how long anything took."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import Store, stats
from tests.minitree import Clock, report

_ANALYZED = sa.text("SELECT reltuples FROM pg_class WHERE oid = 'messages'::regclass")


async def test_a_big_enqueue_refreshes_the_outbox_statistics(
    store: Store, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats, "AT_LEAST", 1)  # the mini tree's incident is "big"
    book = stats.OutboxStats(store.engine)
    monkeypatch.setattr(store, "_stats", book)
    svc = IncidentService(store, lambda: library, Clock())
    if store.dialect != "postgresql":
        await svc.open(report())
        assert not book.enabled  # SQLite plans without statistics: nothing to refresh
        return
    async with store.engine.connect() as conn:
        assert await conn.scalar(_ANALYZED) == -1  # a new table, never analyzed
    await svc.open(report())
    async with asyncio.timeout(30):
        while True:
            async with store.engine.connect() as conn:
                if (await conn.scalar(_ANALYZED) or 0) > 0:
                    break
            await asyncio.sleep(0.05)
    await book.aclose()
    book.queued(10_000)  # closed: no more work started
    assert book._task is None
