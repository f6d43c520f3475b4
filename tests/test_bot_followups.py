"""Follow-ups: a second report of the same kind becomes an update; /takeover, /status,
/tasks, /resolve; an abandoned conversation times out and says so."""

from __future__ import annotations

from pathlib import Path

from crisisd.bot import BotSettings
from crisisd.domain import IncidentReport
from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, wait_for

pytestmark = PTB_RETRY_AFTER


async def _confirm_and_wait(chat: Chat, needle: str) -> None:
    before = chat.last_id()
    await chat.tap("ok")
    await chat.said(needle, after=before)


async def test_update_takeover_status_tasks_resolve(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        opened = await w.service.open(
            IncidentReport("mini", "fire", "major", "officer.a", details="دود در سالن ۲")
        )
        iid = opened.incident_id
        w.kick()
        officer = w.chat("bale", 1001)

        # The same type at the same factory is open: the bot offers an update instead.
        officer.write("/report")
        await officer.tap("t:0")
        offer, data = await officer.button("u:0", "the offer to send an update instead")
        assert iid in offer["text"]
        officer.press(offer["message_id"], data)
        await officer.said("به‌روزرسانی شمارهٔ ۱")
        officer.write("آتش مهار شد؛ مصدومی نداریم")
        await officer.tap("p")  # the same text for everyone: straight to the preview
        preview, _ = await officer.button("ok", "the update preview")
        assert "پیش‌نمایش به‌روزرسانی" in preview["text"]
        assert "آتش مهار شد" in preview["text"]  # the statement exactly as it goes out
        await _confirm_and_wait(officer, f"به‌روزرسانی {iid} پذیرفته شد")
        updates = [m for m in await w.messages(iid) if m.purpose == "update"]
        assert {m.recipient for m in updates} == {"boss.c", "press.d"}
        await wait_for(
            lambda: any("آتش مهار شد" in d.text for d in w.sb.inbox.query(to="desk@example.com")),
            "the update at the press desk",
        )

        # The provincial HQ takes over: press gets the referral from now on.
        officer.write(f"/takeover {iid}")
        preview, _ = await officer.button("ok", "the takeover preview")
        assert "سخنگو" in preview["text"]
        await _confirm_and_wait(officer, "واگذاری")
        row = await w.store.get_incident(iid)
        assert row is not None and row.status == "taken_over"

        before = officer.last_id()
        officer.write("/status")
        listed = await officer.said("حادثه‌های باز", after=before)
        assert iid in listed["text"]
        before = officer.last_id()
        officer.write(f"/status {iid.lower()}")
        detail = await officer.said("وضعیت:", after=before)
        assert "در دست ستاد استان" in detail["text"]
        before = officer.last_id()
        officer.write("/tasks")
        tasks = await officer.said("تأمین اجتماعی", after=before)
        assert iid in tasks["text"]

        officer.write(f"/resolve {iid}")
        preview, _ = await officer.button("ok", "the all-clear preview")
        await _confirm_and_wait(officer, f"پایان حادثهٔ {iid}")
        row = await w.store.get_incident(iid)
        assert row is not None and row.status == "resolved"
        assert [m for m in await w.messages(iid) if m.purpose == "all_clear"]

        # Closed: nothing more can be done to it.
        before = officer.last_id()
        officer.write(f"/resolve {iid}")
        await officer.said("پیدا نشد", after=before)


async def test_abandoned_report_times_out_and_says_so(tmp_path: Path) -> None:
    settings = BotSettings(conversation_timeout=1.0)
    async with World.open(tmp_path, settings, dispatch=False) as w:
        officer = w.chat("bale", 1001)
        officer.write("/report")
        keyboard, data = await officer.button("t:0")
        await officer.said("⌛")
        bare = next(m for m in officer.messages() if m["message_id"] == keyboard["message_id"])
        assert buttons(bare) == []  # the old keyboard is gone
        late = officer.press(keyboard["message_id"], data)
        assert "مرحلهٔ قبلی" in await officer.answer(late)  # a late tap does nothing
        assert await w.store.list_incidents() == []

        # /cancel mid-way says nothing was sent.
        officer.write("/report")
        await officer.button("t:0")
        before = officer.last_id()
        officer.write("/cancel")
        await officer.said("لغو شد", after=before - 1)
        assert await w.store.list_incidents() == []
