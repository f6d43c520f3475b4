"""Every send bounded in time by one watch per dispatcher, instead of a timer per send.

``asyncio.timeout`` arms a timer and cancels it for every send: about 5 µs, the largest
single cost of a send on a fast channel (bench/core.py). A send's budget is several seconds
(its channel's own timeout twice, plus five), so one look every quarter of a second is exact
enough. A send found past its deadline is cancelled as ``asyncio.timeout`` cancels it
(``Task.cancel``, then ``Task.uncancel`` once the cancellation is known to be ours) and its
sender gets ``TimeoutError``; a cancellation from anywhere else goes on as it came.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
EVERY = 0.25  # seconds between two looks


class SendWatch:
    """Deadlines of the sends in flight, by the task that waits for each."""

    def __init__(self, every: float = EVERY) -> None:
        self.every = every
        self._due: dict[asyncio.Task[object], float] = {}
        self._late: set[asyncio.Task[object]] = set()

    async def bounded(self, send: Awaitable[T], seconds: float) -> T:
        """``await send``, or ``TimeoutError`` once it has run ``seconds`` (give or take
        :attr:`every`). Waited on by one task at a time per task, as sends are."""
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always called from a task
            raise RuntimeError("a send is awaited outside a task")
        cancelling = task.cancelling()
        self._due[task] = asyncio.get_running_loop().time() + seconds
        try:
            return await send
        except asyncio.CancelledError as exc:
            if task in self._late:
                self._late.discard(task)
                if task.uncancel() <= cancelling:
                    raise TimeoutError from exc
            raise
        finally:
            del self._due[task]
            if task in self._late:  # cancelled as the send returned: it was not cut short
                self._late.discard(task)
                task.uncancel()

    async def run(self) -> None:
        """Cut short the sends past their deadline, until cancelled (a supervised part)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.every)
            now = loop.time()
            for task, due in list(self._due.items()):
                if due <= now and task not in self._late:
                    self._late.add(task)
                    task.cancel()
