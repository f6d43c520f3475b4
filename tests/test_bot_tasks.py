"""/tasks: follow-up tasks under a heading per incident, a button that marks one done; done
tasks and the tasks of a resolved incident leave the list and are not reminded again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from crisisd.domain import IncidentReport, Purpose
from crisisd.scheduler.jobs import Scheduler
from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, wait_for

pytestmark = PTB_RETRY_AFTER
TASK = "گزارش به تأمین اجتماعی"


async def _tasks(chat: Chat) -> dict[str, Any]:
    before = chat.last_id()
    chat.write("/tasks")
    found: dict[str, Any] = await chat.said("کار", after=before)
    return found


async def _reminded(w: World, incident_id: str) -> list[str]:
    """The reminder texts the officer would read about this incident's tasks."""
    return [
        m.rendering(next(iter(m.renderings))).text
        for m in await w.messages(incident_id)
        if m.purpose == Purpose.NOTICE and "task-" in m.key
    ]


async def test_a_task_marked_done_leaves_the_list_and_its_reminders_stop(
    tmp_path: Path,
) -> None:
    async with World.open(tmp_path) as w:
        first = await w.service.open(IncidentReport("mini", "fire", "major", "officer.a"))
        second = await w.service.open(IncidentReport("mini", "fire", "major", "officer.a"))
        officer = w.chat("bale", 1001)

        listing = await _tasks(officer)
        shown = seen(listing)
        assert shown.count(TASK) == 2
        assert first.incident_id in shown and second.incident_id in shown  # a heading each
        assert "آتش‌سوزی" in shown and "کارخانه کوچک" in shown
        labels = buttons(listing)
        assert [label for label, _ in labels] == [f"✔️ انجام شد: {TASK}"] * 2

        # The first incident's task is done: the list is edited to what is left.
        tasks = {t.incident_id: t for t in await w.store.tasks_of(None)}
        data = f"task:{tasks[first.incident_id].id}"
        assert data in [d for _, d in labels]
        answer = await officer.answer(officer.press(listing["message_id"], data))
        assert "ثبت شد" in answer and TASK in answer
        edited = await wait_for(
            lambda: next(
                (
                    m
                    for m in officer.messages()
                    if m["message_id"] == listing["message_id"] and len(buttons(m)) == 1
                ),
                None,
            ),
            "the list without the done task",
        )
        assert first.incident_id not in seen(edited)
        assert second.incident_id in seen(edited)
        again = await officer.answer(officer.press(listing["message_id"], data))
        assert "پیش‌تر انجام شده" in again  # pressing twice changes nothing
        audit = [e.action for e in await w.store.audit_of(first.incident_id)]
        assert audit.count("task.done") == 1

        # Reminders early on the deadline's day: only the task still owed.
        due = tasks[second.incident_id].due_at  # 23:59:59 of a working day
        w.service.clock = lambda: due - timedelta(hours=23, minutes=59)
        await Scheduler(w.ctx).task_reminders()
        assert await _reminded(w, first.incident_id) == []
        assert any(TASK in text for text in await _reminded(w, second.incident_id))

        # The second incident is resolved: its task leaves the list, and late that day (when
        # an open task would be reminded again) nothing more comes.
        await w.service.resolve(second.incident_id, "officer.a")
        assert "انجام‌نشده‌ای نمانده" in seen(await _tasks(officer))
        w.service.clock = lambda: due - timedelta(minutes=1)
        await Scheduler(w.ctx).task_reminders()
        assert len(await _reminded(w, second.incident_id)) == 1


async def test_an_officer_of_another_factory_cannot_close_a_task(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        opened = await w.service.open(IncidentReport("mini", "fire", "major", "officer.a"))
        (task,) = await w.store.tasks_of(opened.incident_id)
        other = w.chat("bale", 1005)  # officer.z: "other" only
        listing = await _tasks(other)
        assert TASK not in seen(listing)
        answer = await other.answer(other.press(listing["message_id"], f"task:{task.id}"))
        assert "پیش‌تر انجام شده" in answer  # the same as for a task that is not there
        (still,) = await w.store.tasks_of(opened.incident_id)
        assert still.done_at is None
