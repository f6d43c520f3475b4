"""The scheduler under a leader lease: leader-only jobs run on the leader alone, fenced; a
new leader starts the latest drill slot nobody started."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from crisisd.context import DaemonContext
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.metrics import Metrics
from crisisd.scheduler.jobs import Scheduler
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from crisisd.store.leadership import SCHEDULER, Leadership, LocalLeases
from crisisd.store.leases import LeaseBook
from tests.conftest import _reset_pg, pg_url
from tests.minitree import make_tree


def scheduler(tmp_path: Path, store: Store, leadership: Leadership) -> Scheduler:
    tree = tmp_path / "tree"
    config = make_tree(tree)
    pb = tree / "playbooks" / "mini.yaml"
    pb.write_text(
        pb.read_text(encoding="utf-8").replace(
            '{cron: "0 10 * * sat", scenario: fire/major, window: 1h}',
            '{cron: "* * * * *", scenario: fire/major, window: 10s}',
        ),
        encoding="utf-8",
    )
    lib = load_library(config)
    svc = IncidentService(store, lambda: lib)

    async def health() -> dict[str, object]:
        return {"ok": True}

    ctx = DaemonContext(store, svc, Metrics(), lambda: lib, health, lambda: None)
    return Scheduler(ctx, leadership=leadership)


async def test_a_new_leader_starts_the_latest_slot_only(tmp_path: Path) -> None:
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        lead = Leadership(LocalLeases("host:1"))
        s = scheduler(tmp_path, store, lead)
        await s.lead()
        starts = [j.id for j in s.aps.get_jobs() if j.id.startswith("drill-start:")]
        assert len(starts) == 1, starts  # not one per minute of the catch-up
        slot = datetime.fromisoformat(starts[0].split(":", 3)[3])
        now = datetime.now(slot.tzinfo)
        assert 0 <= (now - slot).total_seconds() < 61  # the latest minute, not an older one
    finally:
        await store.aclose()


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


@pytest.mark.postgres
async def test_leader_only_jobs_run_on_the_leader_and_a_deposed_one_writes_nothing(
    tmp_path: Path, pg: Store
) -> None:
    a = Leadership(LeaseBook(pg.engine, "host-a:1"))
    b = Leadership(LeaseBook(pg.engine, "host-b:2"))
    for lead in (a, b):
        lead.role(SCHEDULER)
    await a.round()
    await b.round()
    ran: list[str] = []

    def work(who: str) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            ran.append(who)
            await pg.put_setting(f"wrote:{who}", "yes")

        return run

    sa_, sb = scheduler(tmp_path / "a", pg, a), scheduler(tmp_path / "b", pg, b)
    await sa_.supervised("probe", work("a"))()
    await sb.supervised("probe", work("b"))()
    assert ran == ["a"]  # b does not lead: skipped

    async with pg.engine.begin() as conn:  # a's lease runs out (a has not noticed yet)
        await conn.execute(sa.text("UPDATE leases SET expires_at = expires_at - interval '1h'"))
    await b.round()
    with capture_logs() as logs:
        await sa_.supervised("probe", work("a-deposed"))()
    assert ran == ["a", "a-deposed"]  # it ran, and its write was refused:
    assert await pg.settings_with_prefix("wrote:") == {"wrote:a": "yes"}
    assert [e["event"] for e in logs] == ["scheduler.fenced"]
    assert sa_.ctx.supervisor.faults() == {}  # not a failure: someone else does the work
