"""The roll call over HTTP: the signed link's page (answers only on POST; forged, cut,
expired and reused links), the headcount route and the authenticated inbound-SMS webhook."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crisisd.api.acklinks import AckSigner
from crisisd.api.app import create_api_app, start_api
from crisisd.config import ApiToken
from crisisd.context import DaemonContext
from crisisd.domain import Purpose
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.metrics import Metrics
from crisisd.rollcall.headcount import State
from crisisd.rollcall.service import RollCalls
from crisisd.store import Store
from tests.minitree import T0, Clock, report
from tests.rollcalltree import make_rollcall_tree

TOKEN = "rollcall-token-Zq3vN8xW2kLp7sRt5y"
RC_LINK = re.compile(r"(http://\S+/v1/rc/[A-Za-z0-9_-]{44})")


@dataclass
class World:
    url: str
    http: aiohttp.ClientSession
    store: Store
    calls: RollCalls
    clock: Clock
    incident: str

    async def post(self, path: str, body: Any, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.post(self.url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[World]:
    """The API on a real store, SQLite and PostgreSQL (conftest's ``store``)."""
    lib = load_library(make_rollcall_tree(tmp_path / "tree"))
    clock = Clock()
    svc = IncidentService(store, lambda: lib, clock)

    async def health() -> dict[str, Any]:
        return {"ok": True}

    ctx = DaemonContext(store, svc, Metrics(), lambda: lib, health, lambda: None)
    signer = AckSigner(b"rollcall-secret-0123456789", timedelta(hours=48), clock)
    tokens = [ApiToken(name="gw", sha256=hashlib.sha256(TOKEN.encode()).hexdigest())]
    app = create_api_app(ctx, tokens=tokens, signer=signer, max_body_bytes=4096)
    runner = await start_api(app, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    svc.ack_link = lambda key: signer.url(base, key)
    opened = await svc.open(report())
    try:
        async with aiohttp.ClientSession() as http:
            yield World(base, http, store, RollCalls(svc), clock, opened.incident_id)
    finally:
        await runner.cleanup()


async def _link(w: World, who: str) -> str:
    msgs = await w.store.messages_of(w.incident)
    q = next(m for m in msgs if m.purpose is Purpose.ROLL_CALL and m.recipient == who)
    text = " ".join(str(r.get("text") or "") for r in q.renderings.values())
    found = RC_LINK.search(text)
    assert found is not None, text
    return found.group(1)


async def _state(w: World, who: str) -> State:
    return (await w.calls.headcount(w.incident)).people[who].state


async def test_opening_the_link_records_nothing_and_the_post_answers(world: World) -> None:
    link = await _link(world, "boss.c")  # by email
    async with world.http.get(link + "?a=help") as page:
        assert page.status == 200
        html = await page.text()
    assert 'name="answer" value="help"' in html and "<form" in html
    assert await _state(world, "boss.c") is State.NO_ANSWER
    async with world.http.head(link) as head:
        assert head.status == 405  # link checkers send HEAD: it answers nothing
    form = {"answer": "help", "location": "<b>دفتر</b> طبقهٔ ۲"}
    async with world.http.post(link, data=form) as done:
        assert done.status == 200 and "تیم واکنش" in await done.text()
    person = (await world.calls.headcount(world.incident)).people["boss.c"]
    assert person.state is State.HELP and person.via == "link"
    calls = [
        m for m in await world.store.messages_of(world.incident) if m.purpose is Purpose.ESCALATION
    ]
    chat = [m.rendering("chat").text for m in calls if "chat" in m.renderings]
    assert chat and all("&lt;b&gt;دفتر&lt;/b&gt;" in t for t in chat)  # escaped, never markup
    # the same link again: the latest answer wins
    async with world.http.post(link, data={"answer": "safe"}) as again:
        assert again.status == 200
    assert await _state(world, "boss.c") is State.SAFE


async def test_forged_cut_and_expired_links_are_refused(world: World) -> None:
    link = await _link(world, "staff.b")  # by SMS
    token = link.rsplit("/", 1)[1]
    forged = link[: -len(token)] + ("A" if token[0] != "A" else "B") + token[1:]
    for bad, status in ((forged, 400), (link[:-3], 400)):
        async with world.http.post(bad, data={"answer": "safe"}) as resp:
            assert resp.status == status
    world.clock.at = T0 + timedelta(hours=49)
    async with world.http.post(link, data={"answer": "safe"}) as resp:
        assert resp.status == 410
    assert await _state(world, "staff.b") is State.NO_ANSWER


async def test_the_webhook_takes_replies_with_a_token_only(world: World) -> None:
    sms = {"from": "۰۹۱۲ ۱۱۱ ۴۴۵۵", "text": "۱", "id": "gw-1", "gateway": "asanak"}
    status, body = await world.post("/v1/inbound/sms", sms, token=None)
    assert status == 401
    status, body = await world.post("/v1/inbound/sms", sms)
    assert (status, body["outcome"], body["counted"]) == (202, "counted", True)
    status, body = await world.post("/v1/inbound/sms", sms)
    assert (status, body["outcome"]) == (200, "duplicate")
    status, body = await world.post("/v1/inbound/sms", {**sms, "from": "09350001122", "id": "2"})
    assert (status, body["outcome"]) == (200, "unknown_sender")
    status, body = await world.post("/v1/inbound/sms", {**sms, "extra": 1})
    assert status in (400, 422)
    async with world.http.get(
        f"{world.url}/v1/incidents/{world.incident}/headcount",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as resp:
        count = await resp.json()
    assert count["total"]["safe"] == 1 and count["total"]["no_answer"] == 2
    assert count["no_answer"] == ["boss.c", "officer.a"]
