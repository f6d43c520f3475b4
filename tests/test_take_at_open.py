"""An incident's first claim is made in the transaction that opens it (store/taking.py).

The dispatcher below never claims after its first look (an hour between looks, and no kick),
so a message it sends was handed to it by the open. Every case but the last runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from crisisd.delivery.dispatcher import Dispatcher
from crisisd.domain import MessageStatus
from crisisd.incidents import IncidentService
from crisisd.library.loader import load_library
from crisisd.library.model import Library
from crisisd.store import MessageRow, Store
from crisisd.store.engine import normalize_url
from crisisd.store.opening import CHUNK
from crisisd.store.taking import Take
from tests.minitree import T0, make_tree, report
from tests.recording import Recorder
from tests.stafftree import tree_with_staff


class Hands:
    """A taker of its own: what the store handed it, and a hand that may fail."""

    def __init__(self, take: Take, fail: bool = False) -> None:
        self.take = dataclasses.replace(take, hand=self.hand)
        self.fail = fail
        self.got: list[list[MessageRow]] = []

    def taking(self) -> Take:
        return self.take

    def hand(self, rows: list[MessageRow]) -> None:
        self.got.append(rows)
        if self.fail:
            raise RuntimeError("the dispatcher went away")


class Asked:
    """A taker that gives the answer a dispatcher gave earlier (with that dispatcher's hand)."""

    def __init__(self, take: Take) -> None:
        self.take = take

    def taking(self) -> Take:
        return self.take


def _lib(tmp_path: Path) -> Library:
    return load_library(make_tree(tmp_path / "tree"))


def _take(**kw: object) -> Take:
    base: dict[str, object] = {
        "worker": "w-open",
        "now": T0,
        "until": T0 + timedelta(minutes=2),
        "limit": 50,
        "room": frozenset({"bale", "sms", "email"}),
        "ahead": {},
        "hand": lambda rows: None,
    }
    base.update(kw)
    return Take(**base)  # type: ignore[arg-type]


async def _wait_for(check: object, seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_the_dispatcher_sends_what_the_open_handed_it_without_a_claim(
    store: Store, tmp_path: Path
) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    bale = Recorder("bale")
    channels = {"bale": bale, "sms": Recorder("sms"), "email": Recorder("email")}
    d = Dispatcher(
        store, dict(channels), lambda m, c: m.recipient, idle_poll=3600, clock=lambda: T0
    )
    await d.start()
    svc.taker = d
    try:
        await asyncio.sleep(0.2)  # its first look found nothing; the next is an hour away
        opened = await svc.open(report())
        async with asyncio.timeout(15):
            while len(bale.sent) < 2:
                await asyncio.sleep(0.01)
        assert {m.address for m in bale.sent} == {"staff.b", "boss.c"}  # address: recipient
        assert {m.incident_id for m in bale.sent} == {opened.incident_id}
        await d.flush()
        by_who = {m.recipient: m for m in await store.messages_of(opened.incident_id)}
        assert by_who["staff.b"].status == MessageStatus.SENT
        assert by_who["staff.b"].attempts == 1  # one claim's worth, as a claim counts it
        # the press statement is due in ten minutes: left to a later claim
        assert by_who["press.d"].status == MessageStatus.PENDING
        assert by_who["press.d"].attempts == 0
    finally:
        await d.drain(grace=1)
    assert d.taking() is None  # a dispatcher that is stopping takes nothing


async def test_an_open_takes_what_a_claim_would_take_and_no_more(
    store: Store, tmp_path: Path
) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    # bale's queue is full of messages of priority 0 or less urgent: only more urgent ones
    # would overtake it; sms has room; one message at most
    taker = Hands(_take(room=frozenset({"sms"}), ahead={"bale": -5}, limit=1))
    svc.taker = taker
    opened = await svc.open(report())
    msgs = await store.messages_of(opened.incident_id)
    taken = [m for m in msgs if m.status == MessageStatus.SENDING]
    assert len(taken) == 0  # every step's first channel is bale (or a later email)
    assert taker.got == []

    taker.take = dataclasses.replace(taker.take, room=frozenset({"bale"}), ahead={}, limit=1)
    opened = await svc.open(report())
    msgs = await store.messages_of(opened.incident_id)
    taken = [m for m in msgs if m.status == MessageStatus.SENDING]
    assert [m.recipient for m in taken] == ["staff.b"]  # the most urgent: emergency team
    (row,) = taken
    assert row.attempts == 1
    assert [r.id for r in taker.got[0]] == [row.id]
    # handed as a claim reads it back: the same row, renderings and all
    assert taker.got[0][0] == row
    pending = [m for m in msgs if m.status == MessageStatus.PENDING]
    assert {m.recipient for m in pending} == {"boss.c", "press.d"}


async def test_a_repeated_open_takes_nothing(store: Store, tmp_path: Path) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    first = await svc.open(report(idempotency_key="k1"))
    taker = Hands(_take())
    svc.taker = taker
    again = await svc.open(report(idempotency_key="k1"))
    assert (again.incident_id, again.created) == (first.incident_id, False)
    assert taker.got == []
    msgs = await store.messages_of(first.incident_id)
    assert all(m.status == MessageStatus.PENDING for m in msgs)


async def test_what_a_failed_hand_over_took_goes_back_to_the_queue(
    store: Store, tmp_path: Path
) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    taker = Hands(_take(), fail=True)
    svc.taker = taker
    opened = await svc.open(report())  # the open stands
    assert len(taker.got[0]) == 2

    async def all_back() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        return all(m.status == MessageStatus.PENDING and m.attempts == 0 for m in msgs)

    await _wait_for(all_back)
    claimed = await store.claim("w2", T0, 50, timedelta(minutes=2))
    assert {m.recipient for m in claimed} == {"staff.b", "boss.c"}


async def test_a_daemon_that_died_after_the_open_sends_what_it_took_when_it_starts(
    store: Store, tmp_path: Path
) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    taker = Hands(_take(worker="w-dead"))  # handed over, never sent: the daemon died
    svc.taker = taker
    opened = await svc.open(report())
    assert len(taker.got[0]) == 2
    assert await store.claim("w-other", T0, 50, timedelta(minutes=2)) == []  # still leased
    bale = Recorder("bale")
    channels = {"bale": bale, "sms": Recorder("sms"), "email": Recorder("email")}
    d = Dispatcher(store, dict(channels), lambda m, c: m.recipient, worker_id="w-dead")
    await d.start()  # the same worker id gives back its claims at once
    try:
        async with asyncio.timeout(15):
            while len(bale.sent) < 2:
                await asyncio.sleep(0.01)
    finally:
        await d.drain(grace=1)
    assert {m.incident_id for m in bale.sent} == {opened.incident_id}


async def test_an_open_larger_than_a_chunk_takes_nothing(store: Store, tmp_path: Path) -> None:
    """Its commit may come long after the lease began: it is left to the claims."""
    lib = load_library(tree_with_staff(tmp_path / "tree", staff=CHUNK + 20))
    svc = IncidentService(store, lambda: lib, lambda: T0)
    taker = Hands(_take(limit=50))
    svc.taker = taker
    opened = await svc.open(report(severity="minor"))
    assert opened.messages == CHUNK + 20
    msgs = await store.messages_of(opened.incident_id)
    assert all(m.status == MessageStatus.PENDING and m.attempts == 0 for m in msgs)
    assert taker.got == []


async def test_a_dispatcher_that_stopped_as_the_open_was_written_gives_back_what_it_took(
    store: Store, tmp_path: Path
) -> None:
    lib = _lib(tmp_path)
    svc = IncidentService(store, lambda: lib, lambda: T0)
    channels = {"bale": Recorder("bale"), "sms": Recorder("sms"), "email": Recorder("email")}
    d = Dispatcher(store, dict(channels), lambda m, c: m.recipient, idle_poll=3600)
    await d.start()
    asked = d.taking()  # asked before it stopped, handed to after
    assert asked is not None
    await d.drain(grace=1)
    svc.taker = Asked(asked)
    opened = await svc.open(report())

    async def all_back() -> bool:
        msgs = await store.messages_of(opened.incident_id)
        due = [m for m in msgs if m.recipient != "press.d"]
        return all(m.status == MessageStatus.PENDING and m.attempts == 0 for m in due)

    await _wait_for(all_back)
    assert not any(c.sent for c in channels.values())


async def test_an_open_cancelled_in_flight_gives_back_what_it_took(tmp_path: Path) -> None:
    """SQLite only: another connection holds the write lock, so the open's one trip waits in
    aiosqlite's thread; the open is cancelled meanwhile, then the lock is let go. The open
    is let finish and commits, and the messages it took go back to the queue instead of
    staying leased to a dispatcher that never heard of them."""
    path = tmp_path / "store.sqlite3"
    store = Store(normalize_url(f"sqlite:///{path}"))
    await store.start()
    try:
        lib = _lib(tmp_path)
        svc = IncidentService(store, lambda: lib, lambda: T0)
        taker = Hands(_take())
        svc.taker = taker
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            opening = asyncio.create_task(svc.open(report(idempotency_key="cut")))
            await asyncio.sleep(0.3)  # the open waits for the lock, in SQLite's busy handler
            opening.cancel()
            await asyncio.sleep(0.05)
            other.execute("COMMIT")
        finally:
            other.close()
        with pytest.raises(asyncio.CancelledError):
            await opening
        assert taker.got == []  # never handed over

        async def given_back() -> bool:
            rows = [m for i in await store.list_incidents() for m in await store.messages_of(i.id)]
            return bool(rows) and all(m.status == MessageStatus.PENDING for m in rows)

        await _wait_for(given_back)
    finally:
        await store.aclose()
