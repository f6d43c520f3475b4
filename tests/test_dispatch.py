"""Dispatcher: retry with backoff and cap, retry_after, failover, final failure, escalation.

Time is an injected clock shared by the service, the dispatcher and the scripted channels:
tests assert on recorded times (a retry's ``not_before``, when a send was made), never on
how long anything took.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
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
from crisisd.domain import MessageStatus, Purpose
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.scheduler.sweeper import sweep
from crisisd.store import MessageRow, Store
from tests.minitree import report

T0 = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


class Clock:
    """The test's time: it moves only when the test moves it."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Scripted:
    """A channel that answers from a script (it is a channel, not the code under test)."""

    kind = "chat"

    def __init__(
        self,
        name: str,
        script: list[SendResult] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.limits = ChannelLimits(max_length=4096, rate_per_second=1000, concurrency=2)
        self.script = deque(script or [])
        self.clock = clock or Clock()
        self.sent: list[tuple[datetime, OutboundMessage]] = []  # (the clock's time, message)

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sent.append((self.clock(), msg))
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


async def run_until(pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for ``pred``; the timeout only stops a hung test, it measures nothing."""
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
    clock = Clock()
    bale = Scripted("bale", [Retry(1.0, "429 too many requests")], clock)
    sms = Scripted("sms", clock=clock)
    email = Scripted("email", clock=clock)
    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    d = Dispatcher(
        store,
        {"bale": bale, "sms": sms, "email": email},
        address_of(library),
        policy=RetryPolicy(base=0.01),
        clock=clock,
    )
    await d.start()

    async def staff(status: MessageStatus) -> MessageRow | None:
        msgs = await store.messages_of(opened.incident_id)
        found = [m for m in msgs if m.recipient == "staff.b" and m.status == status]
        return found[0] if found and found[0].attempts == 1 else None

    async def retry_recorded() -> bool:
        return await staff(MessageStatus.PENDING) is not None

    await run_until(retry_recorded)
    waiting = await staff(MessageStatus.PENDING)
    assert waiting is not None
    # recorded to go again on the same channel once retry_after has passed, not before
    assert (waiting.channel, waiting.not_before) == ("bale", T0 + timedelta(seconds=1))
    assert waiting.last_error == "429 too many requests"

    async def boss_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "boss.c" and m.status == MessageStatus.SENT for m in msgs)

    # management was not held up by the staff member's retry
    await run_until(boss_sent)
    clock.at = waiting.not_before  # the retry's time comes
    d.kick()

    async def staff_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.b" and m.status == MessageStatus.SENT for m in msgs)

    await run_until(staff_sent)
    await d.drain()
    to_staff = [at for at, m in bale.sent if m.address == "1002"]
    assert to_staff == [T0, T0 + timedelta(seconds=1)]  # the second send at its recorded time


async def test_permanent_failure_falls_over_to_next_channel(store: Store, library: Library) -> None:
    clock = Clock()
    bale = Scripted("bale", [Failed("Forbidden: bot was blocked by the user")], clock)
    sms = Scripted("sms", clock=clock)
    email = Scripted("email", clock=clock)
    told: list[str] = []

    async def on_final(msg: MessageRow, reason: str) -> None:
        told.append(msg.recipient)

    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    d = Dispatcher(
        store,
        {"bale": bale, "sms": sms, "email": email},
        address_of(library),
        on_final_failure=on_final,
        clock=clock,
    )
    await d.start()

    async def staff_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.b" and m.status == MessageStatus.SENT for m in msgs)

    await run_until(staff_sent)
    await d.drain()
    (staff,) = [m for m in await store.messages_of(opened.incident_id) if m.recipient == "staff.b"]
    assert staff.sent_channel == "sms"
    assert (staff.channel_index, staff.attempts) == (1, 1)  # a fresh budget on sms
    assert told == []  # a failover is not a failure the officer hears of
    assert sms.sent[0][1].address == "+989121114455"
    assert not sms.sent[0][1].text.startswith("\u200f")  # the SMS rendering, not the chat one


async def test_all_channels_fail_records_failure_and_tells_officer(
    store: Store, library: Library
) -> None:
    clock = Clock()
    bale = Scripted("bale", [Failed("blocked"), Sent("ok")], clock)
    sms = Scripted("sms", [Failed("all SMS gateways are down", "channel")], clock)
    email = Scripted("email", clock=clock)
    told: list[tuple[str, str]] = []

    async def on_final(msg: MessageRow, reason: str) -> None:
        told.append((msg.recipient, reason))

    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    d = Dispatcher(
        store,
        {"bale": bale, "sms": sms, "email": email},
        address_of(library),
        on_final_failure=on_final,
        clock=clock,
    )
    await d.start()

    async def staff_failed() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return any(m.recipient == "staff.b" and m.status == MessageStatus.FAILED for m in msgs)

    await run_until(staff_failed)
    await d.drain()
    assert told == [("staff.b", "all SMS gateways are down")]


async def test_escalation_survives_restart(store: Store, library: Library) -> None:
    clock = Clock()
    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    channels = {n: Scripted(n, clock=clock) for n in ("bale", "sms", "email")}
    d = Dispatcher(store, dict(channels), address_of(library), clock=clock)
    await d.start()

    async def alerts_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return sum(m.status == MessageStatus.SENT for m in msgs) == 2

    await run_until(alerts_sent)
    await d.drain()
    # "restart": a new service on the same store, six minutes later (ack within 5m)
    clock.at += timedelta(minutes=6)
    svc2 = IncidentService(store, lambda: library, clock)
    assert await sweep(svc2) == 1
    assert await sweep(svc2) == 0  # once only
    msgs = await store.messages_of(opened.incident_id)
    esc = [m for m in msgs if m.purpose == Purpose.ESCALATION]
    assert {(m.recipient, tuple(m.channels)) for m in esc} == {
        ("staff.b", ("sms",)),  # the same alert on the next channel
        ("boss.c", ("bale", "email")),  # management told who has not acknowledged
    }
    notices = [m for m in msgs if m.purpose == Purpose.NOTICE]
    assert [m.recipient for m in notices] == ["officer.a"]  # the officer hears of it


async def test_ack_stops_escalation(store: Store, library: Library) -> None:
    clock = Clock()
    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    channels = {n: Scripted(n, clock=clock) for n in ("bale", "sms", "email")}
    d = Dispatcher(store, dict(channels), address_of(library), clock=clock)
    await d.start()

    async def alerts_sent() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return sum(m.status == MessageStatus.SENT for m in msgs) == 2

    await run_until(alerts_sent)
    await d.drain()
    await svc.acknowledge(opened.incident_id, "staff.b", "bale")
    clock.at += timedelta(minutes=6)
    assert await sweep(svc) == 0
