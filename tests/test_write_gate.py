"""The SQLite write gate's order: people, then claims, then records, then housekeeping (the
WAL's checkpoint); after a write that queued messages the gate waits for the claim that
follows. Asserts order, never time."""

from __future__ import annotations

import asyncio

import pytest

from crisisd.store import engine
from crisisd.store.engine import WriteGate


async def _write(gate: WriteGate, order: list[str], name: str, **how: bool) -> None:
    async with gate.hold(how.pop("urgent", False), **how):
        order.append(name)
        await asyncio.sleep(0)


async def test_after_an_open_the_claim_goes_before_a_record_that_was_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "FOLLOW_UP", 30.0)  # the claim surely comes within it
    gate, order = WriteGate(), list[str]()
    entered, leave = asyncio.Event(), asyncio.Event()

    async def open_incident() -> None:
        async with gate.hold(True, keep=True):
            order.append("open")
            entered.set()
            await leave.wait()

    opening = asyncio.create_task(open_incident())
    await entered.wait()
    record = asyncio.create_task(_write(gate, order, "record"))
    await asyncio.sleep(0)  # the record waits at the gate
    leave.set()
    await opening
    await asyncio.sleep(0)
    assert order == ["open"]  # kept: the record did not take it
    await _write(gate, order, "claim", claim=True)
    async with asyncio.timeout(10):
        await record
    assert order == ["open", "claim", "record"]


async def test_a_kept_gate_goes_to_the_others_when_no_claim_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "FOLLOW_UP", 0.01)
    gate, order = WriteGate(), list[str]()
    await _write(gate, order, "open", urgent=True, keep=True)
    async with asyncio.timeout(10):
        await _write(gate, order, "record")
        await _write(gate, order, "ack", urgent=True)  # not kept after this one: free
        await _write(gate, order, "record again")
    assert order == ["open", "record", "ack", "record again"]


async def test_claims_go_before_records_people_before_both_and_housekeeping_last() -> None:
    gate, order = WriteGate(), list[str]()
    entered, leave = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with gate.hold(False):
            entered.set()
            await leave.wait()

    holder = asyncio.create_task(first())
    await entered.wait()
    waiting = [
        asyncio.create_task(_write(gate, order, "checkpoint", idle=True)),
        asyncio.create_task(_write(gate, order, "record")),
        asyncio.create_task(_write(gate, order, "claim", claim=True)),
        asyncio.create_task(_write(gate, order, "person", urgent=True)),
    ]
    await asyncio.sleep(0)
    leave.set()
    async with asyncio.timeout(10):
        await asyncio.gather(holder, *waiting)
    assert order == ["person", "claim", "record", "checkpoint"]
