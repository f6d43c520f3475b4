"""Keeps the outbox gauges of ``/metrics`` current (a job on every daemon, not only the leader).

Every daemon on a shared store shows the same outbox: depth by status, the age of the
oldest undelivered message, the oldest claim, claims whose lease ran out, and claims per
worker id (how the work is spread). See docs/deploy.md for what to alert on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.domain import MessageStatus
from crisisd.metrics import Metrics
from crisisd.store.gauges import GaugeReader

GAUGE_SECONDS = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxWatch:
    """Reads the store's outbox gauges into the daemon's metrics."""

    def __init__(
        self, engine: AsyncEngine, metrics: Metrics, clock: Callable[[], datetime] = _now
    ) -> None:
        self.reader = GaugeReader(engine)
        self.metrics = metrics
        self.clock = clock

    async def refresh(self) -> None:
        g = await self.reader.read(self.clock())
        m = self.metrics
        for status in MessageStatus:
            m.queue_depth.labels(status.value).set(g.depth.get(status.value, 0))
        m.oldest_undelivered.set(g.oldest_undelivered)
        m.oldest_claim.set(g.oldest_claim)
        m.expired_claims.set(g.expired_claims)
        m.claims.clear()
        for worker, n in g.claims.items():
            m.claims.labels(worker).set(n)
