"""An officer reports through the bot; alerts reach their inboxes; acks move the progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, confirm, report, wait_for

pytestmark = PTB_RETRY_AFTER


async def test_officer_reports_and_follows_delivery_and_acks(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        officer = w.chat("bale", 1001)
        preview = await report(officer, "دود غلیظ <b>در سالن ۲</b>\x07 طبقهٔ اول")
        # The preview: counts per audience, channels, the press text, the next update.
        assert "پیش‌نمایش" in preview
        assert "&lt;b&gt;در سالن ۲&lt;/b&gt;" in preview  # user text escaped, never markup
        assert "\x07" not in preview  # control characters stripped
        assert "۱ نفر" in preview and "بله" in preview and "ایمیل" in preview
        assert "<blockquote expandable>" in preview  # the press statement, as it goes out
        assert "Mini Works" in preview or "کارخانه کوچک" in preview
        assert "به‌روزرسانی بعدی" in preview
        assert await w.store.list_incidents() == []  # nothing stored before Confirm

        incident_id = await confirm(officer)
        row = await w.store.get_incident(incident_id)
        assert row is not None and row.source == "bot:bale" and row.reporter == "officer.a"
        assert "\x07" not in row.details and "<b>" in row.details  # stored as typed, cleaned

        # What the playbook says reaches the inboxes: staff and management by Bale,
        # management by email too, the press by email (approved statement).
        await wait_for(lambda: w.sb.inbox.query(service="bale", to="1002"), "the staff alert")
        await wait_for(lambda: w.sb.inbox.query(service="bale", to="1003"), "the boss alert")
        await wait_for(
            lambda: w.sb.inbox.query(service="smtp", to="desk@example.com"), "the press email"
        )

        # One progress message, edited in place as things happen.
        progress = await officer.said("📊")
        staff = w.chat("bale", 1002)
        alert = await wait_for(
            lambda: next(
                (m for m in staff.messages() if any(d.startswith("ack:") for _, d in buttons(m))),
                None,
            ),
            "the ack button under the staff alert",
        )
        data = next(d for _, d in buttons(alert) if d.startswith("ack:"))

        # Someone else pressing staff.b's button is refused and nothing is recorded.
        other = staff.press(alert["message_id"], data, user_id=1003)
        assert "not yours" in await staff.answer(other)
        assert all(m.acked_at is None for m in await w.messages(incident_id))

        # staff.b presses: recorded once, answered, the alert says when, the button goes.
        mine = staff.press(alert["message_id"], data)
        assert "دریافت شد" in await staff.answer(mine)
        edited = await wait_for(
            lambda: next(
                (
                    m
                    for m in staff.messages()
                    if m["message_id"] == alert["message_id"] and not buttons(m)
                ),
                None,
            ),
            "the alert without its button",
        )
        assert "✅ دریافت شد ساعت" in edited["text"]
        acked = [m for m in await w.messages(incident_id) if m.recipient == "staff.b"]
        assert acked and all(m.acked_at is not None for m in acked)

        await wait_for(
            lambda: "تأیید ۱ از ۱" in _current(officer, progress["message_id"]),
            "the progress message showing the ack",
        )
        assert _edits(officer, progress["message_id"]) >= 1

        # Pressing again changes nothing.
        edits = len(edited["edits"])
        again = staff.press(alert["message_id"], data)
        assert "پیش‌تر" in await staff.answer(again)
        assert len(_record(staff, alert["message_id"])["edits"]) == edits
        audit = [e for e in await w.store.audit_of(incident_id) if e.action == "ack"]
        assert len(audit) == 1


def _record(chat: Chat, message_id: int) -> dict[str, Any]:
    return next(m for m in chat.messages() if m["message_id"] == message_id)


def _current(chat: Chat, message_id: int) -> str:
    return str(_record(chat, message_id)["text"])


def _edits(chat: Chat, message_id: int) -> int:
    edits = _record(chat, message_id)["edits"]
    assert isinstance(edits, list)
    return len(edits)
