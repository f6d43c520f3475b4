"""A channel's queue of claimed messages, the most urgent first (lowest priority number,
then the earliest due, then the oldest), which tells the claim loop how urgent its head is."""

from __future__ import annotations

import asyncio
from datetime import datetime

from crisisd.delivery.pacing import Pacer
from crisisd.store import MessageRow

Queued = tuple[int, datetime, int, MessageRow]

CHOOSE_NOW = 0.002  # a slot this close (and within half a gap) is the message in hand's


def queued(msg: MessageRow) -> Queued:
    return (msg.priority, msg.not_before, msg.id, msg)


class SendQueue(asyncio.PriorityQueue[Queued]):
    """``asyncio.PriorityQueue`` keeps its entries in ``_queue``, a heap (Lib/asyncio/queues.py:
    ``_init``/``_put``/``_get`` use ``heapq`` on it), so its head is ``_queue[0]``."""

    _queue: list[Queued]

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
    given up for a more urgent head when the wait is over.
    """
    near = min(CHOOSE_NOW, pacer.gap / 2)
    wait = pacer.reserve_slot()
    if wait > near:
        found = await _chosen_after(queue, pacer, entry, wait)
        if found is None:
            return None
        entry = found
    elif wait > 0:
        await asyncio.sleep(wait)
    late = pacer.take_floor()  # a worker that woke late for its slot sent just now
    if late > near:
        return await _chosen_after(queue, pacer, entry, late)
    if late > 0:
        await asyncio.sleep(late)
    return queue.overtaken(entry)


async def _chosen_after(
    queue: SendQueue, pacer: Pacer, entry: Queued, wait: float
) -> Queued | None:
    """Wait with ``entry`` back in the queue, then take the head: None when there is none
    (another worker sent it), or when a 429 came meanwhile (not now)."""
    queue.put_nowait(entry)
    await asyncio.sleep(wait)
    if queue.empty():
        return None
    entry = queue.get_nowait()
    if pacer.paused() > 0:
        queue.put_nowait(entry)
        return None
    return entry
