"""Delivery receipts of sent SMS: which ones still need asking, what the providers said.

A :class:`ReceiptLedger` works on a :class:`~crisisd.store.Store`'s engine and write gate
(composition: the store's core stays untouched). The poller (``crisisd.scheduler.receipts``)
asks it for SMS sent recently whose receipt is not final, asks the gateways, and records
the answers; a state that becomes final is written to the audit trail too, so the incident
report shows when each message reached (or failed to reach) its phone.

SMS that did not reach the phone go back to the outbox on the person's next channel
(:meth:`ReceiptLedger.fail_over`; the poller decides which).

States are plain strings here (the store knows no channel): ``delivered``, ``undelivered``,
``expired`` (final), ``pending``, ``unknown`` (asked again later) and ``untracked`` (the
gateway has no status API; never asked again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from crisisd.store.core import Store
from crisisd.store.tables import attempts, audit, messages, receipts

REACHED = ("delivered", "undelivered", "expired")  # the provider's final word
FINAL = (*REACHED, "untracked")  # never asked again
STATES = ("delivered", "undelivered", "expired", "pending", "unknown", "untracked")
_DETAIL = 200  # receipts.detail column


@dataclass(frozen=True, slots=True)
class Awaiting:
    """A sent SMS whose delivery is not known yet."""

    message_id: int
    incident_id: str
    recipient: str
    provider_id: str
    sent_at: datetime
    state: str | None  # the last state recorded, None before the first answer
    ack_required: bool = False


@dataclass(frozen=True, slots=True)
class Moved:
    """A sent SMS that did not reach its phone, put back in the outbox on the next channel."""

    message_id: int
    incident_id: str
    recipient: str
    to_channel: str


@dataclass(frozen=True, slots=True)
class Answer:
    """What a provider said about one message (``state`` is one of :data:`STATES`)."""

    message_id: int
    state: str
    at: datetime | None = None  # the provider's time for the state
    detail: str = ""


class ReceiptLedger:
    """Receipts of one store (see the module docstring)."""

    def __init__(self, store: Store, channel: str = "sms") -> None:
        self.store = store
        self.channel = channel  # the configured name of the SMS channel

    async def awaiting(
        self, sent_after: datetime, checked_before: datetime, limit: int = 500
    ) -> list[Awaiting]:
        """SMS sent after ``sent_after`` with no final receipt and not asked since
        ``checked_before``, oldest first."""
        m, r = messages, receipts
        query = (
            sa.select(
                m.c.id,
                m.c.incident_id,
                m.c.recipient,
                m.c.provider_id,
                m.c.sent_at,
                r.c.state,
                m.c.ack_required,
            )
            .select_from(m.outerjoin(r, r.c.message_id == m.c.id))
            .where(
                m.c.sent_channel == self.channel,
                m.c.sent_at >= sent_after,
                m.c.status == "sent",
                m.c.provider_id.is_not(None),
                sa.or_(
                    r.c.message_id.is_(None),
                    sa.and_(r.c.state.not_in(FINAL), r.c.checked_at <= checked_before),
                ),
            )
            .order_by(m.c.sent_at, m.c.id)
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Awaiting(*row) for row in rows]

    async def record(
        self, asked: Sequence[Awaiting], answers: Mapping[int, Answer], now: datetime
    ) -> list[Awaiting]:
        """Store what the providers said about ``asked`` (ids without an answer only count
        as checked). Returns the messages the provider gave its final word on just now
        (delivered, undelivered, expired), each of which also gets an audit entry
        ``receipt.<state>``."""
        if not asked:
            return []
        fresh = [a for a in asked if a.state is None]
        seen = [a for a in asked if a.state is not None]
        final = [
            a for a in asked if a.message_id in answers and answers[a.message_id].state in REACHED
        ]
        async with self.store.write(urgent=False) as conn:
            if fresh:
                rows = [self._row(a, answers, now) for a in fresh]
                await conn.execute(sa.insert(receipts), rows)
            if seen:
                await conn.execute(self._update(), [self._params(a, answers, now) for a in seen])
            if final:
                trail = [self._audit(a, answers[a.message_id], now) for a in final]
                await conn.execute(sa.insert(audit), trail)
        return final

    async def fail_over(self, ids: Sequence[int], reason: str, now: datetime) -> list[Moved]:
        """Put sent SMS that did not reach the phone back in the outbox, due now, on the
        person's next channel (a fresh retry budget, like any failover). A message that was
        acknowledged meanwhile, or whose SMS was its last channel, stays as it is. Each move
        is an attempt ``failover`` (with the SMS's provider id, which the message row
        forgets until its next send) and an audit entry ``delivery.failover``."""
        m = messages
        query = sa.select(
            m.c.id, m.c.incident_id, m.c.recipient, m.c.channels, m.c.channel_index,
            m.c.provider_id,
        ).where(
            m.c.id.in_(list(ids)), m.c.status == "sent", m.c.sent_channel == self.channel,
            m.c.acked_at.is_(None),
        )  # fmt: skip
        moved: list[Moved] = []
        async with self.store.write() as conn:
            for row in (await conn.execute(query)).all():
                step = row.channel_index + 1
                if step >= len(row.channels):
                    continue
                changed = await conn.execute(
                    sa.update(m)
                    .where(m.c.id == row.id, m.c.status == "sent", m.c.channel_index == step - 1)
                    .values(
                        status="pending", channel_index=step, channel=row.channels[step],
                        not_before=now, attempts=0, last_error=reason, lease_until=None,
                        worker=None, sent_at=None, sent_channel=None, provider_id=None,
                    )
                )  # fmt: skip
                if changed.rowcount:
                    moved.append(Moved(row.id, row.incident_id, row.recipient, row.channels[step]))
                    await self._moved(conn, moved[-1], row.provider_id, reason, now)
        return moved

    async def _moved(
        self, conn: AsyncConnection, moved: Moved, provider_id: str, reason: str, now: datetime
    ) -> None:
        attempt = {"message_id": moved.message_id, "channel": self.channel, "at": now}
        attempt |= {"outcome": "failover", "provider_id": provider_id, "reason": reason}
        await conn.execute(sa.insert(attempts), [attempt])
        detail = {"message_id": moved.message_id, "recipient": moved.recipient}
        detail |= {"from": self.channel, "to": moved.to_channel, "reason": reason}
        entry = {"incident_id": moved.incident_id, "at": now, "actor": "crisisd"}
        entry |= {"action": "delivery.failover", "channel": self.channel, "detail": detail}
        await conn.execute(sa.insert(audit), [entry])

    async def counts(self, incident_id: str) -> dict[str, int]:
        """An incident's sent SMS by receipt state (``unknown`` before the first answer)."""
        states = await self.states(incident_id)
        return dict(Counter(states.values()))

    async def states(self, incident_id: str) -> dict[int, str]:
        """The receipt state of each SMS the incident sent, by message id."""
        m, r = messages, receipts
        query = (
            sa.select(m.c.id, r.c.state)
            .select_from(m.outerjoin(r, r.c.message_id == m.c.id))
            .where(
                m.c.incident_id == incident_id,
                m.c.sent_channel == self.channel,
                m.c.status == "sent",
            )
        )
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {int(mid): str(state or "unknown") for mid, state in rows}

    # -- rows -------------------------------------------------------------------------

    @staticmethod
    def _row(a: Awaiting, answers: Mapping[int, Answer], now: datetime) -> dict[str, object]:
        answer = answers.get(a.message_id)
        return {
            "message_id": a.message_id,
            "provider_id": a.provider_id,
            "state": answer.state if answer else "unknown",
            "state_at": answer.at if answer else None,
            "detail": (answer.detail if answer else "")[:_DETAIL],
            "checked_at": now,
            "checks": 1,
        }

    @staticmethod
    def _update() -> sa.Update:
        r = receipts

        def keep(name: str, column: sa.Column[object]) -> sa.ColumnElement[object]:
            # an id the provider did not answer about keeps what it had
            return sa.func.coalesce(sa.bindparam(name, type_=column.type), column)

        return (
            sa.update(r)
            .where(r.c.message_id == sa.bindparam("b_id"))
            .values(
                state=keep("b_state", r.c.state),
                state_at=keep("b_at", r.c.state_at),
                detail=keep("b_detail", r.c.detail),
                checked_at=sa.bindparam("b_checked"),
                checks=r.c.checks + 1,
            )
        )

    @staticmethod
    def _params(a: Awaiting, answers: Mapping[int, Answer], now: datetime) -> dict[str, object]:
        answer = answers.get(a.message_id)
        return {
            "b_id": a.message_id,
            "b_state": answer.state if answer else None,
            "b_at": answer.at if answer else None,
            "b_detail": answer.detail[:_DETAIL] if answer else None,
            "b_checked": now,
        }

    def _audit(self, a: Awaiting, answer: Answer, now: datetime) -> dict[str, object]:
        detail: dict[str, object] = {"message_id": a.message_id, "recipient": a.recipient}
        detail |= {"provider_id": a.provider_id, "provider_state": answer.detail}
        detail |= {"provider_at": answer.at.isoformat() if answer.at else None}
        return {
            "incident_id": a.incident_id,
            "at": now,
            "actor": "crisisd",
            "action": f"receipt.{answer.state}",
            "channel": self.channel,
            "detail": detail,
        }
