"""Inbound SMS over real HTTP: the sandbox's fake gateways take a phone's reply through
their control API, and the roll-call poller reads it from each provider's receive API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.inbound import receive
from crisisd.config import SmsGateway
from crisisd.context import DaemonContext
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.metrics import Metrics
from crisisd.rollcall.headcount import State
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.scheduler.rollcall import RollCallJobs
from crisisd.store import Store
from tests.minitree import Clock, report
from tests.rollcalltree import make_rollcall_tree

KEYS = {"kavenegar": "kave-key-123456", "ghasedak": "ghasedak-key-1234", "smsir": "smsir-key-12345"}


@pytest.fixture
async def server() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


async def _ok() -> dict[str, object]:
    return {"ok": True}


@pytest.mark.parametrize("provider", ["kavenegar", "smsir", "ghasedak"])
async def test_a_reply_in_persian_digits_is_read_from_the_receive_api(
    store: Store, server: SmsGwServer, tmp_path: Path, provider: str
) -> None:
    lib = load_library(make_rollcall_tree(tmp_path / "tree"))
    svc = IncidentService(store, lambda: lib, Clock())
    opened = await svc.open(report())
    cfg = SmsGateway(
        name=provider, provider=provider, sender="30005088", api_key=SecretStr(KEYS[provider])
    )
    channel = SmsChannel([cfg], base_urls={provider: server.url})
    ctx = DaemonContext(store, svc, Metrics(), lambda: lib, _ok, lambda: None)
    jobs = RollCallJobs(ctx, {"sms": channel})
    try:
        async with aiohttp.ClientSession() as http:
            for sender, text in (("۰۹۱۲ ۱۱۱ ۴۴۵۵", "۲ سالن ۳"), ("09121112233", "سالمم")):
                put = f"{server.url}/_control/inbound/{provider}"
                async with http.post(put, json={"from": sender, "text": text}) as resp:
                    assert resp.status == 201
            async with http.post(
                f"{server.url}/_control/inbound/{provider}",
                json={"from": "09350000000", "text": "1"},
            ) as resp:
                assert resp.status == 201
        assert await jobs.poll_inbox() == 3
        assert await jobs.poll_inbox() == 0  # read once (SMS.ir lists the day again: deduplicated)
    finally:
        await channel.aclose()
    count = await jobs.calls.headcount(opened.incident_id)
    assert count.people["staff.b"].state is State.HELP
    assert count.people["staff.b"].location == "سالن 3"
    assert count.people["officer.a"].state is State.SAFE
    refused = await jobs.calls.book.refused()
    assert [e.outcome for e in refused] == ["unknown_sender"]


async def test_a_wrong_key_is_an_error_never_an_answer(
    store: Store, server: SmsGwServer, tmp_path: Path
) -> None:
    lib = load_library(make_rollcall_tree(tmp_path / "tree"))
    svc = IncidentService(store, lambda: lib, Clock())
    cfg = SmsGateway(name="k", provider="kavenegar", api_key=SecretStr("wrong-key-000000"))
    channel = SmsChannel([cfg], base_urls={"k": server.url})
    ctx = DaemonContext(store, svc, Metrics(), lambda: lib, _ok, lambda: None)
    jobs = RollCallJobs(ctx, {"sms": channel})
    try:
        inbox = await receive(jobs.inboxes[0])
    finally:
        await channel.aclose()
    assert inbox.error is not None and "403" in inbox.error
    assert "wrong-key" not in inbox.error
