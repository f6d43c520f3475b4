"""A channel's queue of claimed messages, the most urgent first (lowest priority number,
then the earliest due, then the oldest), which tells the claim loop how urgent its head is.

Its senders wait for their paced slots here (:meth:`SendQueue.nap`). asyncio wakes a timer
in whole milliseconds (``selectors.EpollSelector.select`` rounds its timeout up), so behind
a backlog sent at 1,000 a second an alert claimed between two slots waited a whole
millisecond, twice its usual share of a gap. A message that overtakes everything queued
(:meth:`SendQueue.arrive`) makes the sender that wakes first wake on time: by the timer to
within a millisecond of its slot, then by turns of the loop (:data:`SHARP`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from crisisd.delivery.pacing import Pacer
from crisisd.store import MessageRow

Queued = tuple[int, datetime, int, MessageRow]

CHOOSE_NOW = 0.002  # a slot this close (and within half a gap) is the message in hand's
SHARP = 0.001  # the last part of a sharpened wait, made by turns of the loop, not a timer


def queued(msg: MessageRow) -> Queued:
    return (msg.priority, msg.not_before, msg.id, msg)


class _Nap:
    """A sender waiting for its slot: woken by a timer, or on time once sharpened."""

    def __init__(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        self.loop = loop
        self.when = loop.time() + wait
        self.woken: asyncio.Future[None] = loop.create_future()
        self.timer: asyncio.Handle = loop.call_at(self.when, self._wake)

    def _wake(self) -> None:
        if not self.woken.done():
            self.woken.set_result(None)

    def sharpen(self) -> None:
        self.timer.cancel()
        self.timer = self.loop.call_at(self.when - SHARP, self._turn)

    def _turn(self) -> None:
        if self.loop.time() >= self.when:
            self._wake()
        elif not self.woken.done():
            self.timer = self.loop.call_soon(self._turn)


class SendQueue(asyncio.PriorityQueue[Queued]):
    """``asyncio.PriorityQueue`` keeps its entries in ``_queue``, a heap (Lib/asyncio/queues.py:
    ``_init``/``_put``/``_get`` use ``heapq`` on it), so its head is ``_queue[0]``."""

    _queue: list[Queued]

    def __init__(self) -> None:
        super().__init__()
        self._naps: list[_Nap] = []

    def overtakes(self, entry: Queued) -> bool:
        """``entry`` is more urgent than every message queued (and some are)."""
        return bool(self._queue) and entry[0] < self._queue[0][0]

    def arrive(self, entry: Queued) -> None:
        """A claimed message joins the queue. One more urgent than all queued is sent in the
        next slot on time: the sender that wakes first is sharpened (see the module)."""
        overtakes = self.overtakes(entry)
        self.put_nowait(entry)
        if overtakes and self._naps:
            min(self._naps, key=lambda nap: nap.when).sharpen()

    async def nap(self, wait: float, sharp: bool = False) -> None:
        """Wait ``wait`` seconds for a slot, on time when ``sharp`` (see :meth:`arrive`)."""
        nap = _Nap(asyncio.get_running_loop(), wait)
        if sharp:
            nap.sharpen()
        self._naps.append(nap)
        try:
            await nap.woken
        finally:
            nap.timer.cancel()
            self._naps.remove(nap)

    def head_priority(self) -> int | None:
        """The priority of the most urgent message queued (None when empty)."""
        return self._queue[0][0] if self._queue else None

    def overtaken(self, entry: Queued) -> Queued:
        """``entry``, or the head instead when it is more urgent (``entry`` goes back)."""
        if not self._queue or self._queue[0][0] >= entry[0]:
            return entry
        head = self.get_nowait()
        self.put_nowait(entry)
        return head


async def in_slot(queue: SendQueue, pacer: Pacer, entry: Queued) -> Queued | None:
    """Wait for the channel's next slot and its floor (:meth:`Pacer.take_floor`, taken here);
    return what to send in it, or None when the slot goes unused (another worker sent the
    rest, or a 429 came while it was awaited).

    The message to send is chosen when the wait is over, so an alert claimed meanwhile takes
    the slot instead of waiting behind the backlog: a wait longer than :data:`CHOOSE_NOW` (or
    half a gap) is made with ``entry`` back in the queue, a shorter one with it in hand,
    given up for a more urgent head when the wait is over. An ``entry`` more urgent than all
    queued waits for the floor in hand, on time (see the module), up to :data:`CHOOSE_NOW`.
    """
    near = min(CHOOSE_NOW, pacer.gap / 2)
    sharp = queue.overtakes(entry)  # an alert ahead of a backlog: kept in hand, on time
    in_hand = CHOOSE_NOW if sharp else near
    wait = pacer.reserve_slot()
    if wait > in_hand:
        found = await _chosen_after(queue, pacer, entry, wait)
        if found is None:
            return None
        entry = found
        sharp = queue.overtakes(entry)
        in_hand = CHOOSE_NOW if sharp else near
    elif wait > 0:
        await queue.nap(wait, sharp)
    late = pacer.take_floor()  # a worker that woke late for its slot sent just now
    if late > in_hand:
        return await _chosen_after(queue, pacer, entry, late)
    if late > 0:
        await queue.nap(late, sharp)
    return queue.overtaken(entry)


async def _chosen_after(
    queue: SendQueue, pacer: Pacer, entry: Queued, wait: float
) -> Queued | None:
    """Wait with ``entry`` back in the queue, then take the head: None when there is none
    (another worker sent it), or when a 429 came meanwhile (not now)."""
    queue.put_nowait(entry)
    await queue.nap(wait)
    if queue.empty():
        return None
    entry = queue.get_nowait()
    if pacer.paused() > 0:
        queue.put_nowait(entry)
        return None
    return entry
