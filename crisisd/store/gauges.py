"""What an operator watches on a shared outbox: depth, the oldest undelivered message, claims.

Read by every daemon (a few cheap aggregate queries over ``ix_messages_due``) and shown on
``/metrics``; see docs/deploy.md for what to alert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.domain import MessageStatus
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import messages

WAITING = (MessageStatus.PENDING, MessageStatus.SENDING)


@dataclass(frozen=True, slots=True)
class OutboxGauges:
    """One look at the outbox. Ages in seconds (0 when there is nothing of the kind)."""

    depth: dict[str, int] = field(default_factory=dict)  # messages by status
    oldest_undelivered: float = 0.0  # since the oldest due, unsent message became due
    oldest_claim: float = 0.0  # since the oldest message now claimed (sending) became due
    expired_claims: int = 0  # claimed, lease run out: a dead daemon's, waiting to be taken
    claims: dict[str, int] = field(default_factory=dict)  # messages in flight per worker id


class GaugeReader:
    """Reads :class:`OutboxGauges` from a store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @store_operation("read the outbox gauges")
    async def read(self, now: datetime) -> OutboxGauges:
        m = messages.c
        async with self.engine.connect() as conn:
            depth = {
                str(s): int(n)
                for s, n in await conn.execute(
                    sa.select(m.status, sa.func.count()).group_by(m.status)
                )
            }
            oldest_due = await conn.scalar(
                sa.select(sa.func.min(m.not_before)).where(
                    m.status.in_(WAITING), m.not_before <= now
                )
            )
            oldest_claim = await conn.scalar(
                sa.select(sa.func.min(m.not_before)).where(m.status == MessageStatus.SENDING)
            )
            expired = await conn.scalar(
                sa.select(sa.func.count()).where(
                    m.status == MessageStatus.SENDING, m.lease_until < now
                )
            )
            claims = {
                str(w): int(n)
                for w, n in await conn.execute(
                    sa.select(m.worker, sa.func.count())
                    .where(m.status == MessageStatus.SENDING)
                    .group_by(m.worker)
                )
            }
        return OutboxGauges(
            depth, _age(oldest_due, now), _age(oldest_claim, now), int(expired or 0), claims
        )


def _age(at: datetime | None, now: datetime) -> float:
    return 0.0 if at is None else max(0.0, (now - at).total_seconds())
