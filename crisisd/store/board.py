"""The dashboard's read side: pages of incidents with their delivery and ack counts,
overdue tasks and drill ack rates per factory. Every query is paged or grouped, so a
store of 10,000 incidents answers one page without reading the rest."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from crisisd.domain import IncidentStatus, MessageStatus, Purpose
from crisisd.store.core import Store
from crisisd.store.driver_errors import store_operation
from crisisd.store.records import IncidentRow, TaskRow
from crisisd.store.tables import incidents, messages, tasks

RECORD_TYPE = "enrolment"  # enrolment records (invites, notices, sign-in codes): not incidents
OPEN = (IncidentStatus.OPEN, IncidentStatus.TAKEN_OVER)


@dataclass(frozen=True, slots=True)
class Tally:
    """One incident's messages to people (notices to officers left out)."""

    messages: int = 0  # not cancelled
    sent: int = 0
    failed: int = 0
    asked: int = 0  # messages that ask for an acknowledgement
    acked: int = 0

    @property
    def sent_pct(self) -> float | None:
        return None if not self.messages else 100.0 * self.sent / self.messages

    @property
    def acked_pct(self) -> float | None:
        return None if not self.asked else 100.0 * self.acked / self.asked


@dataclass(frozen=True, slots=True)
class Page:
    rows: tuple[IncidentRow, ...]
    total: int


class BoardReads:
    """Read-only queries for the dashboard and the CAP feed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @store_operation("read a page of incidents")
    async def page(
        self,
        *,
        factories: Collection[str] | None,
        statuses: Sequence[str] | None = None,
        drill: bool | None = None,
        limit: int = 50,
        offset: int = 0,
        order: str = "opened",
    ) -> Page:
        """Incidents (never enrolment records), newest first, ``limit`` from ``offset``."""
        cond: list[sa.ColumnElement[bool]] = [incidents.c.incident_type != RECORD_TYPE]
        if factories is not None:
            cond.append(incidents.c.factory.in_(list(factories)))
        if statuses is not None:
            cond.append(incidents.c.status.in_(list(statuses)))
        if drill is not None:
            cond.append(incidents.c.drill.is_(drill))
        key = incidents.c.updated_at if order == "updated" else incidents.c.opened_at
        query = (
            sa.select(incidents)
            .where(*cond)
            .order_by(key.desc(), incidents.c.id)
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(incidents).where(*cond)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            total = int(await conn.scalar(count) or 0)
        return Page(tuple(IncidentRow.from_row(r) for r in rows), total)

    @store_operation("count incidents' messages")
    async def tallies(self, incident_ids: Collection[str]) -> dict[str, Tally]:
        """Per incident: messages to people, how many were sent, asked to ack, acked."""
        if not incident_ids:
            return {}
        m = messages.c
        sent = sa.case((m.status == MessageStatus.SENT.value, 1), else_=0)
        failed = sa.case((m.status == MessageStatus.FAILED.value, 1), else_=0)
        asked = sa.case((m.ack_required.is_(True), 1), else_=0)
        acked = sa.case((m.acked_at.is_not(None), 1), else_=0)
        query = (
            sa.select(
                m.incident_id,
                sa.func.count(),
                sa.func.sum(sent),
                sa.func.sum(failed),
                sa.func.sum(asked),
                sa.func.sum(acked),
            )
            .where(
                m.incident_id.in_(list(incident_ids)),
                m.purpose != Purpose.NOTICE.value,
                m.status != MessageStatus.CANCELLED.value,
            )
            .group_by(m.incident_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            r[0]: Tally(int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0), int(r[5] or 0))
            for r in rows
        }

    @store_operation("count overdue tasks")
    async def overdue_tasks(self, now: datetime) -> dict[str, int]:
        """Open follow-up tasks past their due time, per factory."""
        query = (
            sa.select(incidents.c.factory, sa.func.count())
            .select_from(tasks.join(incidents, tasks.c.incident_id == incidents.c.id))
            .where(tasks.c.done_at.is_(None), tasks.c.due_at < now)
            .group_by(incidents.c.factory)
        )
        async with self.engine.connect() as conn:
            return {f: int(n) for f, n in (await conn.execute(query)).all()}

    @store_operation("read the last drills")
    async def last_drills(self, factory: str, n: int = 2) -> list[IncidentRow]:
        got = await self.page(factories=[factory], drill=True, limit=n)
        return list(got.rows)

    @store_operation("read an incident's tasks")
    async def tasks_of(self, incident_id: str) -> list[TaskRow]:
        query = sa.select(tasks).where(tasks.c.incident_id == incident_id).order_by(tasks.c.due_at)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [TaskRow(**{f: getattr(r, f) for f in TaskRow.__slots__}) for r in rows]
