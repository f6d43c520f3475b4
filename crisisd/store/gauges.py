"""What an operator watches on a shared outbox: depth, the oldest undelivered message, claims.

Read by every daemon (a few cheap aggregate queries over the outbox's partial indexes) and
shown on ``/metrics``; see docs/deploy.md for what to alert on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crisisd.domain import MessageStatus
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import ENDED, ENDED_UNSENT, messages, status_is

WAITING = (MessageStatus.PENDING, MessageStatus.SENDING)
COUNTED = (*WAITING, *ENDED)  # with sent, every status (tests/test_outbox_gauges.py)


@dataclass(frozen=True, slots=True)
class OutboxGauges:
    """One look at the outbox. Ages in seconds (0 when there is nothing of the kind)."""

    depth: dict[str, int] = field(default_factory=dict)  # messages by status
    oldest_undelivered: float = 0.0  # since the oldest due, unsent message became due
    oldest_claim: float = 0.0  # since the oldest message now claimed (sending) became due
    expired_claims: int = 0  # claimed, lease run out: a dead daemon's, waiting to be taken
    claims: dict[str, int] = field(default_factory=dict)  # messages in flight per worker id


def depth_statement() -> sa.Select[Any]:
    """Messages in all, then of each status but sent (:data:`COUNTED`), in one statement
    (one snapshot on every backend), each counted from an index: pending and sending from
    the claim's partial indexes, the statuses that ended unsent from ``ix_messages_ended``.
    Sent is the rest. The statuses every message passes through have no index entry that
    changing them rewrites (tables.py)."""
    counts = [sa.select(sa.func.count()).select_from(messages)]
    for status in COUNTED:
        cond: list[sa.ColumnElement[bool] | sa.TextClause] = [status_is(status)]
        if status in ENDED:
            cond.append(sa.text(ENDED_UNSENT))  # the index's condition, as it is written
        counts.append(sa.select(sa.func.count()).where(*cond))
    return sa.select(*(c.scalar_subquery() for c in counts))


async def read_depth(conn: AsyncConnection) -> dict[str, int]:
    """Messages by status (a status with none is left out)."""
    total, *each = (await conn.execute(depth_statement())).one()
    depth = {s.value: int(n) for s, n in zip(COUNTED, each, strict=True)}
    depth[MessageStatus.SENT.value] = int(total) - sum(depth.values())
    return {s: n for s, n in depth.items() if n}


class GaugeReader:
    """Reads :class:`OutboxGauges` from a store's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @store_operation("read the outbox gauges")
    async def read(self, now: datetime) -> OutboxGauges:
        m = messages.c
        sending = status_is(MessageStatus.SENDING)
        async with self.engine.connect() as conn:
            depth = await read_depth(conn)
            # each status on its own: the partial indexes serve one each
            due = [
                await conn.scalar(
                    sa.select(sa.func.min(m.not_before)).where(status_is(s), m.not_before <= now)
                )
                for s in WAITING
            ]
            oldest_claim = await conn.scalar(sa.select(sa.func.min(m.not_before)).where(sending))
            expired = await conn.scalar(
                sa.select(sa.func.count()).where(sending, m.lease_until < now)
            )
            claims = {
                str(w): int(n)
                for w, n in await conn.execute(
                    sa.select(m.worker, sa.func.count()).where(sending).group_by(m.worker)
                )
            }
        oldest_due = min((d for d in due if d is not None), default=None)
        return OutboxGauges(
            depth, _age(oldest_due, now), _age(oldest_claim, now), int(expired or 0), claims
        )


def _age(at: datetime | None, now: datetime) -> float:
    return 0.0 if at is None else max(0.0, (now - at).total_seconds())
