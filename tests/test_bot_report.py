"""An officer reports through the bot; alerts reach their inboxes; acks move the progress.

The whole flow (report → preview → confirm → alerts with ack buttons → ack → progress)
runs on Bale (its Markdown, no parse_mode) and on Telegram (HTML), with hostile details
that every reader must see exactly as typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, confirm, report, wait_for

pytestmark = PTB_RETRY_AFTER

TYPED = "دود غلیظ <b>در سالن ۲</b>\x07 *فوری* [x](y) _ ``` `a` &amp; طبقهٔ اول"
SHOWN = TYPED.replace("\x07", "")  # control characters are cleaned, nothing else changes
# messenger: (officer's chat, staff's chat, someone else's, how the preview names it)
MODES = {"bale": (1001, 1002, 1003, "بله"), "telegram": (2001, 2002, 2001, "تلگرام")}


@pytest.mark.parametrize("messenger", list(MODES))
async def test_officer_reports_and_follows_delivery_and_acks(
    tmp_path: Path, messenger: str
) -> None:
    officer_id, staff_id, other_id, messenger_fa = MODES[messenger]
    async with World.open(tmp_path, messenger=messenger) as w:
        officer = w.chat(messenger, officer_id)
        await report(officer, TYPED)
        record, _ = await officer.button("ok", "the preview")
        preview = seen(record)
        _written_for(messenger, record)
        # The preview: counts per audience, channels, the press text, the next update.
        assert "پیش‌نمایش" in preview
        assert SHOWN in preview  # user text exactly as typed, never markup
        assert "۱ نفر" in preview and messenger_fa in preview and "ایمیل" in preview
        assert "Mini Works" in preview or "کارخانه کوچک" in preview
        assert "به‌روزرسانی بعدی" in preview
        assert await w.store.list_incidents() == []  # nothing stored before Confirm

        incident_id = await confirm(officer)
        row = await w.store.get_incident(incident_id)
        assert row is not None and row.source == f"bot:{messenger}"
        assert row.reporter == "officer.a"
        assert row.details == SHOWN  # stored as typed, cleaned

        # What the playbook says reaches the inboxes: staff on the messenger, the press
        # by email (approved statement).
        await wait_for(
            lambda: w.sb.inbox.query(service=messenger, to=str(staff_id)), "the staff alert"
        )
        await wait_for(
            lambda: w.sb.inbox.query(service="smtp", to="desk@example.com"), "the press email"
        )

        # One progress message, edited in place as things happen.
        progress = await officer.said("📊")
        staff = w.chat(messenger, staff_id)
        alert = await wait_for(
            lambda: next(
                (m for m in staff.messages() if any(d.startswith("ack:") for _, d in buttons(m))),
                None,
            ),
            "the ack button under the staff alert",
        )
        _written_for(messenger, alert)
        assert SHOWN in seen(alert)
        data = next(d for _, d in buttons(alert) if d.startswith("ack:"))

        # Someone else pressing staff.b's button is refused and nothing is recorded.
        other = staff.press(alert["message_id"], data, user_id=other_id)
        refusal = await staff.answer(other)
        assert "not yours" in refusal or "مال شما نیست" in refusal
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
        _written_for(messenger, edited)
        assert "✅ دریافت شد ساعت" in seen(edited)
        assert SHOWN in seen(edited)  # the alert as it was, stamped
        acked = [m for m in await w.messages(incident_id) if m.recipient == "staff.b"]
        assert acked and all(m.acked_at is not None for m in acked)

        await wait_for(
            lambda: "تأیید ۱ از ۱" in seen(_record(officer, progress["message_id"])),
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


def _written_for(messenger: str, record: dict[str, Any]) -> None:
    """Telegram is sent HTML; Bale is never sent a parse_mode, nor an HTML tag of ours."""
    if messenger == "telegram":
        assert record["parse_mode"] == "HTML"
    else:
        assert record["parse_mode"] is None
        assert "</b>" not in str(record["text"]).replace("&lt;/b&gt;", "").replace(
            "<b>در سالن ۲</b>", ""
        )


def _record(chat: Chat, message_id: int) -> dict[str, Any]:
    return next(m for m in chat.messages() if m["message_id"] == message_id)


def _edits(chat: Chat, message_id: int) -> int:
    edits = _record(chat, message_id)["edits"]
    assert isinstance(edits, list)
    return len(edits)
