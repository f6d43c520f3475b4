"""End to end over real HTTP/SMTP: incident -> store -> dispatcher -> real channels -> sandbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisisd.channels.base import OutboundMessage, Sent
from crisisd.channels.registry import build_channels
from crisisd.config import Config, Sms, SmsGateway
from crisisd.context import DaemonContext
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService, tell_officer_of_failure
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.runner import Sandbox, start_sandbox
from crisisd.scheduler.gatewaywatch import GatewayWatch
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from tests.bale_reader import bale_visible
from tests.minitree import make_tree


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Library, Sandbox, Store]]:
    base = make_tree(tmp_path / "tree")
    gateways = [
        SmsGateway(name="kavenegar", provider="kavenegar", sender="10008663", cooldown_seconds=60),
        SmsGateway(name="ghasedak", provider="ghasedak", sender="30005088"),
    ]
    config = Config(playbooks=base.playbooks, templates=base.templates, sms=Sms(gateways=gateways))
    lib = load_library(config)
    sb = await start_sandbox(config)
    sb.seed(lib.directory)
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    try:
        yield lib, sb, store
    finally:
        await store.aclose()
        await sb.aclose()


async def fan_out(
    lib: Library, sb: Sandbox, store: Store, until: Callable[[], Awaitable[bool]]
) -> str:
    svc = IncidentService(store, lambda: lib)
    channels = build_channels(sb.point(lib.config))

    def address(msg: MessageRow, channel: str) -> str | None:
        return lib.directory.contacts[msg.recipient].address_for(channel)

    async def on_final(msg: MessageRow, reason: str) -> None:
        await tell_officer_of_failure(svc, msg, reason)
        d.kick()

    d = Dispatcher(
        store,
        channels,
        address,
        on_final_failure=on_final,
        policy=RetryPolicy(base=0.05, max_attempts_per_channel=2),
        clock=lambda: datetime.now(UTC) + timedelta(hours=1),
    )
    opened = await svc.open(
        IncidentReport("mini", "fire", "major", "officer.a", details="دود <b>غلیظ</b> در سالن ۲")
    )
    await d.start()
    try:
        async with asyncio.timeout(20):
            while not await until():
                await asyncio.sleep(0.05)
    finally:
        await d.drain()
        for ch in channels.values():
            await ch.aclose()
    return opened.incident_id


async def test_incident_reaches_every_inbox(world: tuple[Library, Sandbox, Store]) -> None:
    lib, sb, store = world

    async def done() -> bool:
        return len(sb.inbox) >= 3

    await fan_out(lib, sb, store, done)
    staff = sb.inbox.query(service="bale", to="1002")
    shown = bale_visible(staff[0].text) if staff else ""  # Bale: its Markdown, as read
    assert shown.startswith("\u200f")  # Persian chat is right-to-left
    assert "<b>غلیظ</b>" in shown and "<b>" not in staff[0].text.replace("<b>غلیظ", "")
    boss = sb.inbox.query(service="bale", to="1003")
    assert boss and "Fire" in boss[0].text  # English recipient, English template
    press = sb.inbox.query(service="smtp", to="desk@example.com")
    assert len(press) == 1
    assert press[0].html is not None and 'dir="rtl"' in press[0].html


async def test_kavenegar_out_of_credit_fails_over_to_ghasedak(
    world: tuple[Library, Sandbox, Store],
) -> None:
    lib, sb, store = world
    assert sb.sms is not None
    sb.sms.state.faults["kavenegar"].update({"mode": "no_credit"})
    sb.botapi["bale"].block(1002)  # staff.b's Bale is blocked: the alert falls over to SMS

    async def done() -> bool:
        return bool(sb.inbox.query(service="ghasedak"))

    incident = await fan_out(lib, sb, store, done)
    (sms,) = sb.inbox.query(service="ghasedak")
    assert sms.to == "+989121114455"
    msgs = await store.messages_of(incident)
    (staff,) = [m for m in msgs if m.recipient == "staff.b"]
    assert (staff.status, staff.sent_channel) == ("sent", "sms")
    assert staff.provider_id is not None and staff.provider_id.startswith("ghasedak:")


async def test_all_gateways_down_is_recorded_and_the_officer_is_told(
    world: tuple[Library, Sandbox, Store],
) -> None:
    lib, sb, store = world
    assert sb.sms is not None
    for provider in ("kavenegar", "ghasedak"):
        sb.sms.state.faults[provider].update({"mode": "no_credit"})
    sb.botapi["bale"].block(1002)

    async def told() -> bool:
        return bool(sb.inbox.query(service="bale", to="1001"))  # officer.a's Bale chat

    incident = await fan_out(lib, sb, store, told)
    msgs = await store.messages_of(incident)
    (staff,) = [m for m in msgs if m.recipient == "staff.b" and m.purpose == "alert"]
    assert staff.status == "failed"
    assert staff.last_error is not None and "all SMS gateways are down" in staff.last_error
    notice = sb.inbox.query(service="bale", to="1001")
    assert notice and "علی بهرامی" in notice[-1].text
    assert "delivery.failed" in [e.action for e in await store.audit_of(incident)]


async def test_a_gateway_out_of_credit_is_announced_once(
    world: tuple[Library, Sandbox, Store],
) -> None:
    lib, sb, store = world
    assert sb.sms is not None
    sb.sms.state.faults["kavenegar"].update({"mode": "no_credit"})
    svc = IncidentService(store, lambda: lib)
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    channels = build_channels(sb.point(lib.config))
    try:
        result = await channels["sms"].send(
            OutboundMessage(key="k1", channel="sms", address="+989121114455", text="آزمایش")
        )
        assert isinstance(result, Sent)  # failover hid the outage from the recipient
        told: list[str] = []

        async def admins(text: str) -> None:
            told.append(text)

        async def health() -> dict[str, object]:
            return {"ok": True}

        ctx = DaemonContext(store, svc, Metrics(), lambda: lib, health, lambda: None)
        watch = GatewayWatch(ctx, channels, admins)
        assert await watch.check() == ["kavenegar"]
        assert await watch.check() == []  # announced once per outage
    finally:
        for ch in channels.values():
            await ch.aclose()
    notices = [m for m in await store.messages_of(opened.incident_id) if m.purpose == "notice"]
    assert [m.recipient for m in notices] == ["officer.a"]
    assert "kavenegar" in notices[0].renderings["chat"]["text"]
    assert told and "kavenegar" in told[0]
