"""Follow-up tasks closed through the incident service, on SQLite and PostgreSQL: done once
(with its audit entry), then neither listed nor due; a resolved incident's tasks likewise."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crisisd.errors import NotFoundError, PermissionDeniedError
from crisisd.incidents import IncidentService
from crisisd.library.model import Library
from crisisd.store import Store
from tests.minitree import T0, Clock, report


async def test_a_task_is_done_once_and_then_owed_no_more(store: Store, library: Library) -> None:
    clock = Clock()
    svc = IncidentService(store, lambda: library, clock)
    opened = await svc.open(report())
    (task,) = await store.tasks_of(opened.incident_id)
    later = task.due_at + timedelta(days=1)
    assert [t.id for t in await store.tasks_due(later, later)] == [task.id]

    clock.at = T0 + timedelta(hours=2)
    done = await svc.complete_task(task.id, "officer.a")
    assert done.new and done.task.done_at == clock.at
    again = await svc.complete_task(task.id, "officer.a")
    assert not again.new and again.task.done_at == clock.at  # the first time stands

    assert await store.tasks_of(opened.incident_id) == []
    assert await store.tasks_due(later, later) == []
    entries = [e for e in await store.audit_of(opened.incident_id) if e.action == "task.done"]
    assert len(entries) == 1
    assert entries[0].actor == "officer.a"
    assert entries[0].detail is not None and entries[0].detail["task_id"] == task.id


async def test_a_resolved_incidents_tasks_are_not_owed(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    (task,) = await store.tasks_of(opened.incident_id, live_only=True)
    await svc.resolve(opened.incident_id, "officer.a")
    later = task.due_at + timedelta(days=1)
    assert await store.tasks_due(later, later) == []
    assert await store.tasks_of(opened.incident_id, live_only=True) == []
    # The incident's report still lists it, not done.
    (kept,) = await store.tasks_of(opened.incident_id, open_only=False)
    assert kept.done_at is None


async def test_only_an_officer_of_the_factory_closes_a_task(store: Store, library: Library) -> None:
    svc = IncidentService(store, lambda: library, Clock())
    opened = await svc.open(report())
    (task,) = await store.tasks_of(opened.incident_id)
    with pytest.raises(PermissionDeniedError):
        await svc.complete_task(task.id, "staff.b")
    with pytest.raises(NotFoundError, match="no follow-up task 9999"):
        await svc.complete_task(9999, "officer.a")
    assert (await svc.complete_task(task.id, "api:scada")).new  # the API acts for officers
