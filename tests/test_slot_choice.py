"""The message sent in a paced slot is chosen when the wait for it is over (queueing.in_slot):
an alert queued while a worker waits with a backlog message in hand takes the slot, both when
the slot was near and when another worker, late for its own, sent just before it.

The pacer runs on a clock the test moves; the sleeps are real and short. Asserts on which
message goes, never on how long anything took.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import cast

from crisisd.channels.base import ChannelLimits
from crisisd.delivery.pacing import Pacer
from crisisd.delivery.queueing import Queued, SendQueue, in_slot
from crisisd.store import MessageRow


class Clock:
    """The pacer's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


RATE = 100.0  # a slot every ~10 ms; a wait under 2 ms is made with the message in hand
T0 = datetime(2026, 3, 1, 8, 0)


def entry(priority: int, ident: int, name: str) -> Queued:
    return (priority, T0, ident, cast(MessageRow, name))


BACKLOG = entry(5, 1, "backlog")
ALERT = entry(1, 2, "alert")


def pacer_with_a_slot_taken(clock: Clock) -> Pacer:
    pacer = Pacer(ChannelLimits(max_length=4096, rate_per_second=RATE), clock)
    pacer.reserve_slot()  # worker A's slot: now
    clock.now += pacer.gap - 0.001  # worker B's comes in 1 ms: near, so B keeps its message
    return pacer


async def test_an_alert_queued_during_a_near_wait_takes_the_slot() -> None:
    clock = Clock()
    pacer = pacer_with_a_slot_taken(clock)
    queue = SendQueue()
    b = asyncio.create_task(in_slot(queue, pacer, BACKLOG))
    await asyncio.sleep(0)  # B reserved its slot and waits for it, the backlog in hand
    assert queue.empty()
    queue.put_nowait(ALERT)
    clock.now += 0.001
    assert await b == ALERT
    assert queue.get_nowait() == BACKLOG  # back in the queue, for the next slot


async def test_a_slot_taken_by_a_late_worker_is_waited_for_without_a_message_in_hand() -> None:
    clock = Clock()
    pacer = pacer_with_a_slot_taken(clock)
    queue = SendQueue()
    b = asyncio.create_task(in_slot(queue, pacer, BACKLOG))
    await asyncio.sleep(0)
    clock.now += 0.0005
    assert pacer.take_floor() == 0  # A woke late for its slot and sends now, just before B's
    queue.put_nowait(ALERT)
    clock.now += 0.0005
    chosen = await b  # B waits a whole gap after A: it chooses when that is over
    assert chosen == ALERT
    assert queue.get_nowait() == BACKLOG
    assert pacer.late() > 0  # B's turn at the floor is taken: the next request waits for it


async def test_a_slot_whose_message_was_sent_by_another_worker_goes_unused() -> None:
    clock = Clock()
    pacer = Pacer(ChannelLimits(max_length=4096, rate_per_second=RATE), clock)
    pacer.reserve_slot()
    queue = SendQueue()
    b = asyncio.create_task(in_slot(queue, pacer, BACKLOG))  # a far slot: BACKLOG goes back
    await asyncio.sleep(0)
    assert queue.get_nowait() == BACKLOG  # another worker takes it meanwhile
    assert await b is None
