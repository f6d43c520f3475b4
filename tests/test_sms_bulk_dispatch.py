"""Bulk SMS end to end: an incident to a crowd over [sms, email] through the real store,
dispatcher and sandbox (fake gateway and SMTP over loopback). Queued SMS with one text go
out as bulk requests; a refused number falls over to email alone; a garbage answer to a
bulk request is retried and nothing is lost. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from crisisd.channels.registry import build_channels
from crisisd.config import Config, Sms, SmsGateway
from crisisd.delivery.dispatcher import Dispatcher, RetryPolicy
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.sandbox.runner import SMS_KEYS, Sandbox, start_sandbox
from crisisd.store import MessageRow, Store
from tests.minitree import make_tree

CROWD = 230


def crowd_tree(root: Path, members: int) -> Config:
    """The mini tree plus ``members`` people with a phone and an email, all in audience
    ``crowd``, told by severity ``minor`` over [sms, email]."""
    config = make_tree(root)
    directory = root / "playbooks" / "directory.yaml"
    people = "".join(
        f'  w{i}:\n    name: {{fa: کارگر {i}, en: Worker {i}}}\n    phone: "0912{i:07d}"\n'
        f"    email: w{i}@example.com\n"
        for i in range(members)
    )
    directory.write_text(directory.read_text(encoding="utf-8") + people, encoding="utf-8")
    playbook = root / "playbooks" / "mini.yaml"
    text = playbook.read_text(encoding="utf-8")
    everyone = ", ".join(f"w{i}" for i in range(members))
    text = text.replace(
        "  management:\n", f"  crowd:\n    members: [{everyone}]\n  management:\n", 1
    )
    step = "          - {audience: crowd, template: alert, channels: [sms, email]}\n"
    text = text.replace("      major:\n", f"      minor:\n        steps:\n{step}      major:\n", 1)
    playbook.write_text(text, encoding="utf-8")
    gateway = SmsGateway(
        name="smsir", provider="smsir", sender="30005088", api_key=SecretStr(SMS_KEYS["smsir"])
    )
    return config.model_copy(update={"sms": Sms(gateways=[gateway])})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Library, Sandbox]]:
    lib = load_library(crowd_tree(tmp_path / "tree", CROWD))
    sb = await start_sandbox(lib.config)
    sb.seed(lib.directory)
    try:
        yield lib, sb
    finally:
        await sb.aclose()


async def until(done: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(30):
        while not await done():
            await asyncio.sleep(0.05)


async def tell_crowd(lib: Library, sb: Sandbox, store: Store) -> list[MessageRow]:
    """Open the incident, run the dispatcher until every message is final; the messages."""
    channels = build_channels(sb.point(lib.config))

    def address(msg: MessageRow, channel: str) -> str | None:
        return lib.directory.contacts[msg.recipient].address_for(channel)

    d = Dispatcher(store, channels, address, policy=RetryPolicy(base=0.05))
    svc = IncidentService(store, lambda: lib)
    opened = await svc.open(IncidentReport("mini", "fire", "minor", "officer.a"))
    await d.start()

    async def final() -> bool:
        rows = await store.messages_of(opened.incident_id)
        return all(m.status in ("sent", "failed") for m in rows)

    try:
        d.kick()
        await until(final)
    finally:
        await d.drain()
        for ch in channels.values():
            await ch.aclose()
    return await store.messages_of(opened.incident_id)


async def test_a_crowd_is_told_in_bulk_requests(
    world: tuple[Library, Sandbox], store: Store
) -> None:
    lib, sb = world
    assert sb.sms is not None
    rows = await tell_crowd(lib, sb, store)
    assert len(rows) == CROWD
    assert all(m.status == "sent" and m.sent_channel == "sms" for m in rows)
    sizes = [n for p, n in sb.sms.state.batches if p == "smsir"]
    assert sum(sizes) == CROWD and max(sizes) <= 100
    assert sb.sms.state.requests["smsir"] < CROWD / 5  # one by one would be 230 requests
    assert len({m.provider_id for m in rows}) == CROWD


async def test_refused_numbers_fail_over_alone_and_garbage_loses_nothing(
    world: tuple[Library, Sandbox], store: Store
) -> None:
    lib, sb = world
    assert sb.sms is not None
    refused = {"+989120000007", "+989120000100"}  # w7, w100: SMS.ir's blacklist answers 0
    sb.sms.state.blacklist = refused
    sb.sms.state.faults["smsir"].update({"mode": "garbage", "count": 1})
    rows = await tell_crowd(lib, sb, store)

    by = {m.recipient: m for m in rows}
    assert all(m.status == "sent" for m in rows)
    assert {r for r, m in by.items() if m.sent_channel == "email"} == {"w7", "w100"}
    assert sum(m.sent_channel == "sms" for m in rows) == CROWD - 2
    # the batch that got garbage was sent again: each number got exactly one SMS
    sent_to = [s.to for s in sb.sms.state.sent]
    assert len(sent_to) == len(set(sent_to)) == CROWD - 2
    assert any(m.attempts >= 2 and m.sent_channel == "sms" for m in rows)  # retried, then sent
