"""Dispatcher: retry with backoff and cap, retry_after, failover, final failure, escalation."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from datetime import UTC, datetime, timedelta

from crisisd.channels.base import (
    ChannelLimits,
    Failed,
    OutboundMessage,
    Retry,
    SendResult,
    Sent,
)
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.scheduler.sweeper import sweep
from crisisd.store import MessageRow, Store
from tests.minitree import report


class Scripted:
    """A channel that answers from a script (it is a channel, not the code under test)."""

    kind = "chat"

    def __init__(self, name: str, script: list[SendResult] | None = None) -> None:
        self.name = name
        self.limits = ChannelLimits(max_length=4096, rate_per_second=1000, concurrency=2)
        self.script = deque(script or [])
        self.sent: list[tuple[float, OutboundMessage]] = []

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sent.append((asyncio.get_running_loop().time(), msg))
        return self.script.popleft() if self.script else Sent(f"{self.name}-{len(self.sent)}")

    async def aclose(self) -> None:
        return None


def address_of(library: Library):  # type: ignore[no-untyped-def]
    def find(msg: MessageRow, channel: str) -> str | None:
        c = library.directory.contacts[msg.recipient]
        if channel == "sms":
            return c.phone
        if channel == "email":
            return c.email
        chat = c.chats.get(channel)
        return None if chat is None else str(chat)

    return find


async def run_until(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not await pred():
            await asyncio.sleep(0.02)


def test_backoff_is_exponential_jittered_and_capped() -> None:
    policy = RetryPolicy(base=2.0, cap=60.0)
    rng = random.Random(1)
    delays = [policy.delay(n, rng) for n in range(1, 12)]
    assert all(d <= 60.0 for d in delays)
    assert delays[-1] >= 30.0  # capped, jitter keeps it in [cap/2, cap]
    assert 1.0 <= delays[0] <= 2.0
    assert policy.delay(3, random.Random(2)) != policy.delay(3, random.Random(3))


async def test_retry_after_is_honoured_and_other_channels_go_on(
    store: Store, library: Library
) -> None:
    bale = Scripted("bale", [Retry(1.0, "429 too many requests")])
    sms = Scripted("sms")
    email = Scripted("email")
    svc = IncidentService(store, lambda: library)
    opened = await svc.open(report())
    d = Dispatcher(
        store,
        {"bale": bale, "sms": sms, "email": email},
        address_of(library),
        policy=RetryPolicy(base=0.01),
    )
    await d.start()

    async def both_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return sum(m.status == "sent" for m in msgs) == 2

    await run_until(both_sent)
    await d.drain()
    to_staff = [t for t, m in bale.sent if m.address == "1002"]
    assert len(to_staff) == 2
    assert to_staff[1] - to_staff[0] >= 0.95  # not before retry_after expired
    # management was not held up by the staff member's retry
    assert any(m.address == "1003" for _, m in bale.sent)


async def test_permanent_failure_falls_over_to_next_channel(store: Store, library: Library) -> None:
    bale = Scripted("bale", [Failed("Forbidden: bot was blocked by the user")])
    sms = Scripted("sms")
    email = Scripted("email")
    svc = IncidentService(store, lambda: library)
    opened = await svc.open(report())
    d = Dispatcher(store, {"bale": bale, "sms": sms, "email": email}, address_of(library))
    await d.start()

    async def staff_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.b" and m.status == "sent" for m in msgs)

    await run_until(staff_sent)
    await d.drain()
    (staff,) = [m for m in await store.messages_of(opened.incident_id) if m.recipient == "staff.b"]
    assert staff.sent_channel == "sms"
    assert sms.sent[0][1].address == "+989121114455"
    assert not sms.sent[0][1].text.startswith("\u200f")  # the SMS rendering, not the chat one


async def test_all_channels_fail_records_failure_and_tells_officer(
    store: Store, library: Library
) -> None:
    bale = Scripted("bale", [Failed("blocked"), Sent("ok")])
    sms = Scripted("sms", [Failed("all SMS gateways are down", "channel")])
    email = Scripted("email")
    told: list[tuple[str, str]] = []

    async def on_final(msg: MessageRow, reason: str) -> None:
        told.append((msg.recipient, reason))

    svc = IncidentService(store, lambda: library)
    opened = await svc.open(report())
    d = Dispatcher(
        store,
        {"bale": bale, "sms": sms, "email": email},
        address_of(library),
        on_final_failure=on_final,
    )
    await d.start()

    async def staff_failed() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.b" and m.status == "failed" for m in msgs)

    await run_until(staff_failed)
    await d.drain()
    assert told == [("staff.b", "all SMS gateways are down")]


async def test_escalation_survives_restart(store: Store, library: Library) -> None:
    now = [datetime.now(UTC)]
    svc = IncidentService(store, lambda: library, lambda: now[0])
    opened = await svc.open(report())
    channels = {n: Scripted(n) for n in ("bale", "sms", "email")}
    d = Dispatcher(store, dict(channels), address_of(library))
    await d.start()

    async def alerts_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return sum(m.status == "sent" for m in msgs) == 2

    await run_until(alerts_sent)
    await d.drain()
    # "restart": a new service on the same store, six minutes later (ack within 5m)
    now[0] += timedelta(minutes=6)
    svc2 = IncidentService(store, lambda: library, lambda: now[0])
    assert await sweep(svc2) == 1
    assert await sweep(svc2) == 0  # once only
    msgs = await store.messages_of(opened.incident_id)
    esc = [m for m in msgs if m.purpose == "escalation"]
    assert {(m.recipient, tuple(m.channels)) for m in esc} == {
        ("staff.b", ("sms",)),  # the same alert on the next channel
        ("boss.c", ("bale", "email")),  # management told who has not acknowledged
    }
    notices = [m for m in msgs if m.purpose == "notice"]
    assert [m.recipient for m in notices] == ["officer.a"]  # the officer hears of it


async def test_ack_stops_escalation(store: Store, library: Library) -> None:
    now = [datetime.now(UTC)]
    svc = IncidentService(store, lambda: library, lambda: now[0])
    opened = await svc.open(report())
    d = Dispatcher(store, {n: Scripted(n) for n in ("bale", "sms", "email")}, address_of(library))
    await d.start()

    async def alerts_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return sum(m.status == "sent" for m in msgs) == 2

    await run_until(alerts_sent)
    await d.drain()
    await svc.acknowledge(opened.incident_id, "staff.b", "bale")
    now[0] += timedelta(minutes=6)
    assert await sweep(svc) == 0
