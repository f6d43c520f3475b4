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
from crisisd.library.model import Library
from crisisd.reports.incident import incident_report, render_markdown
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.smsgw import SmsGwServer, start_smsgw
from crisisd.scheduler.receipts import ReceiptPoller
from crisisd.store import Outcome, Store
from crisisd.store.engine import normalize_url
from crisisd.store.receipts import ReceiptLedger
from crisisd.store.tables import metadata

KEYS = {"kavenegar": "kv-ledger-1/+", "smsir": "ir-ledger-2"}
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
PHONE = "+989121114455"


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


async def sent_by(store: Store, svc: IncidentService, channel: SmsChannel, at: datetime) -> str:
    """Open an incident and send each of its messages by SMS through ``channel``'s
    gateways in turn, recorded as the dispatcher records them. Returns the incident id."""
    opened = await svc.open(IncidentReport("mini", "fire", "major", "officer.a"))
    claimed = await store.claim("w1", at + timedelta(hours=1), 50, timedelta(minutes=5))
    outcomes = []
    for n, m in enumerate(c for c in claimed if c.incident_id == opened.incident_id):
        gateway = channel.gateways[n % len(channel.gateways)]
        result = await gateway.send(PHONE, "هشدار", str(m.id))
        assert isinstance(result, Sent)
        outcomes.append(
            Outcome(
                m.id, "sent", "sms", at, provider_id=result.provider_id,
                incident_id=m.incident_id, recipient=m.recipient,
            )
        )  # fmt: skip
    await store.record(outcomes, "w1")
    return opened.incident_id


async def test_migrations_create_exactly_the_tables(store: Store) -> None:
    def diff(conn: sa.Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_the_poller_records_receipts_and_audits_final_states(
    store: Store, library: Library, fake: SmsGwServer
) -> None:
    channel = channel_for(fake, "kavenegar", "smsir", "generic_http")
    svc = IncidentService(store, lambda: library, clock=lambda: T0)
    now = [T0]
    ledger = ReceiptLedger(store)
    poller = ReceiptPoller(
        ledger,
        channel,
        lambda: now[0],
        every=timedelta(seconds=60),
        keep_asking=timedelta(hours=24),
    )
    try:
        incident = await sent_by(store, svc, channel, T0)
        msgs = {m.id: m for m in await store.messages_of(incident) if m.status == "sent"}
        by_gateway = {m.provider_id.split(":")[0]: m for m in msgs.values() if m.provider_id}
        assert set(by_gateway) == {"kavenegar", "smsir", "generic"}  # one message each
        kv, ir, ge = by_gateway["kavenegar"], by_gateway["smsir"], by_gateway["generic"]
        await control_outcome(fake, "smsir", "pending")
        now[0] = T0 + timedelta(seconds=5)
        final = await poller.poll()
        assert [a.message_id for a in final] == [kv.id]
        states = {kv.id: "delivered", ir.id: "pending", ge.id: "untracked"}
        assert await ledger.states(incident) == states
        asked = fake.state.requests["smsir.status"]
        now[0] += timedelta(seconds=10)  # asked just now: not again yet
        assert await poller.poll() == []
        assert fake.state.requests["smsir.status"] == asked
        await control_outcome(fake, "smsir", "undelivered")
        now[0] += timedelta(seconds=60)
        assert [a.message_id for a in await poller.poll()] == [ir.id]
        counts = {"delivered": 1, "undelivered": 1, "untracked": 1}
        assert await ledger.counts(incident) == counts
        now[0] += timedelta(seconds=120)
        assert await poller.poll() == [] and await ledger.awaiting(T0, now[0]) == []
    finally:
        await channel.aclose()
    trail = [e for e in await store.audit_of(incident) if e.action.startswith("receipt.")]
    details = [e.detail or {} for e in trail]
    assert [(e.action, d["message_id"]) for e, d in zip(trail, details, strict=True)] == [
        ("receipt.delivered", kv.id), ("receipt.undelivered", ir.id)
    ]  # fmt: skip
    assert details[0]["provider_id"] == kv.provider_id
    assert details[1]["provider_at"] is not None, "SMS.ir gives its time"
    doc = await incident_report(store, library, incident)
    lines = {m.id: m for m in doc.messages}
    assert (lines[kv.id].delivery, lines[ir.id].delivery, lines[ge.id].delivery) == (
        "delivered", "undelivered", None
    )  # fmt: skip
    text = render_markdown(doc)
    assert "SMS delivered to the phone" in text and "SMS not delivered to the phone" in text
    assert "فرستاده شد · sent" in text and "رسید به گوشی · delivered" in text


async def control_outcome(fake: SmsGwServer, provider: str, outcome: str) -> None:
    for item in fake.state.sent:
        if item.provider == provider:
            fake.state.set_outcome(item, outcome)  # type: ignore[arg-type]


async def test_untracked_gateways_and_old_messages_are_not_asked(
    store: Store, library: Library, fake: SmsGwServer
) -> None:
    channel = channel_for(fake, "generic_http", "kavenegar")
    svc = IncidentService(store, lambda: library, clock=lambda: T0)
    ledger = ReceiptLedger(store)
    now = [T0 + timedelta(hours=30)]
    poller = ReceiptPoller(
        ledger,
        channel,
        lambda: now[0],
        every=timedelta(seconds=60),
        keep_asking=timedelta(hours=24),
    )
    try:
        incident = await sent_by(store, svc, channel, T0)
        assert await poller.poll() == [], "sent 30 h ago: past receipts_hours"
        assert await ledger.states(incident) == dict.fromkeys(
            await ledger.states(incident), "unknown"
        )
        now[0] = T0 + timedelta(minutes=1)
        await poller.poll()
        states = await ledger.states(incident)
        assert sorted(states.values()) == ["delivered", "untracked", "untracked"]
        now[0] += timedelta(hours=1)
        assert await ledger.awaiting(T0, now[0]) == [], "untracked is never asked again"
    finally:
        await channel.aclose()
    assert fake.state.requests["kavenegar.status"] == 1


async def test_a_status_api_that_refuses_leaves_receipts_unknown(
    store: Store, library: Library, fake: SmsGwServer
) -> None:
    good = channel_for(fake, "kavenegar")
    svc = IncidentService(store, lambda: library, clock=lambda: T0)
    try:
        incident = await sent_by(store, svc, good, T0)
    finally:
        await good.aclose()
    fake.state.api_keys["kavenegar"] = "rotated"  # the old key is refused now
    channel = channel_for(fake, "kavenegar")
    ledger = ReceiptLedger(store)
    poller = ReceiptPoller(
        ledger, channel, lambda: T0 + timedelta(minutes=1),
        every=timedelta(seconds=60), keep_asking=timedelta(hours=24),
    )  # fmt: skip
    try:
        with capture_logs() as logs:
            assert await poller.poll() == []
    finally:
        await channel.aclose()
    assert set((await ledger.states(incident)).values()) == {"unknown"}
    [warning] = [e for e in logs if e["event"] == "receipts.unavailable"]
    assert "kavenegar: status query refused: 403" in warning["reason"]
    assert KEYS["kavenegar"] not in str(logs)


async def test_crisisd_status_shows_sms_delivered_beside_sent(
    tmp_path: Path, library: Library, fake: SmsGwServer
) -> None:
    tree = library.config
    config = tmp_path / "config.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    config.write_text(
        f"store_url: {url}\nplaybooks: {tree.playbooks}\ntemplates: {tree.templates}\n",
        encoding="utf-8",
    )
    store = Store(normalize_url(url))
    await store.start()
    channel = channel_for(fake, "kavenegar", "smsir", "generic_http")
    try:
        svc = IncidentService(store, lambda: library, clock=lambda: T0)
        await sent_by(store, svc, channel, T0)
        await control_outcome(fake, "smsir", "pending")
        poller = ReceiptPoller(
            ReceiptLedger(store), channel, lambda: T0 + timedelta(minutes=1),
            every=timedelta(seconds=60), keep_asking=timedelta(hours=24),
        )  # fmt: skip
        await poller.poll()
    finally:
        await channel.aclose()
        await store.aclose()
    runner = CliRunner()
    text = await asyncio.to_thread(runner.invoke, main, ["status", "--config", str(config)])
    assert text.exit_code == 0, text.output
    assert "sent 3" in text.output and "SMS delivered 1 of 3 sent" in text.output
    raw = await asyncio.to_thread(
        runner.invoke, main, ["status", "--json", "--config", str(config)]
    )
    [row] = json.loads(raw.output)
    assert row["sms"] == {"delivered": 1, "pending": 1, "untracked": 1}
