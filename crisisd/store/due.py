"""What comes due for the scheduler: press updates, drill scores, follow-up tasks; and the
officer marking a task done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from crisisd.domain import IncidentStatus
from crisisd.store.driver_errors import store_operation
from crisisd.store.engine import Transactions
from crisisd.store.records import AuditEntry, IncidentRow, TaskRow
from crisisd.store.tables import audit, incidents, tasks

_LIVE = [IncidentStatus.OPEN, IncidentStatus.TAKEN_OVER]


class DueMixin(Transactions):
    """The scheduler's queries of :class:`crisisd.store.Store`."""

    @store_operation("look for press updates that are due")
    async def updates_due(self, before: datetime) -> list[IncidentRow]:
        """Open incidents whose next press update is due before ``before``."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(incidents).where(
                        incidents.c.status.in_(_LIVE),
                        incidents.c.next_update_at.is_not(None),
                        incidents.c.next_update_at <= before,
                    )
                )
            ).all()
        return [IncidentRow.from_row(r) for r in rows]

    @store_operation("look for drills to score")
    async def drills_to_report(self, now: datetime) -> list[IncidentRow]:
        """Drills whose window has closed and whose score has not been sent yet."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(incidents).where(
                        incidents.c.drill.is_(True),
                        incidents.c.reported.is_(False),
                        incidents.c.drill_window_end.is_not(None),
                        incidents.c.drill_window_end <= now,
                    )
                )
            ).all()
        return [IncidentRow.from_row(r) for r in rows]

    @store_operation("mark a drill as scored")
    async def mark_reported(self, incident_id: str) -> None:
        async with self.write() as conn:
            await conn.execute(
                sa.update(incidents).where(incidents.c.id == incident_id).values(reported=True)
            )

    @store_operation("look for tasks that are due")
    async def tasks_due(self, before: datetime, reminded_before: datetime) -> list[TaskRow]:
        """Open tasks of open incidents due before ``before`` not reminded since
        ``reminded_before`` (a done task, or one of a resolved incident, is not reminded)."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    _live_tasks().where(
                        tasks.c.done_at.is_(None),
                        tasks.c.due_at <= before,
                        sa.or_(
                            tasks.c.reminded_at.is_(None), tasks.c.reminded_at < reminded_before
                        ),
                    )
                )
            ).all()
        return [TaskRow(**r._mapping) for r in rows]

    @store_operation("read a task")
    async def task(self, task_id: int) -> TaskRow | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(tasks).where(tasks.c.id == task_id))).first()
        return None if row is None else TaskRow(**row._mapping)

    @store_operation("mark a task done")
    async def complete_task(self, task_id: int, at: datetime, entry: AuditEntry) -> bool:
        """Mark a task done and write ``entry``, in one transaction. False (nothing written)
        when it was done already."""
        async with self.write() as conn:
            done = await conn.execute(
                sa.update(tasks)
                .where(tasks.c.id == task_id, tasks.c.done_at.is_(None))
                .values(done_at=at)
            )
            if done.rowcount != 1:
                return False
            await conn.execute(
                sa.insert(audit).values(
                    incident_id=entry.incident_id,
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    channel=entry.channel,
                    detail=entry.detail or {},
                )
            )
        return True

    @store_operation("mark a task")
    async def mark_task(
        self, task_id: int, *, reminded: datetime | None = None, done: datetime | None = None
    ) -> None:
        values: dict[str, Any] = {}
        if reminded is not None:
            values["reminded_at"] = reminded
        if done is not None:
            values["done_at"] = done
        async with self.write() as conn:
            await conn.execute(sa.update(tasks).where(tasks.c.id == task_id).values(**values))

    @store_operation("read the tasks")
    async def tasks_of(
        self, incident_id: str | None = None, open_only: bool = True, live_only: bool = False
    ) -> list[TaskRow]:
        """Tasks by due time; ``open_only``: not done; ``live_only``: of open incidents."""
        query = (_live_tasks() if live_only else sa.select(tasks)).order_by(tasks.c.due_at)
        if incident_id is not None:
            query = query.where(tasks.c.incident_id == incident_id)
        if open_only:
            query = query.where(tasks.c.done_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [TaskRow(**r._mapping) for r in rows]


def _live_tasks() -> sa.Select[tuple[object, ...]]:
    """Tasks of incidents still open (or taken over): a resolved incident's are not owed."""
    return (
        sa.select(*tasks.c)
        .join(incidents, incidents.c.id == tasks.c.incident_id)
        .where(incidents.c.status.in_(_LIVE))
    )
