"""The outbox's partial indexes (migration 0010): an existing outbox is upgraded in place, the
claim and the gauges find the indexes, and the depth by status is counted right."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import sqlite

from crisisd.domain import MessageStatus
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import OutcomeFailed, OutcomeSent, Store, migrate
from crisisd.store.claims import CLAIMED, claim_statement, claimed_packed
from crisisd.store.engine import normalize_url
from crisisd.store.gauges import WAITING, depth_statement
from crisisd.store.prepared import Prepared
from crisisd.store.tables import ENDED, messages, metadata
from tests.conftest import _reset_pg, pg_url
from tests.minitree import T0, Clock, report

LEASE = timedelta(minutes=5)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def at_0009(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A store whose schema stops at 0009 (the claim indexes over every message)."""
    if request.param == "sqlite":
        url = normalize_url(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    else:
        url = pg_url()
        await _reset_pg(url)
    st = Store(url)
    await migrate.upgrade(st.engine, "0009")
    try:
        yield st
    finally:
        await st.aclose()


async def by_status(store: Store) -> dict[str, int]:
    query = sa.select(messages.c.status, sa.func.count()).group_by(messages.c.status)
    async with store.engine.connect() as conn:
        return {str(s): int(n) for s, n in await conn.execute(query)}


async def index_sql(store: Store) -> dict[str, str]:
    """Each index on messages as the database itself defines it (alembic's comparison of
    the schema with tables.py leaves out an index's condition)."""
    if store.dialect == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'messages'"
    async with store.engine.connect() as conn:
        return {name: sql or "" for name, sql in await conn.execute(sa.text(query))}


PARTIAL = {
    "ix_messages_due": "'pending'",
    "ix_messages_channel_due": "'pending'",
    "ix_messages_lease": "'sending'",
    "ix_messages_ended": "'cancelled'",
}


async def test_an_outbox_in_every_status_is_upgraded_in_place(
    at_0009: Store, library: Library
) -> None:
    store = at_0009
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report(idempotency_key="kept"))
    sent, *leased = await store.claim("w1", T0, 10, LEASE)  # the rest stay claimed
    chat = sent.rendering("chat")
    outcome = OutcomeSent(sent.id, sent.channel, T0, "p1", sent.incident_id, sent.recipient, chat)
    await store.record([outcome], "w1")
    await svc.open(report(idempotency_key="refused"))
    (failed,) = await store.claim("w2", T0, 1, LEASE)
    await store.record([OutcomeFailed(failed.id, failed.channel, T0, "refused")], "w2")
    dropped = await svc.open(report(idempotency_key="dropped"))
    await svc.cancel(dropped.incident_id, "officer.a", "reported by mistake")
    before = await by_status(store)
    assert set(before) == set(MessageStatus)  # a row in every status

    await store.start()  # 0010 and on

    assert await by_status(store) == before
    assert await store.queue_depth() == before

    def diff(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    defined = await index_sql(store)
    for name, status in PARTIAL.items():
        where = defined[name].partition(" WHERE ")[2]
        assert status in where, defined[name]
    assert "not_before" not in defined["ix_messages_recipient"]
    # the claims leased before the upgrade come back when their lease runs out, with the
    # pending messages, in priority order
    later = T0 + LEASE + timedelta(hours=1)
    again = await store.claim("w3", later, 1000, LEASE)
    assert {m.id for m in leased} <= {m.id for m in again}
    assert len(again) == before["pending"] + before["sending"]
    assert [m.priority for m in again] == sorted(m.priority for m in again)
    now = {s: n for s, n in before.items() if s != "pending"} | {"sending": len(again)}
    assert await store.queue_depth() == now  # a status with none is left out
    assert await store.claim("w3", later, 1000, LEASE) == []


def test_the_depth_knows_every_status() -> None:
    """Sent is counted as what the other statuses leave: each of them must be counted."""
    assert {*WAITING, *ENDED, MessageStatus.SENT} == set(MessageStatus)
    assert len({*WAITING, *ENDED}) == len(MessageStatus) - 1


async def test_a_message_sent_while_it_was_cancelled_is_recorded_sent(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    (msg, *_) = await store.claim("w1", T0, 10, LEASE)
    await svc.cancel(opened.incident_id, "officer.a", "reported by mistake")
    chat = msg.rendering("chat")
    await store.record(
        [OutcomeSent(msg.id, msg.channel, T0, "p1", msg.incident_id, msg.recipient, chat)], "w1"
    )
    (row,) = [m for m in await store.messages_of(opened.incident_id) if m.id == msg.id]
    assert (row.status, row.provider_id, row.sent_at, row.sent_channel) == (
        "sent",
        "p1",
        T0,
        msg.channel,
    )


def _plan(conn: Any, sql: str) -> list[str]:
    return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [None] * sql.count("?"))]


@pytest.mark.parametrize(
    ("exclude", "only", "ahead", "due_index"),
    [
        ((), None, (), "ix_messages_due"),
        (("sms",), None, (), "ix_messages_due"),
        ((), ("bale", "sms"), (), "ix_messages_channel_due"),
        ((), ("sms",), ("bale",), "ix_messages_channel_due"),
    ],
)
async def test_sqlite_claims_and_depth_read_the_partial_indexes(
    tmp_path: Path,
    exclude: tuple[str, ...],
    only: tuple[str, ...] | None,
    ahead: tuple[str, ...],
    due_index: str,
) -> None:
    """SQLite uses a partial index only for a query that names its condition in its text:
    a status given as a parameter would read the whole outbox on every claim."""
    store = Store(normalize_url(f"sqlite:///{tmp_path / 'plans.sqlite3'}"))
    await store.start()
    await store.aclose()
    dialect = sqlite.dialect(paramstyle="qmark")
    # as SQLite runs a claim: the update alone, then its rows read back by their lease
    claim = Prepared.compile(claim_statement(exclude, only, ahead, returning=False), dialect).sql
    packed = Prepared.compile(claimed_packed(), dialect, CLAIMED).sql
    depth = str(depth_statement().compile(dialect=dialect))
    conn = sqlite3.connect(tmp_path / "plans.sqlite3")
    try:
        plan = _plan(conn, claim)
        assert any(due_index in step for step in plan), plan
        assert any("ix_messages_lease" in step for step in plan), plan  # expired claims
        read_back = _plan(conn, packed)
        assert any("ix_messages_lease" in step for step in read_back), read_back
        counted = _plan(conn, depth)
    finally:
        conn.close()
    read_through = [
        s for s in plan + read_back + counted if s.startswith("SCAN messages") and "INDEX" not in s
    ]
    assert not read_through
    for index in ("ix_messages_due", "ix_messages_lease", "ix_messages_ended"):
        assert any(index in step for step in counted), counted
