"""Leader leases: one holder per role, takeover after expiry, and fencing by generation.

Expiry is simulated by moving a row's ``expires_at`` into the past (the database's clock
decides, so nothing here waits for a lease to run out).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from crisisd.metrics import Metrics
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from crisisd.store.leadership import SCHEDULER, Leadership, LocalLeases
from crisisd.store.leases import Fence, LeaseBook, LeaseLost, fenced
from crisisd.store.workerlock import worker_id_for
from tests.conftest import _reset_pg, pg_url


@pytest.fixture
async def pg() -> AsyncIterator[Store]:
    url = pg_url()
    await _reset_pg(url)
    st = Store(url)
    await st.start()
    try:
        yield st
    finally:
        await st.aclose()


def _leader(store: Store, holder: str, events: list[str]) -> Leadership:
    lead = Leadership(LeaseBook(store.engine, holder), 15.0, metrics=Metrics())

    async def gained() -> None:
        events.append(f"{holder} gained")

    async def lost() -> None:
        events.append(f"{holder} lost")

    lead.role(SCHEDULER, gained=gained, lost=lost)
    return lead


async def _expire(store: Store, role: str) -> None:
    """The holder stopped renewing long enough ago: its row has run out."""
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "UPDATE leases SET expires_at = expires_at - interval '1 hour' WHERE name = :n"
            ),
            {"n": role},
        )


@pytest.mark.postgres
async def test_one_holder_then_takeover_with_a_new_generation(pg: Store) -> None:
    events: list[str] = []
    a, b = _leader(pg, "host-a:1", events), _leader(pg, "host-b:2", events)
    await a.round()
    await b.round()
    assert (a.held(SCHEDULER), b.held(SCHEDULER)) == (True, False)
    old = a.fence(SCHEDULER)
    assert old == Fence(SCHEDULER, "host-a:1", 1)
    await a.round()  # a renewal keeps the generation
    assert a.fence(SCHEDULER) == old

    await _expire(pg, SCHEDULER)
    await b.round()
    assert b.fence(SCHEDULER) == Fence(SCHEDULER, "host-b:2", 2)
    await a.round()  # a's renewal is refused: it steps down and its hooks run
    assert not a.held(SCHEDULER)
    assert events == ["host-a:1 gained", "host-b:2 gained", "host-a:1 lost"]
    text = b.metrics.render().decode() if b.metrics else ""
    assert 'crisisd_leader{role="scheduler"} 1.0' in text
    assert 'crisisd_lease_holder{holder="host-b:2",role="scheduler"} 1.0' in text


@pytest.mark.postgres
async def test_a_deposed_leader_writes_nothing(pg: Store) -> None:
    events: list[str] = []
    a, b = _leader(pg, "host-a:1", events), _leader(pg, "host-b:2", events)
    await a.round()
    stale = a.fence(SCHEDULER)
    with fenced(stale):
        await pg.put_setting("leader-wrote", "a, while leading")
    await _expire(pg, SCHEDULER)
    await b.round()
    with fenced(stale), pytest.raises(LeaseLost, match="no longer held"):
        await pg.put_setting("leader-wrote", "a, deposed")
    with fenced(b.fence(SCHEDULER)):
        assert await pg.claim_once("drill-slot:x")
    assert await pg.setting("leader-wrote") == "a, while leading"


@pytest.mark.postgres
async def test_a_takeover_waits_for_the_guarded_transaction_to_commit(pg: Store) -> None:
    """The fence check locks the lease row (FOR SHARE): a takeover cannot slip in between
    the check and the commit of the work it guards."""
    a = _leader(pg, "host-a:1", [])
    await a.round()
    with fenced(a.fence(SCHEDULER)):
        async with pg.write() as conn:  # passed the check, not yet committed
            await conn.execute(sa.text("SELECT 1"))
            async with pg.engine.connect() as other:
                await other.execute(sa.text("SET lock_timeout = '200ms'"))
                with pytest.raises(sa.exc.DBAPIError, match="lock timeout"):
                    await other.execute(
                        sa.text("UPDATE leases SET holder = 'host-b:2' WHERE name = 'scheduler'")
                    )
                await other.rollback()


@pytest.mark.postgres
async def test_a_clean_stop_gives_the_role_back_at_once(pg: Store) -> None:
    events: list[str] = []
    a, b = _leader(pg, "host-a:1", events), _leader(pg, "host-b:2", events)
    await a.round()
    task = asyncio.create_task(a.run())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await b.round()  # no waiting for the lease to run out
    assert b.held(SCHEDULER)
    assert events == ["host-a:1 gained", "host-a:1 lost", "host-b:2 gained"]


@pytest.mark.postgres
async def test_a_leader_that_cannot_renew_steps_down_before_the_row_runs_out(pg: Store) -> None:
    """Its own deadline (monotonic) comes ``margin`` before the row's expiry."""
    now = [0.0]
    a = Leadership(LeaseBook(pg.engine, "host-a:1"), 15.0, clock=lambda: now[0])
    a.role(SCHEDULER)
    await a.round()
    assert a.held(SCHEDULER)
    now[0] = 15.0 - a.margin  # no renewal got through since
    assert not a.held(SCHEDULER)
    assert a.fence(SCHEDULER) is None
    rows = await LeaseBook(pg.engine, "x").holders()
    assert [(r.holder, r.live) for r in rows] == [("host-a:1", True)]  # still, in the store


async def test_on_sqlite_the_only_daemon_leads_everything(tmp_path: Path) -> None:
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        lead = Leadership.for_engine(store.engine, "host:1", 15.0, Metrics())
        assert isinstance(lead.backend, LocalLeases)
        lead.role(SCHEDULER)
        await lead.round()
        assert lead.held(SCHEDULER)
        with fenced(lead.fence(SCHEDULER)):  # no table, no check: writes go through
            await store.put_setting("k", datetime.now(UTC).isoformat())
    finally:
        await store.aclose()


def test_worker_ids_differ_between_machines_with_the_same_name_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.yaml"
    ids = []
    for machine in ("0f" * 16, "a1" * 16, "0f" * 16):
        path = tmp_path / "machine-id"
        path.write_text(machine + "\n", encoding="ascii")
        monkeypatch.setattr("crisisd.store.workerlock.MACHINE_ID_FILES", (str(path),))
        ids.append(worker_id_for(cfg))
    assert ids[0] != ids[1]
    assert ids[0] == ids[2]  # stable across restarts on one machine
    assert worker_id_for(tmp_path / "other.yaml") != ids[2]  # a second unit, its own config
    assert "0f0f" not in ids[0]  # the machine id itself is not shown
