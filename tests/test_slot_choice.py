"""The message sent in a paced slot is chosen when the wait for it is over (queueing.in_slot):
an alert queued while a worker waits with a backlog message in hand takes the slot, both when
the slot was near and when another worker, late for its own, sent just before it.

A message that overtakes everything queued makes the sender that wakes first wake on time
(its nap is sharpened: a timer to within ``SHARP`` of the slot, then turns of the loop), and
never before its slot.

The pacer runs on a clock the test moves; the sleeps are real and short. Asserts on which
message goes and which wait is sharpened, never on how long anything took.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import cast

from crisisd.channels.base import ChannelLimits
from crisisd.delivery.pacing import Pacer
from crisisd.delivery.queueing import SHARP, Queued, SendQueue, in_slot
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


async def _napping(queue: SendQueue, waits: list[float]) -> list[asyncio.Task[float]]:
    async def nap(wait: float) -> float:
        await queue.nap(wait)
        return asyncio.get_running_loop().time()

    tasks = [asyncio.create_task(nap(w)) for w in waits]
    await asyncio.sleep(0)
    return tasks


def _timers(queue: SendQueue) -> list[tuple[float, float]]:
    """Each nap's slot and when its timer fires (the slot itself unless sharpened)."""
    return sorted((nap.when, cast(asyncio.TimerHandle, nap.timer).when()) for nap in queue._naps)


async def test_an_alert_sharpens_the_wait_that_ends_first_and_it_wakes_not_before_its_slot() -> (
    None
):
    queue = SendQueue()
    queue.put_nowait(BACKLOG)
    tasks = await _napping(queue, [0.08, 0.03, 0.05])
    assert all(fires == slot for slot, fires in _timers(queue))
    queue.arrive(ALERT)
    first, *others = _timers(queue)
    assert first[1] == first[0] - SHARP  # woken by the timer just before, then on time
    assert all(fires == slot for slot, fires in others)
    woke = await asyncio.gather(*tasks)
    assert woke[1] >= first[0]  # never before its slot
    assert not queue._naps


async def test_a_message_that_overtakes_nothing_sharpens_nothing() -> None:
    queue = SendQueue()
    tasks = await _napping(queue, [0.02, 0.01])
    queue.arrive(BACKLOG)  # nothing queued to overtake: an empty queue's senders are free
    queue.arrive(entry(5, 3, "more backlog"))  # as urgent as the head, not more
    assert all(fires == slot for slot, fires in _timers(queue))
    await asyncio.gather(*tasks)


async def test_an_alert_in_hand_waits_a_near_floor_in_hand() -> None:
    clock = Clock()
    pacer = Pacer(ChannelLimits(max_length=4096, rate_per_second=1000.0), clock)
    assert pacer.take_floor() == 0  # a backlog message went just now; the floor is ~1 ms
    queue = SendQueue()
    queue.put_nowait(BACKLOG)
    # Half a gap (0.5 ms) is less than the floor's wait: a backlog message would go back to
    # the queue for it; the alert, more urgent than all queued, keeps its slot in hand.
    chosen = asyncio.create_task(in_slot(queue, pacer, ALERT))
    await asyncio.sleep(0)
    assert queue.qsize() == 1
    clock.now += 0.001
    assert await chosen == ALERT
    assert queue.get_nowait() == BACKLOG
