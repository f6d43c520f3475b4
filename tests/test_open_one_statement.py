"""A small open on PostgreSQL is one statement (store/pgopen.py): it writes what the open
writes on SQLite, all of it or nothing, on its lane or through the pool."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from crisisd.domain import IncidentFacts, MessageStatus
from crisisd.errors import IncidentIdTaken, StoreError
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.planning.planner import plan_open
from crisisd.store import AuditEntry, Store
from crisisd.store.engine import normalize_url
from crisisd.store.tables import audit, incidents, messages, tasks
from crisisd.store.taking import Take
from tests.conftest import _reset_pg, pg_url
from tests.minitree import T0, make_tree, report

pytestmark = pytest.mark.postgres


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    url = pg_url()
    await _reset_pg(url)
    lite = Store(normalize_url(f"sqlite:///{tmp_path / 'store.sqlite3'}"))
    pg = Store(url)
    await lite.start()
    await pg.start()
    try:
        yield lite, pg
    finally:
        await lite.aclose()
        await pg.aclose()


class Hands:
    def __init__(self) -> None:
        self.got: list[Any] = []
        self.take = Take(
            "w-open", T0, T0 + timedelta(minutes=2), 50, frozenset({"bale"}), {}, self.got.extend
        )

    def taking(self) -> Take:
        return self.take


async def _written(store: Store, incident: str) -> dict[str, list[str]]:
    """Every column of every row an open wrote, with the incident's id, the rows' own ids and
    the ack codes (a hash of the incident's id) left out."""
    out = {}
    async with store.engine.connect() as conn:
        for table in (incidents, messages, tasks, audit):
            column = table.c.id if table is incidents else table.c.incident_id
            rows = (await conn.execute(sa.select(table).where(column == incident))).mappings()
            out[table.name] = sorted(
                repr(sorted((k, v) for k, v in row.items() if k not in ("id", "ack_code"))).replace(
                    incident, "<id>"
                )
                for row in rows
            )
    return out


async def test_the_one_statement_writes_what_sqlite_writes(
    both: tuple[Store, Store], library: Library
) -> None:
    """The same report, opened with a dispatcher taking its first messages: every column of
    the incident, its messages (taken or not), its tasks and its audit entry the same on
    PostgreSQL (one statement) as on SQLite (statement by statement, in one trip)."""
    written = []
    for store in both:
        svc = IncidentService(store, lambda: library, lambda: T0)
        hands = Hands()
        svc.taker = hands
        opened = await svc.open(report(idempotency_key="same", location="سالن ۲"))
        written.append(await _written(store, opened.incident_id))
        taken = [m for m in await store.messages_of(opened.incident_id) if m.attempts]
        assert {m.status for m in taken} == {MessageStatus.SENDING} and len(taken) == 2
        assert sorted(m.id for m in hands.got) == sorted(m.id for m in taken)
        assert hands.got == sorted(taken, key=lambda m: (m.priority, m.not_before, m.id))
    lite, pg = written
    assert pg == lite
    assert [len(pg[t]) for t in ("incidents", "messages", "tasks", "audit")] == [1, 3, 1, 1]
    assert sum("'w-open'" in m for m in pg["messages"]) == 2  # leased to the taker


async def test_an_open_that_fails_writes_none_of_its_rows(
    both: tuple[Store, Store], library: Library
) -> None:
    """Its incident id already in use: no second audit entry, no messages or tasks of its
    own, and what it had taken is not handed over."""
    _, pg = both
    facts = IncidentFacts("KMT-479", "mini", "fire", "major", "officer.a", T0)
    plan = plan_open(library, facts)
    assert len(plan.messages) == 3 and plan.tasks
    entry = AuditEntry(facts.id, T0, "officer.a", "incident.opened")
    await pg.open_incident(facts, plan, entry, source="cli", idempotency_key=None)
    before = await _written(pg, facts.id)
    hands = Hands()
    again = dataclasses.replace(facts, details="another fire")
    with pytest.raises(IncidentIdTaken):
        await pg.open_incident(
            again, plan_open(library, again), entry, source="cli", idempotency_key="k",
            take=hands.take,
        )  # fmt: skip
    assert await _written(pg, facts.id) == before
    assert hands.got == []


async def test_opens_at_once_commit_on_the_lane_and_through_the_pool(
    both: tuple[Store, Store], tmp_path: Path
) -> None:
    """Eight opens at once: one goes on the open lane, the others through the pool (each in a
    transaction of its own); every one is written whole and hands over what it took."""
    _, pg = both
    lib = load_library(make_tree(tmp_path / "tree8"))
    svc = IncidentService(pg, lambda: lib, lambda: T0)
    hands = Hands()
    svc.taker = hands
    opened = await asyncio.gather(*(svc.open(report(details=f"fire {i}")) for i in range(8)))
    assert len({o.incident_id for o in opened}) == 8
    for o in opened:
        written = await _written(pg, o.incident_id)
        assert [len(written[t]) for t in ("incidents", "messages", "tasks", "audit")] == [
            1,
            3,
            1,
            1,
        ]
    taken = {m.id for o in opened for m in await pg.messages_of(o.incident_id) if m.attempts}
    assert {m.id for m in hands.got} == taken
    assert len(taken) == 16  # two due at once per incident; the press statement later


async def test_a_text_too_long_for_its_column_is_refused_not_cut_short(
    both: tuple[Store, Store], library: Library
) -> None:
    """The arrays are cast without the columns' lengths: a cast to VARCHAR(64) would cut a
    longer audience name short, where the insert refuses it (and the open writes nothing)."""
    _, pg = both
    facts = IncidentFacts("KMT-480", "mini", "fire", "major", "officer.a", T0)
    plan = plan_open(library, facts)
    first = dataclasses.replace(plan.messages[0], audience="a" * 65)
    plan = dataclasses.replace(plan, messages=(first, *plan.messages[1:]))
    entry = AuditEntry(facts.id, T0, "officer.a", "incident.opened")
    hands = Hands()
    with pytest.raises(StoreError, match="too long"):
        await pg.open_incident(
            facts, plan, entry, source="cli", idempotency_key=None, take=hands.take
        )
    assert await pg.get_incident(facts.id) is None
    assert hands.got == []
