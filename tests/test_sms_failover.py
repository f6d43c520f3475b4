"""An SMS that does not reach the phone goes to the person's next channel, end to end: the
dispatcher sends through the fake gateway, the receipt poller hears "undelivered" (or
nothing, for an alert, in time) and the dispatcher sends again on Bale or email. SQLite and
PostgreSQL; the poller's clock is injected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.channels.base import Channel
from crisisd.channels.registry import build_channels
from crisisd.channels.sms import SmsChannel
from crisisd.config import Sms, SmsGateway
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.sandbox.runner import Sandbox, start_sandbox
from crisisd.scheduler.receipts import ReceiptPoller
from crisisd.store import MessageRow, Store
from crisisd.store.receipts import ReceiptLedger
from tests.smstree import make_sms_tree

AHEAD = [timedelta(hours=1)]  # the daemon's clock runs ahead: every step is due at once


def now() -> datetime:
    return datetime.now(UTC) + AHEAD[0]


def later(minutes: float) -> None:
    """Move the daemon's clock (dispatcher, service and poller alike) ``minutes`` on."""
    AHEAD[0] += timedelta(minutes=minutes)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Library, Sandbox]]:
    AHEAD[0] = timedelta(hours=1)
    base = make_sms_tree(tmp_path / "tree")
    gateway = SmsGateway(name="kavenegar", provider="kavenegar", sender="10008663")
    lib = load_library(base.model_copy(update={"sms": Sms(gateways=[gateway])}))
    sb = await start_sandbox(lib.config)
    sb.seed(lib.directory)
    try:
        yield lib, sb
    finally:
        await sb.aclose()


async def run(
    lib: Library,
    sb: Sandbox,
    store: Store,
    between: Callable[[IncidentService, Dispatcher, dict[str, Channel], str], Awaitable[None]],
) -> str:
    svc = IncidentService(store, lambda: lib, clock=now)
    channels = build_channels(sb.point(lib.config))

    def address(msg: MessageRow, channel: str) -> str | None:
        return lib.directory.contacts[msg.recipient].address_for(channel)

    d = Dispatcher(
        store, channels, address, policy=RetryPolicy(base=0.05, max_attempts_per_channel=2),
        clock=now,
    )  # fmt: skip
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    await d.start()
    try:
        await until_async(lambda: sms_sent(store, opened.incident_id, 2))
        await between(svc, d, channels, opened.incident_id)
    finally:
        await d.drain()
        for ch in channels.values():
            await ch.aclose()
    return opened.incident_id


async def until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not done():
            await asyncio.sleep(0.02)


async def until_async(done: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(20):
        while not await done():
            await asyncio.sleep(0.02)


async def sms_sent(store: Store, incident: str, n: int) -> bool:
    msgs = await store.messages_of(incident)
    return sum(m.status == "sent" and m.sent_channel == "sms" for m in msgs) == n


def poller(store: Store, channels: dict[str, Channel], d: Dispatcher) -> ReceiptPoller:
    sms = channels["sms"]
    assert isinstance(sms, SmsChannel)
    return ReceiptPoller(
        ReceiptLedger(store), sms, now, every=timedelta(seconds=60),
        alert_within=timedelta(minutes=5), kick=d.kick,
    )  # fmt: skip


async def test_an_undelivered_sms_goes_to_the_next_channel(
    world: tuple[Library, Sandbox], store: Store
) -> None:
    lib, sb = world
    assert sb.sms is not None
    sb.sms.state.outcome["kavenegar"] = "undelivered"  # every SMS from now on

    async def between(
        svc: IncidentService, d: Dispatcher, channels: dict[str, Channel], incident: str
    ) -> None:
        later(1)
        final = await poller(store, channels, d).poll()
        assert len(final) == 2
        await until(lambda: bool(sb.inbox.query(service="bale", to="1002")))
        await until(lambda: bool(sb.inbox.query(service="smtp", to="boss@example.com")))

    incident = await run(lib, sb, store, between)
    msgs = {m.recipient: m for m in await store.messages_of(incident) if m.purpose == "alert"}
    assert (msgs["staff.b"].status, msgs["staff.b"].sent_channel) == ("sent", "bale")
    assert (msgs["boss.c"].status, msgs["boss.c"].sent_channel) == ("sent", "email")
    trail = [e.action for e in await store.audit_of(incident)]
    assert trail.count("receipt.undelivered") == 2 and trail.count("delivery.failover") == 2


async def test_an_alert_not_delivered_in_time_goes_on_the_rest_wait(
    world: tuple[Library, Sandbox], store: Store
) -> None:
    lib, sb = world
    assert sb.sms is not None
    sb.sms.state.outcome["kavenegar"] = "pending"  # the operator never reports delivery

    async def between(
        svc: IncidentService, d: Dispatcher, channels: dict[str, Channel], incident: str
    ) -> None:
        later(2)
        assert await poller(store, channels, d).poll() == []
        assert not sb.inbox.query(service="bale", to="1002")
        later(4)
        await poller(store, channels, d).poll()
        await until(lambda: bool(sb.inbox.query(service="bale", to="1002")))

    incident = await run(lib, sb, store, between)
    msgs = {m.recipient: m for m in await store.messages_of(incident) if m.purpose == "alert"}
    assert msgs["staff.b"].sent_channel == "bale", "the alert to acknowledge moved on"
    assert msgs["boss.c"].sent_channel == "sms", "a message without ack waits for its receipt"
    [failover] = [e for e in await store.audit_of(incident) if e.action == "delivery.failover"]
    assert failover.detail is not None
    assert failover.detail["reason"] == "SMS not reported delivered within 5 min"


async def test_an_acknowledged_alert_stays_put(
    world: tuple[Library, Sandbox], store: Store
) -> None:
    lib, sb = world
    assert sb.sms is not None
    sb.sms.state.outcome["kavenegar"] = "undelivered"

    async def between(
        svc: IncidentService, d: Dispatcher, channels: dict[str, Channel], incident: str
    ) -> None:
        [alert] = [m for m in await store.messages_of(incident) if m.recipient == "staff.b"]
        await svc.acknowledge(incident, "staff.b", "sms", alert.id)
        later(1)
        await poller(store, channels, d).poll()
        await until(lambda: bool(sb.inbox.query(service="smtp", to="boss@example.com")))

    incident = await run(lib, sb, store, between)
    msgs = {m.recipient: m for m in await store.messages_of(incident) if m.purpose == "alert"}
    assert msgs["staff.b"].sent_channel == "sms"
    assert not sb.inbox.query(service="bale", to="1002")
