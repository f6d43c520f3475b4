"""The fake Bot API under test: one started on loopback with a bot and two users, a
stepped clock, and a webhook receiver. Shared by the test_sandbox_botapi* modules."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crisisd.sandbox.botapi import BOTAPI_STATE, BotApiState, create_botapi_app
from crisisd.sandbox.inbox import Inbox

TOKEN = "123456:SECRET-TOKEN-abc"
USER = 1001
OTHER = 1002
RLM = "\u200f"


class Clock:
    """Monotonic seconds the test steps by hand (flood control reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Fake:
    url: str
    state: BotApiState
    inbox: Inbox
    http: aiohttp.ClientSession
    clock: Clock

    async def call(self, method: str, token: str = TOKEN, **params: Any) -> tuple[int, Any]:
        """POST a Bot API method with a JSON body; (HTTP status, decoded body)."""
        async with self.http.post(f"{self.url}/bot{token}/{method}", json=params) as resp:
            return resp.status, await resp.json()

    async def control(self, path: str, body: Any = None) -> Any:
        method = "GET" if body is None else "POST"
        async with self.http.request(method, f"{self.url}/_control/{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


async def start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def make_fake(
    http: aiohttp.ClientSession, name: str = "telegram", **kw: Any
) -> AsyncIterator[Fake]:
    inbox = Inbox()
    clock = Clock()
    app = create_botapi_app(name, inbox, clock=clock, **kw)
    runner, url = await start(app)
    fake = Fake(url, app[BOTAPI_STATE], inbox, http, clock)
    fake.state.add_bot(TOKEN)
    await fake.control("users", {"id": USER, "first_name": "رضا", "language_code": "fa"})
    await fake.control("users", {"id": OTHER, "first_name": "Sara", "username": "sara"})
    yield fake
    await runner.cleanup()


@dataclass
class Hook:
    """A webhook receiver on loopback: records what the fake POSTs, answers ``status``."""

    url: str
    received: list[tuple[dict[str, str], Any]]
    status: int = 200
    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    got: list[tuple[dict[str, str], Any]] = []
    box: list[Hook] = []

    async def receive(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.json()))
        box[0].arrived.set()
        return web.Response(status=box[0].status, text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner, url = await start(app)
    box.append(Hook(f"{url}/hook", got))
    yield box[0]
    await runner.cleanup()


async def arrival(hook: Hook, count: int) -> None:
    while len(hook.received) < count:
        hook.arrived.clear()
        await asyncio.wait_for(hook.arrived.wait(), 10)
