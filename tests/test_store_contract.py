"""One contract suite for the store, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from crisisd.errors import StoreError
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import Outcome, Store
from crisisd.store.workerlock import WorkerLock
from tests.minitree import T0, Clock, report


async def test_open_commits_incident_messages_tasks_and_audit(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    assert opened.created
    row = await store.get_incident(opened.incident_id)
    assert row is not None
    assert row.details == "آتش در سالن ۲"
    msgs = await store.messages_of(opened.incident_id)
    assert {(m.audience, m.recipient) for m in msgs} == {
        ("emergency_team", "staff.b"),
        ("management", "boss.c"),
        ("press", "press.d"),
    }
    assert len(await store.tasks_of(opened.incident_id)) == 1
    assert [e.action for e in await store.audit_of(opened.incident_id)] == ["incident.opened"]


async def test_idempotency_key_returns_the_same_incident(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    first = await svc.open(report(idempotency_key="scada-42"))
    again = await svc.open(report(idempotency_key="scada-42"))
    assert (again.incident_id, again.created) == (first.incident_id, False)
    assert len(await store.messages_of(first.incident_id)) == 3
    assert len(await store.list_incidents()) == 1


async def test_claim_by_priority_and_due_time(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    got = await store.claim("w1", T0, 10, timedelta(hours=1))
    # press is delayed 10 minutes; emergency team (10) comes before management (20)
    assert [m.audience for m in got] == ["emergency_team", "management"]
    assert await store.claim("w2", T0, 10, timedelta(hours=1)) == []
    later = await store.claim("w2", T0 + timedelta(minutes=11), 10, timedelta(hours=1))
    assert [m.audience for m in later] == ["press"]
    assert opened.incident_id == got[0].incident_id


async def test_expired_lease_comes_back(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report())
    first = await store.claim("dead", T0, 1, timedelta(seconds=30))
    assert len(first) == 1
    assert first[0].id not in {m.id for m in await store.claim("w2", T0, 10, timedelta(seconds=30))}
    again = await store.claim("w2", T0 + timedelta(seconds=31), 10, timedelta(seconds=30))
    assert first[0].id in {m.id for m in again}


async def test_concurrent_claims_never_share_a_message(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    for i in range(10):
        await svc.open(report(idempotency_key=f"k{i}"))
    results = await asyncio.gather(
        *(store.claim(f"w{i}", T0, 3, timedelta(seconds=60)) for i in range(8))
    )
    ids = [m.id for batch in results for m in batch]
    assert len(ids) == len(set(ids)) == 20


async def test_record_outcomes_and_audit_text(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    (msg,) = await store.claim("w1", T0, 1, timedelta(seconds=60))
    r = msg.rendering("chat")
    await store.record(
        [
            Outcome(
                msg.id,
                "sent",
                "bale",
                T0,
                provider_id="1002:7",
                text=r.text,
                sha256=r.sha256,
                template=r.template,
                incident_id=msg.incident_id,
                recipient=msg.recipient,
            )
        ]
    )
    (sent,) = [m for m in await store.messages_of(opened.incident_id) if m.id == msg.id]
    assert (sent.status, sent.provider_id, sent.sent_channel) == ("sent", "1002:7", "bale")
    trail = [e for e in await store.audit_of(opened.incident_id) if e.action == "message.sent"]
    assert trail[0].detail is not None
    assert trail[0].detail["text"] == r.text
    assert trail[0].detail["sha256"] == r.sha256


async def test_release_gives_claims_back(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report())
    assert len(await store.claim("w1", T0, 5, timedelta(seconds=60))) == 2
    assert await store.release("w1") == 2
    assert len(await store.claim("w2", T0, 5, timedelta(seconds=60))) == 2


async def test_ack_is_idempotent(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    first = await svc.acknowledge(opened.incident_id, "staff.b", "bale")
    second = await svc.acknowledge(opened.incident_id, "staff.b", "bale")
    assert first.new
    assert not second.new
    assert second.at == first.at
    acks = [e for e in await store.audit_of(opened.incident_id) if e.action == "ack"]
    assert len(acks) == 1


async def test_takeover_cancels_pending_press(store: Store, library: Library) -> None:
    clock = Clock()
    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    clock.at = T0 + timedelta(minutes=1)
    sent, cancelled = await svc.takeover(opened.incident_id, "officer.a")
    assert cancelled == 1  # the delayed holding statement
    msgs = await store.messages_of(opened.incident_id)
    press = [m for m in msgs if m.audience == "press"]
    assert {m.status for m in press if m.purpose == "alert"} == {"cancelled"}
    assert [m.purpose for m in press if m.status == "pending"] == ["takeover"]
    assert sent == 1


async def test_cancel_while_claimed_stays_cancelled(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    claimed = await store.claim("w1", T0, 10, timedelta(minutes=5))
    await svc.cancel(opened.incident_id, "officer.a", "reported by mistake")
    # the worker's send comes back "try again later": it must not revive the message
    await store.record(
        [Outcome(m.id, "retry", m.channel, T0, reason="502", next_at=T0) for m in claimed], "w1"
    )
    msgs = await store.messages_of(opened.incident_id)
    assert {m.status for m in msgs} == {"cancelled"}
    assert await store.claim("w2", T0 + timedelta(hours=1), 10, timedelta(minutes=5)) == []


async def test_failover_starts_the_next_channel_with_a_fresh_budget(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    (msg,) = [
        m for m in await store.claim("w1", T0, 10, timedelta(minutes=5)) if m.recipient == "staff.b"
    ]
    await store.record(
        [
            Outcome(
                msg.id,
                "failover",
                "bale",
                T0,
                reason="blocked",
                next_at=T0,
                channel_index=1,
                next_channel="sms",
            )
        ],
        "w1",
    )
    (again,) = [m for m in await store.messages_of(opened.incident_id) if m.id == msg.id]
    assert (again.status, again.channel, again.attempts) == ("pending", "sms", 0)


async def test_simultaneous_acks_record_one(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    results = await asyncio.gather(
        *(store.acknowledge(opened.incident_id, "staff.b", "bale", T0) for _ in range(4))
    )
    assert sum(r.new for r in results) == 1
    assert len({r.at for r in results}) == 1


async def test_a_long_setting_key_fits(store: Store) -> None:
    key = (
        "drill-slot:" + "a-very-long-factory-name-of-a-provincial-plant" * 2 + ":0:2026-11-28T10:00"
    )
    assert await store.claim_once(key, "x")
    assert not await store.claim_once(key, "x")


async def test_one_live_daemon_per_worker_id(store: Store) -> None:
    first = WorkerLock(store.engine, "host:abc")
    await first.acquire()
    second = WorkerLock(store.engine, "host:abc")
    with pytest.raises(StoreError, match="another crisisd already runs"):
        await second.acquire()
    other = WorkerLock(store.engine, "host:other")  # another config: its own id
    await other.acquire()
    await first.release()
    await second.acquire()  # free again once the first has stopped
    await second.release()
    await other.release()
