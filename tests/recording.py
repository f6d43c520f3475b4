"""A recording channel and a helper that delivers an incident's due messages through the
real dispatcher (fixtures for test modules; not a test module itself)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from crisisd.channels.base import ChannelLimits, OutboundMessage, SendResult, Sent
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.library.model import Library
from crisisd.store import MessageRow, Store

CHANNELS = ("bale", "telegram", "sms", "email")


class Recorder:
    """Accepts everything and keeps what it was given (a channel, not the code under test)."""

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


def address_of(lib: Library) -> Callable[[MessageRow, str], str | None]:
    def find(msg: MessageRow, channel: str) -> str | None:
        c = lib.directory.contacts[msg.recipient]
        if channel == "sms":
            return c.phone
        if channel == "email":
            return c.email
        chat = c.chats.get(channel)
        return None if chat is None else str(chat)

    return find


async def deliver_due(
    store: Store, lib: Library, incident_id: str, clock: Callable[[], datetime]
) -> dict[str, Recorder]:
    """Run the dispatcher (on ``clock``) until nothing of the incident is due and pending."""
    channels = {n: Recorder(n) for n in CHANNELS}
    d = Dispatcher(store, dict(channels), address_of(lib), clock=clock)
    await d.start()
    try:
        async with asyncio.timeout(30):
            while any(
                m.status == "pending" and m.not_before <= clock()
                for m in await store.messages_of(incident_id)
            ):
                await asyncio.sleep(0.02)
    finally:
        await d.drain()
    return channels
