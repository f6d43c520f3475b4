"""Roll calls in the store: the questions (outbox messages of purpose roll_call) and the
append-only log of answers, refusals and reports (``roll_call_events``).

Every event is written with its audit entry in one transaction. An event that names its
source (a gateway and the provider's message id) is written once: an inbound SMS polled
twice, or posted twice to the webhook, is recorded the first time only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.domain import Answer, IncidentStatus, MessageStatus, Purpose
from crisisd.formats.phones import mask_phone
from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.tables import audit, incidents, messages, roll_call_events

LIVE = (IncidentStatus.OPEN, IncidentStatus.TAKEN_OVER)
_Q_COLUMNS = (
    messages.c.incident_id,
    messages.c.key,
    messages.c.recipient,
    messages.c.audience,
    messages.c.step,
    messages.c.status,
    messages.c.channels,
    messages.c.channel,
    messages.c.sent_channel,
    messages.c.not_before,
    messages.c.sent_at,
)


@dataclass(frozen=True, slots=True)
class Question:
    incident_id: str
    contact: str
    audience: str
    step: int
    round: int
    status: MessageStatus
    channels: tuple[str, ...]
    channel: str
    not_before: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, r: Any) -> Question:
        return cls(
            r.incident_id,
            r.recipient,
            r.audience,
            r.step,
            int(r.key.split("/")[2]),
            MessageStatus(r.status),
            tuple(r.channels or ()),
            r.sent_channel or r.channel,
            r.not_before,
            r.sent_at,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One row of ``roll_call_events``."""

    incident_id: str | None
    contact: str | None
    kind: str  # answer | reported | refused | escalated (the call for help was planned)
    outcome: str
    via: str
    at: datetime
    answer: Answer | None = None
    location: str = ""
    sender: str | None = None
    text: str = ""
    source: str | None = None
    source_id: str | None = None

    @classmethod
    def from_row(cls, r: Any) -> Event:
        fields = {f: getattr(r, f) for f in cls.__slots__}
        fields["answer"] = Answer(r.answer) if r.answer else None
        return cls(**fields)


class RollCallBook:
    """The roll-call questions and events of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @store_operation("record roll-call events")
    async def add(self, events: Sequence[Event]) -> list[bool]:
        """Write ``events``, each with its audit entry; returns, per event, whether it was
        new (one whose source was recorded before is left out, audit entry and all)."""
        e = roll_call_events
        async with self.store.write() as conn:
            ids = [ev.source_id for ev in events if ev.source_id is not None]
            seen: set[tuple[str | None, str | None]] = set()
            if ids:
                found = await conn.execute(
                    sa.select(e.c.source, e.c.source_id).where(e.c.source_id.in_(ids))
                )
                seen = {(s, i) for s, i in found}
            new: list[bool] = []
            for ev in events:
                key = (ev.source, ev.source_id)
                new.append(ev.source_id is None or key not in seen)
                seen.add(key)
            fresh = [ev for ev, ok in zip(events, new, strict=True) if ok]
            if fresh:
                await conn.execute(sa.insert(e), [_values(ev) for ev in fresh])
                await conn.execute(sa.insert(audit), [_audit(ev) for ev in fresh])
        return new

    @store_operation("read a roll call")
    async def questions(self, incident_id: str) -> list[Question]:
        query = sa.select(*_Q_COLUMNS).where(
            messages.c.incident_id == incident_id, messages.c.purpose == Purpose.ROLL_CALL
        )
        async with self.engine.connect() as conn:
            return [Question.from_row(r) for r in await conn.execute(query)]

    @store_operation("read the open roll calls")
    async def open_questions(self) -> dict[str, list[Question]]:
        """The questions of every incident still open, by incident."""
        query = (
            sa.select(*_Q_COLUMNS)
            .join(incidents, incidents.c.id == messages.c.incident_id)
            .where(messages.c.purpose == Purpose.ROLL_CALL, incidents.c.status.in_(LIVE))
        )
        out: dict[str, list[Question]] = {}
        async with self.engine.connect() as conn:
            for r in await conn.execute(query):
                out.setdefault(r.incident_id, []).append(Question.from_row(r))
        return out

    @store_operation("find the question a reply answers")
    async def latest_to(self, contacts: Iterable[str], limit: int | None = 20) -> list[Question]:
        """The newest questions to ``contacts`` (any incident), newest first."""
        query = (
            sa.select(*_Q_COLUMNS)
            .where(
                messages.c.purpose == Purpose.ROLL_CALL,
                messages.c.recipient.in_(list(contacts)),
            )
            .order_by(messages.c.not_before.desc(), messages.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [Question.from_row(r) for r in await conn.execute(query)]

    @store_operation("read roll-call answers")
    async def events(self, incident_id: str) -> list[Event]:
        e = roll_call_events
        query = sa.select(e).where(e.c.incident_id == incident_id).order_by(e.c.id)
        async with self.engine.connect() as conn:
            return [Event.from_row(r) for r in await conn.execute(query)]

    @store_operation("read roll-call refusals")
    async def refused(self, limit: int = 100) -> list[Event]:
        """Inbound replies that matched no one (newest first), for the audit page."""
        e = roll_call_events
        query = sa.select(e).where(e.c.kind == "refused").order_by(e.c.id.desc()).limit(limit)
        async with self.engine.connect() as conn:
            return [Event.from_row(r) for r in await conn.execute(query)]


def _values(ev: Event) -> dict[str, object]:
    values: dict[str, object] = {f: getattr(ev, f) for f in Event.__slots__}
    values["answer"] = ev.answer.value if ev.answer is not None else None
    values["text"] = ev.text[:1000]
    values["location"] = ev.location[:300]
    return values


def _audit(ev: Event) -> dict[str, object]:
    """The audit entry of an event: who, what, how; the sender's number masked."""
    detail: dict[str, object] = {"contact": ev.contact, "outcome": ev.outcome}
    if ev.answer is not None:
        detail["answer"] = ev.answer.value
    if ev.location:
        detail["location"] = ev.location[:300]
    if ev.sender:
        detail["sender"] = mask_phone(ev.sender) if ev.sender.startswith("+") else "***"
    if ev.text and ev.kind == "refused":
        detail["text"] = ev.text[:160]
    return {
        "incident_id": ev.incident_id,
        "at": ev.at,
        "actor": ev.contact or "crisisd",
        "action": f"rollcall.{ev.kind}",
        "channel": ev.via,
        "detail": detail,
    }
