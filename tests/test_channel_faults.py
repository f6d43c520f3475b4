"""Faults of a whole channel, end to end over real HTTP and SMTP: a flooded bot and a mail
server that accepts the connection and never answers.

Nothing here asserts on how long something took: the bounds (``asyncio.timeout``) only stop
a broken build from hanging; what is asserted is what the servers saw and what was stored.
The figures (how long the failover took) are printed for the record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from crisisd.channels.base import Channel, Retry
from crisisd.channels.email import EmailChannel
from crisisd.channels.registry import build_channels
from crisisd.channels.telegram import TelegramChannel, messenger_limits
from crisisd.config import Config, Messenger, Rate, Sms, SmsGateway, Smtp
from crisisd.config.channels import Breaker
from crisisd.delivery.dispatcher import Dispatcher
from crisisd.delivery.guard import ChannelGuard
from crisisd.delivery.outage import tell_of_outage
from crisisd.delivery.pacing import Pacer
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.runner import Sandbox, sandbox_token, start_sandbox
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from crisisd.supervision import Supervisor
from tests.faultworld import PEOPLE, HungSmtp, write_tree

World = tuple[Library, Sandbox, Store]


@pytest.fixture
async def world(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    playbooks, templates = write_tree(tmp_path / "tree", request.param)
    config = Config(
        playbooks=playbooks,
        templates=templates,
        messengers=[
            Messenger(name="bale", base_url="https://tapi.bale.ai/bot"),
            Messenger(name="telegram", rate=Rate(global_per_second=30)),
        ],
        sms=Sms(gateways=[SmsGateway(name="kavenegar", provider="kavenegar", sender="10008663")]),
    )
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


async def deliver(
    lib: Library,
    store: Store,
    channels: dict[str, Channel],
    until: Callable[[Dispatcher], Awaitable[bool]],
    metrics: Metrics,
) -> tuple[Dispatcher, str, float]:
    """Open one incident and run a dispatcher until ``until``; returns the seconds it took."""
    svc = IncidentService(store, lambda: lib)

    def address(msg: MessageRow, channel: str) -> str | None:
        return lib.directory.contacts[msg.recipient].address_for(channel)

    async def down(channel: str, reason: str) -> None:
        await tell_of_outage(svc, channel, reason)
        d.kick()

    d = Dispatcher(store, channels, address, on_channel_down=down, metrics=metrics)
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    started = time.monotonic()
    await d.start()
    try:
        async with asyncio.timeout(90):  # a bound for a broken build, not a timing check
            while not await until(d):
                await asyncio.sleep(0.05)
        took = time.monotonic() - started
    finally:
        await d.drain()
        for ch in channels.values():
            await ch.aclose()
    return d, opened.incident_id, took


@pytest.mark.parametrize("world", ["email"], indirect=True)
async def test_a_hung_smtp_server_moves_email_first_recipients_to_sms_and_tells_once(
    world: World,
) -> None:
    lib, sb, store = world
    hung = HungSmtp()
    await hung.start()
    smtp = Smtp(
        host="127.0.0.1",
        port=hung.port,
        connect_timeout_seconds=0.3,
        timeout_seconds=0.3,
        breaker=Breaker(trip_after=3, probe_seconds=2.0),
    )
    channels: dict[str, Channel] = dict(build_channels(sb.point(lib.config)))
    channels["email"] = email = EmailChannel(smtp)
    metrics = Metrics()

    async def all_by_sms(d: Dispatcher) -> bool:
        await d.flush()
        texted = {m.to for m in sb.inbox.query(service="kavenegar")}
        return len(texted) == PEOPLE and bool(sb.inbox.query(service="bale", to="1001"))

    try:
        d, incident, took = await deliver(lib, store, channels, all_by_sms, metrics)
        print(f"\nhung SMTP: {PEOPLE} email-first recipients reached by SMS in {took:.1f} s")
        assert d.guard.down("email")  # nothing answered the probes yet
        alerts = [m for m in await store.messages_of(incident) if m.purpose == "alert"]
        assert {(m.status, m.sent_channel) for m in alerts} == {("sent", "sms")}
        # the breaker, not each message's eight tries, moved them: most never tried email
        assert hung.connections < PEOPLE
        notices = sb.inbox.query(service="bale", to="1001")
        assert len(notices) == 1, [n.text for n in notices]  # told once, not per message
        assert "email" in notices[0].text and "پاسخ نمی‌دهد" in notices[0].text
        assert "channel.down" in [e.action for e in await store.audit_of(incident)]
        text = metrics.render().decode()
        assert 'crisisd_channel_down{channel="email"} 1.0' in text
        assert 'crisisd_channel_breaker_trips_total{channel="email"} 1.0' in text
        health = await d.health()
        assert health["channels"]["email"].startswith("down: ")
        assert "channel.email" in health["down"]

        hung.answer = True  # the server answers again: the probe (EHLO, no mail) says so
        assert await email.probe() is None
    finally:
        await hung.aclose()


async def test_the_probe_closes_the_breaker_when_the_server_answers(tmp_path: Path) -> None:
    """The guard's own probe loop brings a down channel back once its server answers."""
    hung = HungSmtp()
    await hung.start()
    smtp = Smtp(
        host="127.0.0.1",
        port=hung.port,
        connect_timeout_seconds=0.2,
        breaker=Breaker(trip_after=1, probe_seconds=0.05),
    )
    email = EmailChannel(smtp)
    metrics = Metrics()
    store = Store(normalize_url(f"sqlite:///{tmp_path / 's.sqlite3'}"))
    await store.start()
    d = Dispatcher(store, {"email": email}, lambda m, c: None, metrics=metrics)
    try:
        assert await email.probe() is not None  # hung: the probe says so
        d.guard.observe("email", "x@example.com", Retry(5, "no answer", unreachable=True))
        assert d.guard.down("email")
        hung.answer = True
        async with asyncio.timeout(30):
            while d.guard.down("email"):
                await asyncio.sleep(0.02)
        assert 'crisisd_channel_down{channel="email"} 0.0' in metrics.render().decode()
        assert d.guard.states()["email"] == "up"
    finally:
        await d.supervisor.aclose()
        await email.aclose()
        await store.aclose()
        await hung.aclose()


@pytest.mark.parametrize("world", ["telegram"], indirect=True)
# PTB 22's RetryAfter reads its own deprecated int property (as in test_sandbox_botapi.py)
@pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:telegram.warnings.PTBDeprecationWarning"
)
async def test_a_flooded_bot_pauses_the_channel_and_sends_nothing_inside_a_penalty(
    world: World,
) -> None:
    """The fake allows 10 a second where the config says 30, and starts its wait again on
    every request inside it. The fan-out still completes on Telegram, with no request
    inside a penalty window: the first 429 paused the whole channel, not one message."""
    lib, sb, store = world
    fake = sb.botapi["telegram"]
    fake.flood.global_per_second = 10  # stricter than the configured 30/s
    fake.flood.extend_penalty = True
    messenger = lib.config.messengers[1]
    channels: dict[str, Channel] = dict(build_channels(sb.point(lib.config)))
    # one request in flight at a time: a request already on the wire when the first 429
    # arrives cannot be called back (with N workers, up to N-1 can land in the window)
    channels["telegram"] = TelegramChannel(
        messenger,
        base_url=sb.botapi_urls["telegram"],
        token=sandbox_token("telegram"),
        limits=messenger_limits(messenger, concurrency=1),
    )
    metrics = Metrics()

    async def all_on_telegram(d: Dispatcher) -> bool:
        await d.flush()
        return len({m.to for m in sb.inbox.query(service="telegram")}) == PEOPLE

    d, incident, took = await deliver(lib, store, channels, all_on_telegram, metrics)
    pacer = d.pacers["telegram"]
    print(
        f"\nflooded bot: {PEOPLE} messages in {took:.1f} s, {fake.violations} 429s, "
        f"{pacer.pauses} pauses, rate share now {pacer.share():.2f}"
    )
    assert fake.violations >= 1  # the limit did trip
    assert fake.flood.inside_penalty == 0  # and nothing was sent while told to wait
    assert pacer.pauses >= 1 and pacer.share() < 1.0  # resumed below the rate that tripped
    alerts = [m for m in await store.messages_of(incident) if m.purpose == "alert"]
    assert {m.sent_channel for m in alerts} == {"telegram"}  # no failover for a flood
    text = metrics.render().decode()
    assert 'crisisd_channel_flood_waits_total{channel="telegram",scope="channel"}' in text


class _Limited:
    """Stands for a remote channel: only its limits matter to the guard."""

    name = kind = "chat"
    limits = messenger_limits(Messenger(name="telegram"))


def test_a_429_the_chats_own_rate_explains_holds_only_that_chat() -> None:
    now = [100.0]
    pacer = Pacer(_Limited.limits, lambda: now[0])
    metrics = Metrics()
    guard = ChannelGuard({"telegram": _Limited()}, {"telegram": pacer}, Supervisor(), metrics)  # type: ignore[dict-item]
    flood = Retry(7.0, "flood control: retry after 7 s", scope="channel")
    pacer.hold_destination("3001")
    now[0] += pacer.dest_gap("3001")
    pacer.hold_destination("3001")  # a second message to that chat at its own pace
    guard.observe("telegram", "3001", flood)
    assert pacer.paused() == 0.0 and pacer.dest_delay("3001") == pytest.approx(7.0)
    assert guard.states()["telegram"] == "up"
    pacer.hold_destination("3002")
    guard.observe("telegram", "3002", flood)  # a chat sent to once: the whole bot's limit
    assert pacer.paused() == pytest.approx(7.0)
    assert guard.states()["telegram"].startswith("paused: flood control")
    text = metrics.render().decode()
    for scope in ("chat", "channel"):
        assert (
            f'crisisd_channel_flood_waits_total{{channel="telegram",scope="{scope}"}} 1.0' in text
        )
