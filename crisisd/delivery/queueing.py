"""A channel's queue of claimed messages, the most urgent first (lowest priority number,
then the earliest due, then the oldest), which tells the claim loop how urgent its head is."""

from __future__ import annotations

import asyncio
from datetime import datetime

from crisisd.store import MessageRow

Queued = tuple[int, datetime, int, MessageRow]


def queued(msg: MessageRow) -> Queued:
    return (msg.priority, msg.not_before, msg.id, msg)


class SendQueue(asyncio.PriorityQueue[Queued]):
    """``asyncio.PriorityQueue`` keeps its entries in ``_queue``, a heap (Lib/asyncio/queues.py:
    ``_init``/``_put``/``_get`` use ``heapq`` on it), so its head is ``_queue[0]``."""

    _queue: list[Queued]

    def head_priority(self) -> int | None:
        """The priority of the most urgent message queued (None when empty)."""
        return self._queue[0][0] if self._queue else None
