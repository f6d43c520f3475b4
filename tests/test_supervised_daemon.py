"""The whole daemon in this process, against the sandbox fakes over real HTTP, on SQLite and
PostgreSQL: a channel worker that dies is logged, shown in /healthz and /metrics, restarted,
and its message still arrives.

The only stand-in is a Bale channel class registered for the test: the real one, except
that its first send ends the way a leaked cancel scope ends a task (``CancelledError``
with nobody having cancelled it), which no channel contract can classify.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from crisisd.channels import registry
from crisisd.channels.base import OutboundMessage, SendResult
from crisisd.channels.telegram import TelegramChannel
from crisisd.config import load_config
from crisisd.library.loader import load_library
from crisisd.service import Daemon
from crisisd.store import Store
from crisisd.supervision import Supervisor
from tests.minitree import make_tree
from tests.pauses import Pauses

pytestmark = pytest.mark.slow
TOKEN = "supervised-daemon-token-7Hq2"
STAFF = 30


class CancelledOnce(TelegramChannel):
    """The real messenger channel; its first Bale send raises a stray CancelledError."""

    broken: list[str] = []  # noqa: RUF012 - shared on purpose: one break per test run

    async def send(self, msg: OutboundMessage) -> SendResult:
        if msg.channel == "bale" and not self.broken:
            self.broken.append(msg.address)
            raise asyncio.CancelledError  # nobody cancelled the worker: a leaked cancel scope
        return await super().send(msg)


def write_config(root: Path, store_url: str) -> Path:
    make_tree(root)
    directory = root / "playbooks" / "directory.yaml"
    directory.write_text(
        directory.read_text(encoding="utf-8")
        + "".join(
            f"  w{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    chats: {{bale: {7000 + i}}}\n"
            for i in range(STAFF)
        ),
        encoding="utf-8",
    )
    pb = root / "playbooks" / "mini.yaml"
    members = ", ".join(f"w{i}" for i in range(STAFF))
    pb.write_text(
        pb.read_text(encoding="utf-8").replace(
            "    members: [staff.b]", f"    members: [staff.b, {members}]"
        ),
        encoding="utf-8",
    )
    sha = hashlib.sha256(TOKEN.encode()).hexdigest()
    cfg = root / "config.yaml"
    cfg.write_text(
        f"""\
store_url: {store_url}
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
api:
  bind: 127.0.0.1
  port: 0
  tokens: [{{name: itest, sha256: {sha}}}]
""",
        encoding="utf-8",
    )
    return cfg


@dataclass
class Running:
    daemon: Daemon
    http: aiohttp.ClientSession
    task: asyncio.Task[None]

    @property
    def api(self) -> str:
        return self.daemon.addresses["api"]

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = TOKEN
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.api + path, json=body, headers=headers) as r:
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, await r.text()

    async def inbox(self) -> list[dict[str, Any]]:
        url = self.daemon.addresses["inbox_page"].rstrip("/") + "/api/messages"
        async with self.http.get(url) as r:
            data = await r.json()
        return list(data["messages"] if isinstance(data, dict) else data)


@contextlib.asynccontextmanager
async def running(cfg: Path, **options: Any) -> AsyncIterator[Running]:
    config = load_config(cfg)
    daemon = Daemon(cfg, config, load_library(config), **options)
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        await task  # raises what stopped the start
    assert daemon.ready.is_set(), "the daemon did not get ready"
    try:
        async with aiohttp.ClientSession() as http:
            yield Running(daemon, http, task)
    finally:
        daemon.stopping.set()
        await asyncio.wait_for(task, 120)


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` (sync or async) until it is truthy; its value."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return got
        assert loop.time() < end, f"never happened: {what}"
        await asyncio.sleep(0.05)


async def test_a_dead_channel_worker_is_shown_restarted_and_loses_nothing(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store``: the conftest fixture, for its URL on SQLite and on PostgreSQL."""
    monkeypatch.setitem(registry.REGISTRY, "chat", CancelledOnce)
    monkeypatch.setattr(CancelledOnce, "broken", [])
    cfg = write_config(tmp_path, store.url)
    pauses = Pauses()  # the dead worker's backoff lasts until the test has looked
    report = {"factory": "mini", "type": "fire", "severity": "major", "reporter": "officer.a"}
    with capture_logs() as logs:
        async with running(
            cfg, supervisor=Supervisor(sleep=pauses), lease=timedelta(seconds=3)
        ) as d:
            status, body = await d.call("POST", "/v1/incidents", report)
            assert status == 201, body
            incident = body["id"]
            await asyncio.wait_for(pauses.waiting.wait(), 60)

            (part,) = d.daemon.supervisor.faults()
            assert part.startswith("dispatcher.send.bale.")
            status, body = await d.call("GET", "/healthz", token=None)
            assert (status, body) == (503, {"ok": False, "down": [part]})
            status, body = await d.call("GET", "/healthz")
            assert status == 503
            assert body["down"][part].startswith("CancelledError")
            assert body["store"] == "up"

            pauses.release()  # the worker comes back
            await until(lambda: not d.daemon.supervisor.faults(), "the worker restarted")
            status, body = await d.call("GET", "/healthz", token=None)
            assert (status, body) == (200, {"ok": True})

            # every chat and SMS recipient is reached, the one whose send died too (its
            # claim was no longer renewed, ran out and was taken again)
            chats = {str(7000 + i) for i in range(STAFF)} | {"1002", "1003"}
            await until(lambda: _reached(d, chats), "every recipient reached", timeout=90)
            rows = await d.daemon.store.messages_of(incident)
            due = [m for m in rows if m.recipient != "press.d"]  # the press step waits 10m
            await until(lambda: _all_sent(d, incident), "every due message recorded as sent")
            assert len(due) == STAFF + 2
            status, text = await d.call("GET", "/metrics")
            assert f'crisisd_part_failures_total{{part="{part}"}} 1.0' in text
            assert f'crisisd_part_down{{part="{part}"}} 0.0' in text
    assert CancelledOnce.broken, "the stray cancellation never happened: nothing was tested"
    died = [e for e in logs if e["event"] == "supervision.part_died"]
    assert [e["part"] for e in died] == [part]
    assert died[0]["cause"].startswith("CancelledError")
    assert any(e["event"] == "supervision.recovered" and e["part"] == part for e in logs)


async def _reached(d: Running, chats: set[str]) -> bool:
    got = [m["to"] for m in await d.inbox()]
    return chats <= set(got)


async def _all_sent(d: Running, incident: str) -> bool:
    rows = await d.daemon.store.messages_of(incident)
    return all(m.status == "sent" for m in rows if m.recipient != "press.d")
