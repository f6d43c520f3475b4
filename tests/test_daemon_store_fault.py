"""The whole daemon (in this process, sandbox fakes over real HTTP) when its SQLite store
stops taking writes mid-fan-out: the write-ahead log is made immutable (``chattr +i``,
which stops root too, as a full disk or a read-only remount would). /healthz answers 503
naming the store, a new report is refused with 503 ``store_unavailable`` (never 201), the
dispatcher keeps running; once the file takes writes again delivery finishes by itself and
nothing accepted before the fault is lost."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crisisd.config import load_config
from crisisd.library.loader import load_library
from crisisd.service import Daemon
from tests.minitree import make_tree

TOKEN = "daemon-store-fault"
REPORT = {"factory": "mini", "type": "fire", "severity": "major", "reporter": "officer.a"}


def write_config(root: Path) -> Path:
    make_tree(root)
    sha = hashlib.sha256(TOKEN.encode()).hexdigest()
    cfg = root / "config.yaml"
    cfg.write_text(
        f"""\
store_url: sqlite+aiosqlite:///{root}/var/crisisd.sqlite3
playbooks: playbooks
templates: templates
sandbox: true
sandbox_port: 0
messengers:
  - {{name: bale, base_url: "https://tapi.bale.ai/bot", officers_bot: false}}
  - {{name: telegram, officers_bot: false}}
sms:
  gateways:
    - {{name: kavenegar, provider: kavenegar, sender: "10008663"}}
api: {{bind: 127.0.0.1, port: 0, tokens: [{{name: itest, sha256: {sha}}}]}}
""",
        encoding="utf-8",
    )
    return cfg


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("no chattr here")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i refused: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@asynccontextmanager
async def running(cfg: Path) -> AsyncIterator[tuple[Daemon, aiohttp.ClientSession]]:
    config = load_config(cfg)
    daemon = Daemon(cfg, config, load_library(config))
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        await task
    try:
        async with aiohttp.ClientSession() as http:
            yield daemon, http
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(task, 120)


async def call(
    http: aiohttp.ClientSession, daemon: Daemon, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = daemon.addresses["api"] + path
    async with http.request(method, url, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_a_store_that_stops_taking_writes_is_named_refused_and_survived(
    tmp_path: Path,
) -> None:
    cfg = write_config(tmp_path)
    async with running(cfg) as (daemon, http):
        status, body = await call(http, daemon, "GET", "/healthz")
        assert status == 200, body
        assert body["workers"]["alive"] == body["workers"]["expected"] > 0
        assert body["oldest_due_seconds"] is not None
        status, opened = await call(http, daemon, "POST", "/v1/incidents", REPORT)
        assert status == 201, opened
        with immutable(tmp_path / "var" / "crisisd.sqlite3-wal"):
            async with asyncio.timeout(60):  # the probe row is written at most once a second
                while (answer := await call(http, daemon, "GET", "/healthz"))[0] != 503:
                    await asyncio.sleep(0.2)
            assert answer[1]["store"].startswith("down: StoreUnavailable")
            status, body = await call(http, daemon, "POST", "/v1/incidents", REPORT)
            assert (status, body["error"]["code"]) == (503, "store_unavailable")
            await asyncio.sleep(1.5)  # the dispatcher meets the fault too, and waits
            assert not {p for p in daemon.supervisor.faults() if p.startswith("dispatcher.")}
        async with asyncio.timeout(90):  # writes work again: it finishes by itself
            while True:
                rows = await daemon.store.messages_of(opened["id"])
                due = [m for m in rows if m.recipient != "press.d"]  # the press waits 10 min
                if due and all(m.status == "sent" for m in due):
                    break
                await asyncio.sleep(0.2)
        status, body = await call(http, daemon, "GET", "/healthz")
        assert status == 200, body
        assert [i.id for i in await daemon.store.list_incidents()] == [opened["id"]]
        # every pooled connection writes again, those opened during the fault included
        later = [await call(http, daemon, "POST", "/v1/incidents", REPORT) for _ in range(8)]
        assert [status for status, _ in later] == [201] * 8, later
