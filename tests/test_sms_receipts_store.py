"""Delivery receipts stored and polled: the migration, the ledger and the poller job, on
SQLite and PostgreSQL, asking the strict fake gateways over HTTP (injected clocks)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from pydantic import SecretStr
from structlog.testing import capture_logs

from crisisd.channels.base import Sent
from crisisd.channels.sms import SmsChannel
from crisisd.cli import main
from crisisd.config import SmsGateway
from crisisd.domain import IncidentReport
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.reports.incident import incident_report, render_markdown
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.scheduler.receipts import ReceiptPoller
from crisisd.store import MessageRow, OutcomeSent, Store
from crisisd.store.engine import normalize_url
from crisisd.store.receipts import ReceiptLedger
from crisisd.store.tables import metadata
from tests.smstree import make_sms_tree

KEYS = {"kavenegar": "kv-ledger-1/+", "smsir": "ir-ledger-2"}
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[SmsGwServer]:
    srv = await start_smsgw(Inbox(), KEYS)
    try:
        yield srv
    finally:
        await srv.aclose()


def channel_for(fake: SmsGwServer, *providers: str) -> SmsChannel:
    configs = []
    for p in providers:
        fields: dict[str, Any] = {"name": p, "provider": p, "sender": "30005088"}
        if p == "generic_http":
            fields |= {"name": "generic", "url": "http://x/generic/send"}
        else:
            fields |= {"api_key": SecretStr(KEYS[p])}
        configs.append(SmsGateway(**fields))
    return SmsChannel(configs, base_urls={c.name: fake.url for c in configs})


@pytest.fixture
def sms_library(tmp_path: Path) -> Library:
    return load_library(make_sms_tree(tmp_path / "sms-tree"))


async def sent_by(
    store: Store, lib: Library, channel: SmsChannel, route: dict[str, str], at: datetime
) -> tuple[str, dict[str, MessageRow]]:
    """Open an incident and send its SMS (alerts to staff.b and boss.c) through the gateway
    ``route`` names for each recipient, recorded as the dispatcher records them."""
    svc = IncidentService(store, lambda: lib, clock=lambda: at)
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    claimed = await store.claim("w1", at + timedelta(hours=1), 50, timedelta(minutes=5))
    gateways = {g.name: g for g in channel.gateways}
    outcomes = []
    for m in claimed:
        if m.incident_id != opened.incident_id or m.channel != "sms":
            continue
        phone = lib.directory.contacts[m.recipient].phone
        assert phone is not None
        result = await gateways[route[m.recipient]].send(phone, "هشدار", str(m.id))
        assert isinstance(result, Sent)
        outcomes.append(
            OutcomeSent(
                m.id, "sms", at, result.provider_id, m.incident_id, m.recipient,
                m.rendering("sms"),
            )
        )  # fmt: skip
    await store.record(outcomes, "w1")
    sent = {m.recipient: m for m in await store.messages_of(opened.incident_id) if m.sent_at}
    assert set(sent) == set(route)
    return opened.incident_id, sent


async def test_migrations_create_exactly_the_tables(store: Store) -> None:
    def diff(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def poller_for(ledger: ReceiptLedger, channel: SmsChannel, now: list[datetime]) -> ReceiptPoller:
    """Every minute; no late-alert failover (its own test is in test_sms_failover.py)."""
    every, within = timedelta(seconds=60), timedelta(0)
    return ReceiptPoller(ledger, channel, lambda: now[0], every=every, alert_within=within)


async def test_the_poller_records_receipts_and_audits_final_states(
    store: Store, sms_library: Library, fake: SmsGwServer
) -> None:
    channel = channel_for(fake, "kavenegar", "smsir")
    now, ledger = [T0], ReceiptLedger(store)
    poller = poller_for(ledger, channel, now)
    route = {"staff.b": "kavenegar", "boss.c": "smsir"}
    try:
        incident, sent = await sent_by(store, sms_library, channel, route, T0)
        kv, ir = sent["staff.b"], sent["boss.c"]
        await control_outcome(fake, "smsir", "pending")
        now[0] = T0 + timedelta(seconds=5)
        final = await poller.poll()
        assert [a.message_id for a in final] == [kv.id]
        assert await ledger.states(incident) == {kv.id: "delivered", ir.id: "pending"}
        asked = fake.state.requests["smsir.status"]
        now[0] += timedelta(seconds=10)  # asked just now: not again yet
        assert await poller.poll() == []
        assert fake.state.requests["smsir.status"] == asked
        await control_outcome(fake, "smsir", "delivered")
        now[0] += timedelta(seconds=60)
        assert [a.message_id for a in await poller.poll()] == [ir.id]
        assert await ledger.counts(incident) == {"delivered": 2}
        now[0] += timedelta(seconds=120)
        assert await poller.poll() == [] and await ledger.awaiting(T0, now[0]) == []
    finally:
        await channel.aclose()
    trail = [e for e in await store.audit_of(incident) if e.action.startswith("receipt.")]
    details = [e.detail or {} for e in trail]
    assert [(e.action, d["message_id"]) for e, d in zip(trail, details, strict=True)] == [
        ("receipt.delivered", kv.id), ("receipt.delivered", ir.id)
    ]  # fmt: skip
    assert details[0]["provider_id"] == kv.provider_id
    assert details[0]["provider_at"] is None and details[1]["provider_at"] is not None
    doc = await incident_report(store, sms_library, incident)
    lines = {m.id: m for m in doc.messages}
    assert (lines[kv.id].delivery, lines[ir.id].delivery) == ("delivered", "delivered")
    text = render_markdown(doc)
    assert "SMS delivered to the phone" in text
    assert "فرستاده شد · sent" in text and "رسید به گوشی · delivered" in text


async def control_outcome(fake: SmsGwServer, provider: str, outcome: str) -> None:
    for item in fake.state.sent:
        if item.provider == provider:
            fake.state.set_outcome(item, outcome)  # type: ignore[arg-type]


async def test_untracked_gateways_and_old_messages_are_not_asked(
    store: Store, sms_library: Library, fake: SmsGwServer
) -> None:
    channel = channel_for(fake, "generic_http", "kavenegar")
    now, ledger = [T0 + timedelta(hours=30)], ReceiptLedger(store)
    poller = poller_for(ledger, channel, now)
    route = {"staff.b": "generic", "boss.c": "kavenegar"}
    try:
        incident, _ = await sent_by(store, sms_library, channel, route, T0)
        assert await poller.poll() == [], "sent 30 h ago: no longer asked"
        assert set((await ledger.states(incident)).values()) == {"unknown"}
        now[0] = T0 + timedelta(minutes=1)
        await poller.poll()
        assert sorted((await ledger.states(incident)).values()) == ["delivered", "untracked"]
        now[0] += timedelta(hours=1)
        assert await ledger.awaiting(T0, now[0]) == [], "untracked is never asked again"
    finally:
        await channel.aclose()
    assert fake.state.requests["kavenegar.status"] == 1


async def test_a_status_api_that_refuses_leaves_receipts_unknown(
    store: Store, sms_library: Library, fake: SmsGwServer
) -> None:
    good = channel_for(fake, "kavenegar")
    route = {"staff.b": "kavenegar", "boss.c": "kavenegar"}
    try:
        incident, _ = await sent_by(store, sms_library, good, route, T0)
    finally:
        await good.aclose()
    fake.state.api_keys["kavenegar"] = "rotated"  # the old key is refused now
    channel = channel_for(fake, "kavenegar")
    ledger = ReceiptLedger(store)
    try:
        with capture_logs() as logs:
            assert await poller_for(ledger, channel, [T0 + timedelta(minutes=1)]).poll() == []
    finally:
        await channel.aclose()
    assert set((await ledger.states(incident)).values()) == {"unknown"}
    [warning] = [e for e in logs if e["event"] == "receipts.unavailable"]
    assert "kavenegar: status query refused: 403" in warning["reason"]
    assert KEYS["kavenegar"] not in str(logs)


async def test_crisisd_status_shows_sms_delivered_beside_sent(
    tmp_path: Path, sms_library: Library, fake: SmsGwServer
) -> None:
    tree = sms_library.config
    config = tmp_path / "config.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    config.write_text(
        f"store_url: {url}\nplaybooks: {tree.playbooks}\ntemplates: {tree.templates}\n",
        encoding="utf-8",
    )
    store = Store(normalize_url(url))
    await store.start()
    channel = channel_for(fake, "kavenegar", "smsir")
    try:
        route = {"staff.b": "kavenegar", "boss.c": "smsir"}
        await sent_by(store, sms_library, channel, route, T0)
        await control_outcome(fake, "smsir", "pending")
        await poller_for(ReceiptLedger(store), channel, [T0 + timedelta(minutes=1)]).poll()
    finally:
        await channel.aclose()
        await store.aclose()
    runner = CliRunner()
    text = await asyncio.to_thread(runner.invoke, main, ["status", "--config", str(config)])
    assert text.exit_code == 0, text.output
    assert "sent 2" in text.output and "SMS delivered 1 of 2 sent" in text.output
    raw = await asyncio.to_thread(
        runner.invoke, main, ["status", "--json", "--config", str(config)]
    )
    [row] = json.loads(raw.output)
    assert row["sms"] == {"delivered": 1, "pending": 1}
