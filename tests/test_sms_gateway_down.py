"""Every gateway-down status fails the message over to the next gateway and tells the officers
once per outage (the gateway watch), on SQLite and PostgreSQL, against the strict fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from crisisd.channels.base import OutboundMessage, Sent
from crisisd.channels.sms import SmsChannel, ghasedak, kavenegar, smsir
from crisisd.channels.sms.codes import SendStatusTable, Verdict
from crisisd.config import SmsGateway
from crisisd.context import DaemonContext
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.metrics import Metrics
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.sandbox.smsgw_state import Forced
from crisisd.scheduler.gatewaywatch import GatewayWatch
from crisisd.store import Store

KEYS = {"kavenegar": "kv-down-1", "ghasedak": "gh-down-2", "smsir": "ir-down-3"}
TABLES: dict[str, SendStatusTable] = {
    "kavenegar": kavenegar.SEND_STATUS,
    "ghasedak": ghasedak.SEND_STATUS,
    "smsir": smsir.SEND_STATUS,
}
PHONE = "+989121114455"
COOLDOWN = 60.0


@pytest.fixture
async def fake() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


def down_codes(provider: str) -> list[int]:
    return [c for c, s in TABLES[provider].items() if s.verdict is Verdict.DOWN]


def gateways(provider: str) -> list[SmsGateway]:
    first: dict[str, Any] = {"name": provider, "provider": provider, "sender": "30005088"}
    first |= {"api_key": SecretStr(KEYS[provider]), "cooldown_seconds": COOLDOWN}
    backup = SmsGateway(name="backup", provider="generic_http", url="http://x/generic/send")
    return [SmsGateway(**first), backup]


@pytest.mark.parametrize("provider", list(TABLES))
async def test_every_down_code_fails_over_and_is_announced_once(
    provider: str, fake: SmsGwServer, store: Store, library: Library
) -> None:
    mono, wall = [1000.0], [datetime(2025, 3, 1, 8, 0, tzinfo=UTC)]
    svc = IncidentService(store, lambda: library, clock=lambda: wall[0])
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    urls = {provider: fake.url, "backup": fake.url}
    channel = SmsChannel(gateways(provider), base_urls=urls, clock=lambda: mono[0])
    told: list[str] = []

    async def admins(text: str) -> None:
        told.append(text)

    async def health() -> dict[str, object]:
        return {"ok": True}

    ctx = DaemonContext(store, svc, Metrics(), lambda: library, health, lambda: None)
    watch = GatewayWatch(ctx, {"sms": channel}, admins)
    codes = down_codes(provider)
    try:
        for n, code in enumerate(codes):
            fake.state.forced[provider] = Forced(code, None, 1)
            msg = OutboundMessage(key=f"k{n}", channel="sms", address=PHONE, text="هشدار")
            result = await channel.send(msg)
            assert isinstance(result, Sent) and result.provider_id.startswith("backup:"), code
            assert await watch.check() == [provider], code
            assert await watch.check() == [], f"{code}: announced once per outage"
            mono[0] += COOLDOWN + 1  # the cool-down passes: the gateway is up again
            wall[0] += timedelta(minutes=5)
            assert await watch.check() == []
            assert channel.health()[provider] == "up"
    finally:
        await channel.aclose()
    assert fake.state.requests[provider] == len(codes)
    notices = [m for m in await store.messages_of(opened.incident_id) if m.purpose == "notice"]
    assert len(notices) == len(codes), "one notice per outage, to the incident's officer"
    assert {m.recipient for m in notices} == {"officer.a"}
    for code, notice in zip(codes, notices, strict=True):
        assert f"{provider}: {code} " in notice.renderings["chat"]["text"]
    assert len(told) == len(codes)
    audit = [e for e in await store.audit_of(opened.incident_id) if e.action == "gateway.down"]
    assert len(audit) == len(codes)
    for text in [*told, *(m.renderings["chat"]["text"] for m in notices)]:
        assert KEYS[provider] not in text
