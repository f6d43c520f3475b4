"""The sandbox plays people connecting themselves: the fake Bot API opens invite links
(``/_control/open``), and the training page lets a newcomer /start, press the bot's
"share my number" button and paste an invite link, all over HTTP against the real bot."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from crisisd.enrolment.invites import send_invites
from crisisd.sandbox.trainer_users import newcomer_id
from crisisd.store import Store
from tests.botworld import PTB_RETRY_AFTER
from tests.enrolworld import EnrolWorld, enrol_world, wait_for

pytestmark = PTB_RETRY_AFTER
LINK = re.compile(r"https://(?:t\.me|ble\.ir)/\w+\?start=[A-Za-z0-9_-]+")


@pytest.fixture
async def world(tmp_path: Path, store: Store) -> AsyncIterator[EnrolWorld]:
    async with enrol_world(tmp_path, store) as w:
        yield w


async def invite_link(world: EnrolWorld, contact: str, host: str) -> str:
    batch = await send_invites(
        world.store, world.bound(), [contact], now=world.service.clock(), actor="test"
    )
    for m in await world.store.messages_of(batch.invited[0].record):
        for kind in m.renderings:
            for link in LINK.findall(m.rendering(kind).text):
                if host in link:
                    return str(link)
    raise AssertionError("no link")


async def test_the_fake_opens_an_invite_link_as_a_phone_would(world: EnrolWorld) -> None:
    link = await invite_link(world, "staff.n", "ble.ir")
    await world.user("bale", 8101)
    await world.control("bale", "open", {"user_id": 8101, "link": link})
    await world.chat("bale", 8101).said("نوید نوری")
    assert world.bound().directory.contacts["staff.n"].chats == {"bale": 8101}


class Page:
    def __init__(self, world: EnrolWorld) -> None:
        self.world, self.url = world, world.sb.trainer_url

    async def get(self, path: str, **query: object) -> Any:
        params = {k: str(v) for k, v in query.items()}
        async with self.world.http.get(self.url + path, params=params) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def post(self, path: str, body: dict[str, Any], status: int = 200) -> Any:
        async with self.world.http.post(self.url + path, json=body) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()

    async def chat(self, messenger: str, chat_id: int) -> Any:
        return await self.get("api/chat", messenger=messenger, chat_id=chat_id)


async def test_a_newcomer_connects_on_the_training_page_in_two_taps(world: EnrolWorld) -> None:
    page, uid = Page(world), newcomer_id("staff.n")
    roster = await page.get("api/users")
    [me] = [u for u in roster["users"] if u["messenger"] == "bale" and u["contact_id"] == "staff.n"]
    assert (me["chat_id"], me["role"], me["phone"]) == (uid, "newcomer", "989122223344")
    await page.post("api/send", {"messenger": "bale", "chat_id": uid, "text": "/start"})

    async def offered() -> str | None:
        button: str | None = (await page.chat("bale", uid))["contact_button"]
        return button

    assert await wait_for(offered, "the share button") == "📱 اشتراک شمارهٔ من"
    await page.post("api/contact", {"messenger": "bale", "chat_id": uid})
    await world.chat("bale", uid).said("✅ وصل شدید")
    assert world.bound().directory.contacts["staff.n"].chats == {"bale": uid}
    chat = await page.chat("bale", uid)
    assert chat["contact_button"] is None  # the bot took its keyboard away
    assert any("989122223344" in m["html"] for m in chat["messages"] if m["from"] == "user")


async def test_an_invite_link_pasted_on_the_training_page_opens_the_bot(world: EnrolWorld) -> None:
    page, uid = Page(world), newcomer_id("staff.e")
    link = await invite_link(world, "staff.e", "t.me")
    other = await invite_link(world, "staff.n", "ble.ir")
    refused = await page.post(
        "api/send", {"messenger": "telegram", "chat_id": uid, "text": other}, 409
    )
    assert "another bot" in refused["error"]
    await page.post("api/send", {"messenger": "telegram", "chat_id": uid, "text": f" {link} "})
    await world.chat("telegram", uid).said("Elham Asadi")
    assert world.bound().directory.contacts["staff.e"].chats == {"telegram": uid}
    no_phone = await page.post("api/contact", {"messenger": "bale", "chat_id": 1003}, 409)
    assert "no phone" in no_phone["error"]  # boss.c has none to share
