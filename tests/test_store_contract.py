"""One contract suite for the store, run against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from crisisd.domain import (
    IncidentFacts,
    IncidentStatus,
    MessageStatus,
    Plan,
    Purpose,
)
from crisisd.errors import IncidentIdTaken, StoreUnavailable, WorkerIdInUse
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import (
    AuditEntry,
    OutcomeFailed,
    OutcomeFailover,
    OutcomeRetry,
    OutcomeSent,
    Store,
)
from crisisd.store.engine import normalize_url
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
    assert row.status is IncidentStatus.OPEN  # the vocabulary's enums, not bare strings
    msgs = await store.messages_of(opened.incident_id)
    assert {(m.status, m.purpose) for m in msgs} == {(MessageStatus.PENDING, Purpose.ALERT)}
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


async def test_the_same_key_at_once_from_several_requests_opens_one_incident(
    store: Store, library: Library
) -> None:
    """Retries racing each other (an integration that timed out and sent again): one opens,
    the others get its id; one incident, one set of messages, one "opened" entry."""
    svc = IncidentService(store, lambda: library, Clock())
    opened = await asyncio.gather(*(svc.open(report(idempotency_key="scada-7")) for _ in range(5)))
    assert len({o.incident_id for o in opened}) == 1
    assert sorted(o.created for o in opened) == [False] * 4 + [True]
    incident = opened[0].incident_id
    assert len(await store.messages_of(incident)) == 3
    assert [e.action for e in await store.audit_of(incident)] == ["incident.opened"]
    assert len(await store.list_incidents()) == 1
    other = await svc.open(report())  # no key: never taken for a repeat
    assert other.created and other.incident_id != incident


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
        [OutcomeSent(msg.id, "bale", T0, "1002:7", msg.incident_id, msg.recipient, r)]
    )
    (sent,) = [m for m in await store.messages_of(opened.incident_id) if m.id == msg.id]
    assert (sent.status, sent.provider_id, sent.sent_channel) == ("sent", "1002:7", "bale")
    trail = [e for e in await store.audit_of(opened.incident_id) if e.action == "message.sent"]
    assert trail[0].detail is not None
    assert trail[0].detail["text"] == r.text
    assert trail[0].detail["sha256"] == r.sha256


async def test_a_retry_waits_for_its_time_and_a_failure_is_final(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    first, second = await store.claim("w1", T0, 10, timedelta(minutes=5))
    later = T0 + timedelta(seconds=30)
    await store.record(
        [
            OutcomeRetry(first.id, first.channel, T0, "429 too many requests", later),
            OutcomeFailed(second.id, second.channel, T0, "blocked"),
        ],
        "w1",
    )
    rows = {m.id: m for m in await store.messages_of(opened.incident_id)}
    retried, failed = rows[first.id], rows[second.id]
    assert (retried.status, retried.not_before, retried.channel) == (
        MessageStatus.PENDING,
        later,
        first.channel,
    )
    assert (retried.attempts, retried.last_error) == (1, "429 too many requests")
    assert (failed.status, failed.last_error, failed.sent_at) == (
        MessageStatus.FAILED,
        "blocked",
        None,
    )
    assert await store.claim("w2", later - timedelta(seconds=1), 10, timedelta(minutes=5)) == []
    (again,) = await store.claim("w2", later, 10, timedelta(minutes=5))
    assert (again.id, again.attempts) == (first.id, 2)


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
        [OutcomeRetry(m.id, m.channel, T0, "502", not_before=T0) for m in claimed], "w1"
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
    await store.record([OutcomeFailover(msg.id, "bale", T0, "blocked", 1, "sms")], "w1")
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
    with pytest.raises(WorkerIdInUse, match="another crisisd already runs"):
        await second.acquire()
    other = WorkerLock(store.engine, "host:other")  # another config: its own id
    await other.acquire()
    await first.release()
    await second.acquire()  # free again once the first has stopped
    await second.release()
    await other.release()


# -- the store raises its own errors -------------------------------------------------------------


async def test_an_incident_id_collision_is_its_own_error(store: Store) -> None:
    facts = IncidentFacts("KMT-479", "mini", "fire", "major", "officer.a", T0)
    entry = AuditEntry(facts.id, T0, "officer.a", "incident.opened")
    assert await store.open_incident(facts, Plan(), entry, source="cli", idempotency_key=None)
    with pytest.raises(IncidentIdTaken, match="KMT-479 is already in use"):
        await store.open_incident(facts, Plan(), entry, source="cli", idempotency_key=None)
    assert [row.id for row in await store.list_incidents()] == ["KMT-479"]


def _on_connect(store: Store, statement: str) -> None:
    """Run ``statement`` on every new connection of ``store`` (the database's own switches)."""

    @event.listens_for(store.engine.sync_engine, "connect")
    def _run(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        dbapi_connection.commit()  # PostgreSQL: a SET inside a rolled-back transaction is undone


READ_ONLY = {
    "sqlite": "PRAGMA query_only = ON",
    "postgresql": "SET default_transaction_read_only = on",
}


async def test_a_read_only_database_is_store_unavailable(store: Store) -> None:
    read_only = Store(store.url)
    _on_connect(read_only, READ_ONLY[read_only.dialect])
    try:
        with pytest.raises(StoreUnavailable, match="could not write a setting") as caught:
            await read_only.put_setting("bot:1", "x")
        assert isinstance(caught.value, OSError)  # treated like any other I/O failure
        assert "[SQL" not in str(caught.value)  # the driver's reason, not the statement
        assert await read_only.settings_with_prefix("bot:") == {}  # reading still works
    finally:
        await read_only.aclose()


async def test_a_full_disk_is_store_unavailable(tmp_path: Path, library: Library) -> None:
    path = tmp_path / "full.sqlite3"
    url = normalize_url(f"sqlite:///{path}")
    first = Store(url)
    await first.start()
    await first.aclose()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("VACUUM")  # no free pages left inside the file: a new row needs a new page
    full = Store(url)
    _on_connect(full, "PRAGMA max_page_count = 1")  # clamped to the pages it has: no growth
    try:
        svc = IncidentService(full, lambda: library, Clock())

        async def fill() -> None:
            for _ in range(100):  # the pages the file has fill up within a few incidents
                await svc.open(report())

        with pytest.raises(StoreUnavailable, match=r"could not open an incident: .*full"):
            await fill()
    finally:
        await full.aclose()


async def test_a_refused_connection_names_the_store_but_not_its_password() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = Store(normalize_url(f"postgresql://crisisd:Xy7-s3cret-pw@127.0.0.1:{port}/crisisd"))
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.start()
    finally:
        await store.aclose()
    text = f"{caught.value} {caught.value!r}"
    assert "Xy7-s3cret-pw" not in text
    assert f"127.0.0.1:{port}" in text
    assert "could not apply the schema migrations" in text


def test_every_store_operation_maps_driver_errors() -> None:
    """A new public coroutine on the Store must be a store operation too."""
    unmapped = [
        name
        for name, member in inspect.getmembers(Store, inspect.iscoroutinefunction)
        if not name.startswith("_")
        and name not in ("ping", "aclose")  # ping answers False; aclose only disposes
        and not getattr(member, "__store_operation__", None)
    ]
    assert unmapped == []


async def test_a_claim_for_the_channels_with_room_takes_only_theirs(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report())
    later = T0 + timedelta(minutes=11)
    all_channels = {
        m.channel for m in await store.messages_of((await store.list_incidents())[0].id)
    }
    room = sorted(all_channels)[:1]
    assert await store.claim("w1", later, 10, timedelta(hours=1), only=[]) == []
    got = await store.claim("w1", later, 10, timedelta(hours=1), exclude=["x"], only=room)
    assert got and {m.channel for m in got} == set(room)
    rest = await store.claim("w2", later, 10, timedelta(hours=1))
    assert {m.channel for m in rest} == all_channels - set(room)


async def test_a_claim_on_a_read_only_database_is_store_unavailable(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report())
    read_only = Store(store.url)
    _on_connect(read_only, READ_ONLY[read_only.dialect])
    try:
        with pytest.raises(StoreUnavailable, match="could not claim due messages") as caught:
            await read_only.claim("w1", T0, 10, timedelta(hours=1))
        assert "[SQL" not in str(caught.value)
        # the kept connection was given up with the failed claim; the next one works
        assert await store.claim("w1", T0, 10, timedelta(hours=1))
    finally:
        await read_only.aclose()


async def test_a_claim_cancelled_anywhere_leaves_no_write_lock(
    store: Store, library: Library
) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    await svc.open(report())
    for steps in range(12):  # cancelled after 0, 1, … turns of the loop: before, in, after
        task = asyncio.create_task(store.claim("w1", T0, 10, timedelta(hours=1)))
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # another writer (and the next claim) goes on at once: nothing holds the lock
        await asyncio.wait_for(store.release("w1"), 5)
        await asyncio.wait_for(store.put_setting("probe", str(steps)), 5)
    assert len(await store.claim("w1", T0, 10, timedelta(hours=1))) == 2
