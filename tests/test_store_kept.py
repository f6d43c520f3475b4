"""The dispatcher's kept connections (store/kept.py): a broken one is replaced, and work under
a leader lease still goes through the fence."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.testing import capture_logs

from crisisd.errors import StoreUnavailable
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import Store
from crisisd.store.kept import QUIET
from crisisd.store.leases import Fence, LeaseLost, fenced
from tests.minitree import T0, Clock, chat_sends, report

LEASE = timedelta(minutes=5)


async def _kill_the_others(store: Store) -> None:
    async with store.engine.connect() as conn:
        killed = await conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert killed


async def test_a_claim_after_the_kept_connection_died_fails_at_most_once_then_works(
    store: Store, library: Library
) -> None:
    """Killed while the driver has not yet seen it closed: one claim fails with a store
    error (never the driver's own), and the next one works on a fresh connection."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite keeps no network connection")
    await IncidentService(store, lambda: library, Clock()).open(report())
    first = await store.claim("w1", T0, 1, LEASE)
    await _kill_the_others(store)
    try:
        again = await store.claim("w1", T0, 1, LEASE)
    except StoreUnavailable:
        again = await store.claim("w1", T0, 1, LEASE)
    assert len(first) == len(again) == 1
    assert first[0].id != again[0].id


async def test_a_kept_connection_the_server_closed_is_replaced_before_it_fails_a_claim(
    store: Store, library: Library
) -> None:
    """A restart closes every connection; once the driver has seen its kept one closed, the
    next open, claim and record take a fresh one and nothing fails."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite keeps no network connection")
    service = IncidentService(store, lambda: library, Clock())
    await service.open(report())
    first = await store.claim("w1", T0, 1, LEASE)
    await store.record(chat_sends(first), "w1")
    kept = [await lane.conn.get_raw_connection() for lane in store._lanes.values() if lane.conn]
    assert len(kept) == 3  # the open's, the claim's and the record's
    await _kill_the_others(store)
    async with asyncio.timeout(10):  # the driver reads the server's goodbye
        while not all(c.driver_connection is None or c.driver_connection.is_closed() for c in kept):
            await asyncio.sleep(0.01)
    with capture_logs() as logs:
        again = await store.claim("w1", T0, 1, LEASE)  # no StoreUnavailable
        assert len(again) == 1 and again[0].id != first[0].id
        await store.record(chat_sends(again), "w1")
        assert (await service.open(report(idempotency_key="after"))).messages > 0
    replaced = [e["lane"] for e in logs if e["event"] == "store.connection_replaced"]
    assert sorted(replaced) == ["claim", "open", "record"]  # said, once per lane
    assert {m.status for m in await store.messages_of(first[0].incident_id)} >= {"sent"}


async def test_outcomes_are_recorded_in_one_transaction_on_the_kept_connection(
    store: Store, library: Library
) -> None:
    opened = await IncidentService(store, lambda: library, Clock()).open(report())
    got = await store.claim("w1", T0, 10, LEASE)
    sent = chat_sends(got)
    assert sent
    await store.record(sent, "w1")
    rows = {m.id: m for m in await store.messages_of(opened.incident_id)}
    assert all(rows[o.message_id].status == "sent" for o in sent)
    trail = [e for e in await store.audit_of(opened.incident_id) if e.action == "message.sent"]
    assert sorted(e.detail["message_id"] for e in trail if e.detail) == sorted(
        o.message_id for o in sent
    )


async def test_a_claim_under_a_lost_leader_lease_writes_nothing(
    store: Store, library: Library
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("leader leases are PostgreSQL's")
    await IncidentService(store, lambda: library, Clock()).open(report())
    with fenced(Fence("scheduler", "someone-else", 7)), pytest.raises(LeaseLost):
        await store.claim("w1", T0, 10, LEASE)
    assert len(await store.claim("w1", T0, 10, LEASE)) > 0  # nothing was taken


async def test_a_claim_on_sqlite_leaves_no_transaction_open(store: Store, library: Library) -> None:
    if store.dialect != "sqlite":
        pytest.skip("SQLite's write lock")
    await IncidentService(store, lambda: library, Clock()).open(report())
    assert await store.claim("w1", T0, 1, LEASE)
    path = store.engine.url.database
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock is free at once
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_only_claims_commit_without_waiting_for_the_disk(
    store: Store, library: Library
) -> None:
    """A claim is a lease (kept.py ASYNC_COMMIT), an alert's as the backlog's; opens, records
    and everything else stay durable at commit, and the claim lanes' setting never reaches
    a pooled connection."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's commits are the same for all (WAL, synchronous=NORMAL)")
    await IncidentService(store, lambda: library, Clock()).open(report())
    got = await store.claim("w1", T0, 2, LEASE)
    got += await store.claim("w1", T0, 1, LEASE, urgent=True)  # a kick's claim
    await store.record(chat_sends(got), "w1")

    async def setting(conn: Any) -> str:
        raw = (await conn.get_raw_connection()).driver_connection
        return str(await raw.fetchval("SHOW synchronous_commit"))

    lanes = {name: await setting(lane.conn) for name, lane in store._lanes.items()}
    assert lanes == {"open": "on", "claim": "off", "alert": "off", "record": "on"}
    await store._close_hot()  # as the store's close does
    pooled = [await store.engine.connect() for _ in range(4)]
    try:
        assert {await setting(conn) for conn in pooled} == {"on"}
    finally:
        for conn in pooled:
            await conn.close()


async def test_a_small_open_takes_the_open_lane_and_a_busy_or_large_one_the_pool(
    store: Store, library: Library
) -> None:
    """On PostgreSQL a small open runs on a kept connection (no checkout, ping or reset); one
    that finds it busy goes through the pool instead of waiting behind it, and so does one
    larger than a chunk (opening.py CHUNK), so that it holds up no other."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite opens on its one kept connection")
    service = IncidentService(store, lambda: library, Clock())

    async def backend(conn: Any) -> int:
        raw = (await conn.get_raw_connection()).driver_connection
        return int(await raw.fetchval("SELECT pg_backend_pid()"))

    await service.open(report(idempotency_key="a"))
    lane = store._lanes["open"]
    assert lane.conn is not None
    pid = await backend(lane.conn)
    await service.open(report(idempotency_key="b"))
    assert lane.conn is not None and await backend(lane.conn) == pid  # kept, not pooled
    async with lane.lock:  # busy with another open: this one must not wait for it
        async with asyncio.timeout(10):  # a bound for a broken build, not a timing check
            await service.open(report(idempotency_key="c"))
    async with store._opening(small=False) as conn:
        assert isinstance(conn, AsyncConnection)  # a large open: the pool's
    assert len(await store.list_incidents()) == 3


async def test_a_quiet_open_lane_is_pinged_and_replaced_when_the_server_dropped_it(
    store: Store, library: Library
) -> None:
    """After QUIET seconds unused the open lane is pinged first, as the pool does: a
    connection the server dropped without the driver seeing it yet does not fail a
    person's open."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite keeps no network connection")
    service = IncidentService(store, lambda: library, Clock())
    await service.open(report(idempotency_key="a"))
    lane = store._lanes["open"]
    assert lane.conn is not None
    pooled = await lane.conn.get_raw_connection()
    await _kill_the_others(store)
    lane.used -= QUIET + 1  # as if a quiet half minute had passed since
    with capture_logs() as logs:
        opened = await service.open(report(idempotency_key="b"))  # no StoreUnavailable
    assert opened.messages > 0
    replaced = [(e["lane"], e["why"]) for e in logs if e["event"] == "store.connection_replaced"]
    assert len(replaced) == 1 and replaced[0][0] == "open", replaced
    assert lane.conn is not None and await lane.conn.get_raw_connection() is not pooled
