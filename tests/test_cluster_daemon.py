"""Several daemons on one PostgreSQL store: the worker lock outlives a dropped connection,
one daemon leads the scheduled work, and ``/metrics`` says who.

Real daemons (in this process, each with its own sandbox) on the PostgreSQL server named
by ``CRISISD_TEST_PG_URL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from crisisd.config import load_config
from crisisd.errors import WorkerIdInUse
from crisisd.library.loader import load_library
from crisisd.service import Daemon
from crisisd.store.leadership import SCHEDULER
from tests.conftest import _reset_pg, pg_url
from tests.minitree import make_tree

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOKEN = "cluster-test-token"


def write_config(root: Path, url: str) -> Path:
    make_tree(root)
    sha = hashlib.sha256(TOKEN.encode()).hexdigest()
    cfg = root / "config.yaml"
    cfg.write_text(
        f"""\
store_url: {url.replace("+asyncpg", "")}
playbooks: playbooks
templates: templates
sandbox: true
sandbox_port: 0
log_json: true
schedule: {{sweep_seconds: 1, check_seconds: 1}}
cluster: {{leader_lease_seconds: 3}}
messengers:
  - {{name: bale, base_url: "https://tapi.bale.ai/bot", officers_bot: true}}
api:
  bind: 127.0.0.1
  port: 0
  tokens: [{{name: itest, sha256: {sha}}}]
""",
        encoding="utf-8",
    )
    return cfg


@contextlib.asynccontextmanager
async def running(cfg: Path) -> AsyncIterator[Daemon]:
    config = load_config(cfg)
    daemon = Daemon(cfg, config, load_library(config))
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        await task  # raises what stopped the start
    try:
        yield daemon
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(task, 120)


async def until(check: object, what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = check() if callable(check) else check
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.1)


@pytest.fixture
async def url() -> str:
    url = pg_url()
    await _reset_pg(url)
    return url


async def _terminate_others(url: str) -> int:
    """pg_terminate_backend on every other connection to the database: all the daemon's."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            killed = await conn.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(killed or 0)


async def _advisory_locks(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            n = await conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
                )
            )
    finally:
        await engine.dispose()
    return int(n or 0)


async def test_a_dropped_connection_does_not_free_the_worker_id(tmp_path: Path, url: str) -> None:
    cfg = write_config(tmp_path / "a", url)
    async with running(cfg) as first:
        assert await _advisory_locks(url) == 1
        assert await _terminate_others(url) >= 1
        await until(lambda: _advisory_locks(url), "the worker lock taken again")
        second = Daemon(cfg, first.config, load_library(first.config))
        with pytest.raises(WorkerIdInUse, match="another crisisd already runs"):
            await second.run()
        assert not first.stopping.is_set()  # the first one goes on


async def test_two_daemons_share_one_store_and_one_leads(tmp_path: Path, url: str) -> None:
    a_cfg, b_cfg = write_config(tmp_path / "a", url), write_config(tmp_path / "b", url)
    async with running(a_cfg) as a, running(b_cfg) as b:
        assert a.worker != b.worker
        await until(
            lambda: a.leadership.held(SCHEDULER) or b.leadership.held(SCHEDULER), "a leader"
        )
        assert a.leadership.held(SCHEDULER) != b.leadership.held(SCHEDULER)
        leader, other = (a, b) if a.leadership.held(SCHEDULER) else (b, a)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        holder = f'crisisd_lease_holder{{holder="{leader.worker}",role="scheduler"}}'
        async with aiohttp.ClientSession(headers=auth) as http:
            for d, flag in ((leader, "1.0"), (other, "0.0")):

                async def shows(d: Daemon = d, flag: str = flag) -> bool:
                    async with http.get(d.addresses["api"] + "/metrics") as r:
                        text = await r.text()
                    return f'crisisd_leader{{role="scheduler"}} {flag}' in text and holder in text

                # the other daemon sees the holder at its next round (every lease/3)
                await until(shows, f"{d.worker}'s /metrics names the leader")
        leader.stopping.set()  # a clean stop gives the leases back: the other takes over
        await until(lambda: other.leadership.held(SCHEDULER), "the other one leads")
        await until(lambda: other.leadership.held("poll.bale"), "the other one polls")
