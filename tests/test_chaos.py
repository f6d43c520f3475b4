"""Chaos: three ``crisisd run`` on one PostgreSQL database, a 5,000-person fan-out, one daemon
killed with SIGKILL every few seconds (and restarted, as systemd would), and a 20-second cut
of every database connection. Afterwards: everyone reached at least once, duplicates no more
than the claims the killed daemons held, each scheduled drill started once, each overdue
alert escalated once. Prints the figures.

``CRISISD_CHAOS_CUT_SECONDS`` shortens the cut and ``CRISISD_CHAOS_MEMBERS`` the fan-out
for quick local runs; CI runs the defaults.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.chaosworld import (
    Cluster,
    Daemon,
    Database,
    Sandbox,
    chaos_tree,
    daemon_config,
    fanout_index,
    post,
    start_sandbox,
    wait_for,
)
from tests.conftest import pg_url

MEMBERS = int(os.environ.get("CRISISD_CHAOS_MEMBERS", "5000"))
CUT_SECONDS = float(os.environ.get("CRISISD_CHAOS_CUT_SECONDS", "20"))
# messages a second per channel (bale, sms, email) per daemon: 3 x 3 x 20 = 180/s in all, so
# the fan-out lasts well past the first kills and the cut
RATE = float(os.environ.get("CRISISD_CHAOS_RATE", "20"))
KILL_EVERY = 5.0  # seconds between SIGKILLs (a restart takes a few seconds)
KILLS_BEFORE_CUT = 3
KILLS_AFTER_CUT = 3
LEASE = 5  # leader lease seconds (the default is 15; shorter so the test stays short)


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    database = Database(pg_url())
    await database.create()
    try:
        yield database
    finally:
        await database.drop()


T0 = time.monotonic()


def note(what: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {what}", flush=True)


class Chaos:
    """The scenario's moving parts and what it counted."""

    def __init__(self, db: Database, sandbox: Sandbox, cluster: Cluster) -> None:
        self.db, self.sandbox, self.cluster = db, sandbox, cluster
        self.kills = 0
        self.claims_at_kills = 0
        self.victim = 0

    async def kill_one(self) -> None:
        """SIGKILL the next daemon; count the claims it held at death (its 'sending' rows)."""
        d = self.cluster.daemons[self.victim % len(self.cluster.daemons)]
        self.victim += 1
        if not d.alive:
            return
        d.kill()
        self.kills += 1
        note(f"SIGKILL {d.name}")
        held = await self.db.scalar(
            "SELECT count(*) FROM messages WHERE status = 'sending' AND worker = :w", w=d.worker
        )
        self.claims_at_kills += int(held or 0)

    async def kills_for(self, seconds: float) -> None:
        """A SIGKILL every ``KILL_EVERY`` seconds; the dead restarted a second later."""
        end = time.monotonic() + seconds
        next_kill = time.monotonic() + KILL_EVERY
        while time.monotonic() < end:
            await asyncio.sleep(0.2)
            self.cluster.tend()
            if time.monotonic() >= next_kill:
                await self.kill_one()
                next_kill += KILL_EVERY

    async def reached(self) -> Counter[int]:
        got: Counter[int] = Counter()
        for _id, channel, to, _at in await self.sandbox.deliveries():
            i = fanout_index(channel, to, MEMBERS)
            if i is not None:
                got[i] += 1
        return got

    def any_api(self) -> str | None:
        return next((d.ready_api() for d in self.cluster.daemons if d.ready_api()), None)


@pytest.mark.slow
@pytest.mark.postgres
async def test_three_daemons_survive_kills_and_a_database_cut(tmp_path: Path, db: Database) -> None:
    config = chaos_tree(tmp_path / "tree", MEMBERS, RATE)
    sandbox = start_sandbox(config, tmp_path)
    extra = {
        "schedule": {"sweep_seconds": 1, "check_seconds": 2, "receipts_seconds": 0},
        "cluster": {"leader_lease_seconds": LEASE, "claim_lease_seconds": 60},
    }
    daemons = [
        Daemon(n, daemon_config(config, sandbox, db.url, tmp_path / n / "config.yaml", **extra),
               tmp_path / f"{n}.log")
        for n in ("a", "b", "c")
    ]  # fmt: skip
    cluster = Cluster(daemons)
    chaos = Chaos(db, sandbox, cluster)
    try:
        await _scenario(chaos)
    finally:
        codes = cluster.stop()
        sandbox.stop()
        for d in daemons:  # what went wrong, if anything did
            fatal = [e for e in d.events() if e.get("level") in ("critical", "error")]
            print(d.name, "exit", codes, "errors", json.dumps(fatal[-5:], ensure_ascii=False))


async def _scenario(chaos: Chaos) -> None:
    cluster, db = chaos.cluster, chaos.db
    global T0
    T0 = time.monotonic()
    cluster.daemons[0].start()  # the first one migrates the fresh database
    await wait_for(cluster.daemons[0].ready_api, "daemon a ready", 120)
    for d in cluster.daemons[1:]:
        d.start()
    await wait_for(lambda: all(d.ready_api() for d in cluster.daemons), "all ready", 120)
    note("all ready")
    began = datetime.now(UTC)
    api = chaos.any_api()
    assert api is not None
    report = {"factory": "mini", "type": "fire", "reporter": "officer.a", "details": "chaos"}
    status, body = await post(api, "/v1/incidents", {**report, "severity": "major"})
    assert status == 201, body  # alerts to acknowledge: escalations come during the chaos
    status, body = await post(api, "/v1/incidents", {**report, "severity": "minor"})
    assert status == 201, body
    fanout = body["id"]
    opened = time.monotonic()
    note("fan-out opened")

    await chaos.kills_for(KILLS_BEFORE_CUT * KILL_EVERY + 0.5)
    # the cut meets three running daemons: they must ride it out, not just restart after it
    await wait_for(lambda: all(d.ready_api() for d in cluster.daemons), "all up", 120, cluster)
    before_cut = len(await chaos.reached())
    note(f"cut; reached so far {before_cut}")
    await db.cut()
    cut_at = time.monotonic()
    while time.monotonic() - cut_at < CUT_SECONDS:
        cluster.tend()  # as systemd would, should one exit meanwhile
        await asyncio.sleep(0.2)
    await db.restore()
    restored, restored_wall = time.monotonic(), time.time()
    note("restored")
    cluster.restart_after = 1.0

    async def delivering_again() -> float | None:
        cluster.tend()
        later = [at for *_, at in await chaos.sandbox.deliveries() if at > restored_wall]
        return min(later) - restored_wall if later else None

    recovery = await wait_for(delivering_again, "deliveries after the cut", 120, cluster)
    note(f"delivering again after {recovery:.1f}s")
    # more kills while the fan-out goes on, then none: a daemon killed every few seconds
    # for ever never finishes what it claimed (the others wait for it to come back)
    for _ in range(KILLS_AFTER_CUT):
        if len(await chaos.reached()) >= MEMBERS:
            break
        await chaos.kills_for(KILL_EVERY)
    await wait_for(lambda: _everyone(chaos), "everyone reached", 120 + MEMBERS / 20, cluster)
    everyone = time.monotonic()
    note("everyone reached")
    await wait_for(lambda: all(d.ready_api() for d in cluster.daemons), "all up", 120, cluster)
    await _settle(chaos)
    note("settled")

    reached = await chaos.reached()
    sent = sum(reached.values())
    lost = MEMBERS - len(reached)
    duplicates = sent - len(reached)
    moves = await db.rows("SELECT name, generation FROM leases ORDER BY name")
    drills = await _drills(chaos, began)
    escalated = await _escalations(chaos)
    statuses = dict(
        await db.rows(
            "SELECT status, count(*) FROM messages WHERE incident_id = :i GROUP BY status",
            i=fanout,
        )
    )
    figures = {
        "recipients": MEMBERS,
        "sent_at_fakes": sent,
        "lost": lost,
        "duplicates": duplicates,
        "claims_in_flight_at_kills": chaos.claims_at_kills,
        "sigkills": chaos.kills,
        "exits_by_themselves": sum(d.failed_starts for d in cluster.daemons),
        "leadership_acquisitions": {str(n): int(g) for n, g in moves},
        "drills_started": drills,
        "escalated_alerts": escalated,
        "reached_before_cut": before_cut,
        "cut_seconds": round(restored - cut_at, 1),
        "recover_first_delivery_s": round(recovery, 2),
        "everyone_reached_s_after_open": round(everyone - opened, 1),
        "fanout_statuses": statuses,
    }
    print("\nchaos figures:", json.dumps(figures, indent=1))
    assert lost == 0, f"{lost} people never reached"
    assert duplicates <= chaos.claims_at_kills, figures
    assert statuses == {"sent": MEMBERS}, statuses


async def _everyone(chaos: Chaos) -> bool:
    return len(await chaos.reached()) >= MEMBERS


async def _settle(chaos: Chaos) -> None:
    """Every due message recorded, every overdue alert swept."""

    async def quiet() -> bool:
        chaos.cluster.tend()
        now = datetime.now(UTC)
        busy = await chaos.db.scalar(
            "SELECT count(*) FROM messages WHERE status IN ('pending', 'sending') "
            "AND not_before <= :now",
            now=now.replace(tzinfo=None),  # stored as naive UTC
        )
        overdue = await chaos.db.scalar(
            "SELECT count(*) FROM messages WHERE ack_required AND acked_at IS NULL "
            "AND NOT escalated AND ack_deadline < :t",
            t=(now - timedelta(seconds=3)).replace(tzinfo=None),
        )
        return bool(busy == 0 and overdue == 0)

    await wait_for(quiet, "the outbox drained and overdue alerts escalated", 120, chaos.cluster)


async def _drills(chaos: Chaos, began: datetime) -> dict[str, int]:
    """Each minute's drill slot since the daemons were up: started exactly once."""
    rows = await chaos.db.rows(
        "SELECT idempotency_key FROM incidents WHERE drill AND idempotency_key LIKE 'drill:%'"
    )
    keys = Counter(str(k) for (k,) in rows)
    assert all(n == 1 for n in keys.values()), keys
    now = datetime.now(UTC)
    first = (began + timedelta(minutes=1)).replace(second=0, microsecond=0)
    slots = []
    at = first
    while at + timedelta(seconds=15) < now:  # its start (inside a 10 s window) has come
        slots.append(at)
        at += timedelta(minutes=1)
    starts = {datetime.fromisoformat(str(k).split(":", 3)[-1]) for (k,) in rows}
    missing = [s.isoformat() for s in slots if s not in starts]
    assert not missing, f"drill slots never started: {missing} (started: {sorted(keys)})"
    return {"slots_in_test": len(slots), "drill_incidents": len(keys)}


async def _escalations(chaos: Chaos) -> int:
    """Every alert escalated is in exactly one ``escalation.fired`` entry."""
    rows = await chaos.db.rows("SELECT detail FROM audit WHERE action = 'escalation.fired'")
    fired: Counter[int] = Counter()
    for (detail,) in rows:
        data = detail if isinstance(detail, dict) else json.loads(detail)
        fired.update(int(i) for i in data["message_ids"])
    twice = {i: n for i, n in fired.items() if n > 1}
    assert not twice, f"alerts escalated more than once: {twice}"
    flagged = await chaos.db.scalar("SELECT count(*) FROM messages WHERE escalated")
    assert int(flagged) == len(fired), (flagged, len(fired))
    assert fired, "no alert was escalated: nothing was tested"
    return len(fired)
