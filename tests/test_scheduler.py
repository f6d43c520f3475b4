"""Drills: one start per slot, at a moment that survives a restart inside the window."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from crisisd.context import DaemonContext
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.metrics import Metrics
from crisisd.scheduler.jobs import Scheduler
from crisisd.store import Store
from crisisd.store.engine import normalize_url
from tests.minitree import make_tree


async def make_scheduler(tmp_path: Path, store: Store) -> tuple[Scheduler, IncidentService]:
    tree = tmp_path / "tree"
    config = make_tree(tree)
    pb = tree / "playbooks" / "mini.yaml"
    pb.write_text(
        pb.read_text(encoding="utf-8").replace(
            '{cron: "0 10 * * sat", scenario: fire/major, window: 1h}',
            '{cron: "* * * * *", scenario: fire/major, window: 10m}',
        ),
        encoding="utf-8",
    )
    lib = load_library(config)
    svc = IncidentService(store, lambda: lib)

    async def health() -> dict[str, object]:
        return {"ok": True}

    ctx = DaemonContext(store, svc, Metrics(), lambda: lib, health, lambda: None)
    return Scheduler(ctx), svc


async def test_a_restart_inside_the_window_keeps_the_same_start(tmp_path: Path) -> None:
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        first, _ = await make_scheduler(tmp_path, store)
        first.load_drills(first.ctx.library())
        starts = [j for j in first.aps.get_jobs() if j.id.startswith("drill-start:")]
        assert len(starts) == 1  # the slot whose window is open now
        again, _ = await make_scheduler(tmp_path, store)  # "after a restart"
        again.load_drills(again.ctx.library())
        (restart,) = [j for j in again.aps.get_jobs() if j.id.startswith("drill-start:")]
        assert restart.id == starts[0].id
        # the same moment, unless that moment has passed (then: at once)
        assert restart.trigger.run_date >= starts[0].trigger.run_date - timedelta(seconds=1)
        slot = datetime.fromisoformat(restart.id.split(":", 3)[3])
        assert slot <= restart.trigger.run_date <= slot + timedelta(minutes=10, seconds=5)
    finally:
        await store.aclose()


async def test_a_slot_starts_one_drill_even_if_started_twice(tmp_path: Path) -> None:
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        scheduler, _ = await make_scheduler(tmp_path, store)
        slot = "2026-11-28T10:00:00+03:30"
        first = await scheduler.start_drill("mini", 0, slot)
        second = await scheduler.start_drill("mini", 0, slot)
        assert first == second
        drills = await store.list_incidents()
        assert len(drills) == 1
        assert drills[0].drill
        assert drills[0].drill_window_end is not None  # it will be scored
    finally:
        await store.aclose()


async def test_the_cron_slot_is_claimed_once(tmp_path: Path) -> None:
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        one, _ = await make_scheduler(tmp_path, store)
        two, _ = await make_scheduler(tmp_path, store)  # a second instance on the same store
        await one.drill_slot("mini", 0)
        await two.drill_slot("mini", 0)
        started = [
            j for s in (one, two) for j in s.aps.get_jobs() if j.id.startswith("drill-start:")
        ]
        assert len(started) == 1
    finally:
        await store.aclose()
