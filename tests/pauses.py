"""An injected sleep for supervised parts: the test decides when a backoff ends."""

from __future__ import annotations

import asyncio


class Pauses:
    """Records each backoff and waits until the test lets it go (no wall clock involved)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.waiting = asyncio.Event()
        self._go = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.waiting.set()
        await self._go.wait()
        self._go.clear()
        self.waiting.clear()

    def release(self) -> None:
        self._go.set()
