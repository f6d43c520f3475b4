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


async def _hold_until(
    gate: WriteGate, order: list[str], name: str, leave: asyncio.Event, **how: bool
) -> None:
    async with gate.hold(how.pop("urgent", False), **how):
        order.append(name)
        await leave.wait()
    order.append(f"{name} left")


@pytest.mark.parametrize("checkpoint_leaves_first", [True, False])
async def test_a_person_goes_in_beside_a_checkpoint_and_the_others_still_wait(
    checkpoint_leaves_first: bool,
) -> None:
    gate, order = WriteGate(), list[str]()
    done_checkpoint, done_person = asyncio.Event(), asyncio.Event()
    checkpoint = asyncio.create_task(
        _hold_until(gate, order, "checkpoint", done_checkpoint, idle=True)
    )
    await asyncio.sleep(0)
    record = asyncio.create_task(_write(gate, order, "record"))
    claim = asyncio.create_task(_write(gate, order, "claim", claim=True))
    person = asyncio.create_task(_hold_until(gate, order, "person", done_person, urgent=True))
    second = asyncio.create_task(_write(gate, order, "second person", urgent=True))
    await asyncio.sleep(0)
    assert order == ["checkpoint", "person"]  # beside it; one at a time, the rest wait
    first, then = (
        (done_checkpoint, done_person)
        if checkpoint_leaves_first
        else (done_person, done_checkpoint)
    )
    first.set()
    for _ in range(3):
        await asyncio.sleep(0)
    assert order[2:] == ["checkpoint left" if checkpoint_leaves_first else "person left"]
    then.set()
    async with asyncio.timeout(10):
        await asyncio.gather(checkpoint, person, record, claim, second)
    assert order[4:] == ["second person", "claim", "record"]
    await _write(gate, order, "free again")  # nothing is left holding it
    assert order[-1] == "free again"


async def test_a_person_still_waits_for_a_record() -> None:
    gate, order = WriteGate(), list[str]()
    leave = asyncio.Event()
    holder = asyncio.create_task(_hold_until(gate, order, "record", leave))
    await asyncio.sleep(0)
    person = asyncio.create_task(_write(gate, order, "person", urgent=True))
    await asyncio.sleep(0)
    assert order == ["record"]  # a record's transaction is waited for
    leave.set()
    async with asyncio.timeout(10):
        await asyncio.gather(holder, person)
    assert order == ["record", "record left", "person"]


async def test_a_large_urgent_write_waits_for_the_checkpoint() -> None:
    """Writes beside every checkpoint would keep the WAL from starting over: a large open
    (``beside=False``) waits its turn like the others."""
    gate, order = WriteGate(), list[str]()
    leave = asyncio.Event()
    checkpoint = asyncio.create_task(_hold_until(gate, order, "checkpoint", leave, idle=True))
    await asyncio.sleep(0)
    large = asyncio.create_task(_write(gate, order, "large open", urgent=True, beside=False))
    await asyncio.sleep(0)
    assert order == ["checkpoint"]
    leave.set()
    async with asyncio.timeout(10):
        await asyncio.gather(checkpoint, large)
    assert order == ["checkpoint", "checkpoint left", "large open"]
