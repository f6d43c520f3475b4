"""One escalation round on the real samples: what management and the officer read.

Three members of Shahriar Steel's emergency team stay silent past the 5-minute rule: each
gets the alert again on their next channel, management gets **one** message naming all
three (in their language, no audience keys, the rule's 5 minutes), the officer one notice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent
from crisisd.config import load_config
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import IncidentReport, Purpose
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.scheduler.sweeper import sweep
from crisisd.store import MessageRow, Store

ROOT = Path(__file__).resolve().parent.parent
TEAM = ("hse.mousavi", "hse.jafari", "hse.nazari")


class Recorder:
    """Accepts everything and keeps what it was given (a channel, not the code under test)."""

    kind = "chat"

    def __init__(self, name: str) -> None:
        self.name = name
        self.kind = {"sms": "sms", "email": "email"}.get(name, "chat")
        self.limits = ChannelLimits(max_length=100_000, rate_per_second=1e6, concurrency=4)
        self.sent: list[OutboundMessage] = []

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sent.append(msg)
        return Sent(f"{self.name}-{len(self.sent)}")

    async def aclose(self) -> None:
        return None


@pytest.fixture(scope="module")
def samples() -> Library:
    return load_library(load_config(ROOT / "config.yaml"))


def _address(lib: Library):  # type: ignore[no-untyped-def]
    def find(msg: MessageRow, channel: str) -> str | None:
        c = lib.directory.contacts[msg.recipient]
        if channel == "sms":
            return c.phone
        if channel == "email":
            return c.email
        chat = c.chats.get(channel)
        return None if chat is None else str(chat)

    return find


async def _deliver_all(store: Store, lib: Library, incident_id: str) -> None:
    channels = {n: Recorder(n) for n in ("bale", "telegram", "sms", "email")}
    d = Dispatcher(store, dict(channels), _address(lib))  # type: ignore[arg-type]
    await d.start()
    try:
        async with asyncio.timeout(30):
            while any(
                m.status == "pending" and m.not_before <= datetime.now(UTC)
                for m in await store.messages_of(incident_id)
            ):
                await asyncio.sleep(0.02)
    finally:
        await d.drain()


async def test_management_gets_one_message_naming_everyone_silent(
    store: Store, samples: Library
) -> None:
    now = [datetime.now(UTC)]
    svc = IncidentService(store, lambda: samples, lambda: now[0])
    opened = await svc.open(
        IncidentReport("shahriar-steel", "fire", "major", "officer.rezaei", details="آتش")
    )
    await _deliver_all(store, samples, opened.incident_id)
    now[0] += timedelta(minutes=6)

    assert await sweep(svc) == 3
    assert await sweep(svc) == 0  # each alert escalates once

    msgs = await store.messages_of(opened.incident_id)
    escalations = [m for m in msgs if m.purpose == Purpose.ESCALATION]
    resends = [m for m in escalations if m.audience == "emergency_team"]
    told = [m for m in escalations if m.audience == "management"]
    assert sorted(m.recipient for m in resends) == sorted(TEAM)
    management = samples.playbook("shahriar-steel").audiences["management"].members
    assert sorted(m.recipient for m in told) == sorted(management)  # one each, not three each

    for m in told:
        chat = m.rendering(next(iter(m.renderings)))
        team = [samples.directory.contacts[c].name.get(m.lang) for c in TEAM]
        for name in team:
            assert name in chat.text
        assert "emergency_team" not in chat.text and "management" not in chat.text
        if m.lang == "fa":
            assert "۵ دقیقه" in chat.text  # the rule, not the time left after retries
            assert "تشدید" not in chat.text  # does not read as "the fire got worse"
        else:
            assert "5 minutes" in chat.text

    notices = [m for m in msgs if m.purpose == Purpose.NOTICE and "escalated" in m.key]
    assert [m.recipient for m in notices] == ["officer.rezaei"]
    note = notices[0].rendering(next(iter(notices[0].renderings))).text
    assert "emergency_team" not in note and "management" not in note
    assert "تیم واکنش در شرایط اضطراری" in note and "مدیران ارشد" in note
