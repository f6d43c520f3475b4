"""What delivery says about reaching people: the read side of reachability.

The dispatcher records every try as an attempt (sent, retry, failover, failed, with the
channel's reason) and never needs to know about bindings. :class:`ReachLedger` reads those
records back: new attempts for the reach watch (a refused chat makes its binding stale, a
delivery moves ``last_delivery_at``), and per person the last delivery on each channel,
the last refusal and the last SMS receipt for `crisisd contacts`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import attempts, messages, receipts

FAILURES = ("failover", "failed")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One recorded try to reach ``recipient`` on ``channel``."""

    id: int
    at: datetime
    channel: str
    outcome: str  # sent | retry | failover | failed
    reason: str | None
    recipient: str
    provider_id: str | None  # a failover with one: an SMS the receipts said did not arrive


class ReachLedger:
    """Reachability facts of one store (read only)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @store_operation("read delivery attempts")
    async def attempts_after(
        self, after_id: int, channels: Sequence[str], limit: int = 2000
    ) -> list[Attempt]:
        """Attempts on ``channels`` recorded after ``after_id``, oldest first."""
        a, m = attempts, messages
        query = (
            sa.select(a.c.id, a.c.at, a.c.channel, a.c.outcome, a.c.reason, m.c.recipient)
            .add_columns(a.c.provider_id)
            .select_from(a.join(m, m.c.id == a.c.message_id))
            .where(a.c.id > after_id, a.c.channel.in_(list(channels)))
            .order_by(a.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Attempt(*row) for row in rows]

    @store_operation("read the last deliveries")
    async def last_sent(self, contacts: Collection[str]) -> dict[tuple[str, str], datetime]:
        """(contact, channel) -> when a message to them last went out on it."""
        m = messages
        query = (
            sa.select(m.c.recipient, m.c.sent_channel, sa.func.max(m.c.sent_at))
            .where(m.c.status == "sent", m.c.recipient.in_(list(contacts)))
            .group_by(m.c.recipient, m.c.sent_channel)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out: dict[tuple[str, str], datetime] = {}
        for recipient, channel, at in rows:
            if channel is not None and at is not None:
                out[(recipient, channel)] = _aware(at)
        return out

    @store_operation("read the last refusals")
    async def last_refusals(
        self, contacts: Collection[str], since: datetime
    ) -> dict[tuple[str, str], Attempt]:
        """(contact, channel) -> the newest try since ``since`` the channel gave up on
        (failover or failed at send time; not an SMS the receipts moved)."""
        a, m = attempts, messages
        query = (
            sa.select(a.c.id, a.c.at, a.c.channel, a.c.outcome, a.c.reason, m.c.recipient)
            .add_columns(a.c.provider_id)
            .select_from(a.join(m, m.c.id == a.c.message_id))
            .where(
                m.c.recipient.in_(list(contacts)),
                a.c.outcome.in_(FAILURES),
                a.c.provider_id.is_(None),
                a.c.at >= since,
            )
            .order_by(a.c.id.desc())
        )
        out: dict[tuple[str, str], Attempt] = {}
        async with self.engine.connect() as conn:
            for row in (await conn.execute(query)).all():
                out.setdefault((row.recipient, row.channel), Attempt(*row))
        return out

    @store_operation("read the last SMS receipts")
    async def last_receipts(self, contacts: Collection[str]) -> dict[str, tuple[str, datetime]]:
        """contact -> (receipt state, sent at) of the newest SMS to them that has one."""
        m, r = messages, receipts
        query = (
            sa.select(m.c.recipient, r.c.state, m.c.sent_at)
            .select_from(r.join(m, m.c.id == r.c.message_id))
            .where(m.c.recipient.in_(list(contacts)))
            .order_by(m.c.sent_at.desc(), m.c.id.desc())
        )
        out: dict[str, tuple[str, datetime]] = {}
        async with self.engine.connect() as conn:
            for recipient, state, sent_at in (await conn.execute(query)).all():
                if sent_at is not None:
                    out.setdefault(recipient, (state, sent_at))
        return out


def _aware(at: datetime) -> datetime:
    # max() over a UTCDateTime column comes back through the column type on PostgreSQL
    # but as a naive value on SQLite: both are UTC.
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
