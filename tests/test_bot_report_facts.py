"""The report asks what the statements need: is anyone hurt, how many, and where; the
preview shows it, and the alerts carry it. Read off the chat (Bale's Markdown and
Telegram's HTML, as each reader sees it) and off what reached the staff member's chat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, confirm, wait_for

pytestmark = PTB_RETRY_AFTER
MODES = {"bale": (1001, 1002), "telegram": (2001, 2002)}


def _labels(record: dict[str, Any]) -> list[str]:
    return [text for text, _data in buttons(record)]


async def _live(chat: Chat, action: str) -> dict[str, Any]:
    record, _ = await chat.button(action)
    return record


@pytest.mark.parametrize("messenger", list(MODES))
async def test_casualties_count_and_place_reach_preview_and_alert(
    tmp_path: Path, messenger: str
) -> None:
    officer_id, staff_id = MODES[messenger]
    async with World.open(tmp_path, messenger=messenger) as w:
        officer = w.chat(messenger, officer_id)
        officer.write("/report")
        await officer.tap("t:0")
        await officer.tap("s:0")
        asked = await _live(officer, "k:1")
        assert "کسی آسیب دیده است؟" in seen(asked)
        assert _labels(asked)[:4] == [
            "✅ کسی آسیب ندیده",
            "🩹 مصدوم دارد",
            "🖤 جان‌باخته دارد",
            "❔ هنوز معلوم نیست",
        ]
        await officer.tap("k:1")  # injured
        count = await _live(officer, "n:2")
        assert "چند نفر؟" in seen(count)
        assert "۲" in _labels(count) and "⏭ رد شدن" in _labels(count)

        # A count is typed on a Persian keyboard; words are not a number.
        before = officer.last_id()
        officer.write("دو نفر")
        await officer.said("عددی از ۱ تا", after=before)
        officer.write("۲")
        place = await _live(officer, "l:0")
        assert place["message_id"] > count["message_id"]  # asked under the typed number
        assert "مصدوم: ۲ نفر" in seen(place)
        assert _labels(place)[:2] == ["انبار مواد اولیه", "سالن ۲"]
        await officer.tap("l:0")
        details = await officer.said("جزئیات را در یک پیام بنویسید")
        assert "📍 محل: انبار مواد اولیه" in seen(details)
        officer.write("آتش در قفسه‌های کاغذ")
        record, _ = await officer.button("ok", "the preview")
        preview = seen(record)
        assert "🩹 مصدوم: ۲ نفر" in preview
        assert "📍 محل: انبار مواد اولیه" in preview
        assert "آتش در قفسه‌های کاغذ" in preview

        # Changed from the preview: fatalities, one, a place typed; the details stay.
        await officer.tap("k")
        await officer.tap("k:2")
        await officer.tap("n:1")
        await officer.button("l", "the place question")
        officer.write("جلوی درِ ۳")
        record, _ = await officer.button("ok", "the preview again")
        preview = seen(record)
        assert "🖤 جان‌باخته: ۱ نفر" in preview
        assert "📍 محل: جلوی درِ ۳" in preview
        assert "آتش در قفسه‌های کاغذ" in preview
        assert "مصدوم: ۲" not in preview

        incident_id = await confirm(officer)
        row = await w.store.get_incident(incident_id)
        assert row is not None
        assert (row.casualties, row.location) == ("fatalities", "جلوی درِ ۳")
        staff = w.chat(messenger, staff_id)
        alert = await wait_for(
            lambda: next((m for m in staff.messages() if "جلوی درِ ۳" in seen(m)), None),
            "the staff alert",
        )
        assert "🩹 جان‌باخته ۱" in seen(alert)


async def test_an_english_officer_picks_a_place_each_reader_sees_in_their_language(
    tmp_path: Path,
) -> None:
    async with World.open(tmp_path) as w:
        officer = w.chat("bale", 1006)  # officer.y reads English, officer of two factories
        officer.write("/report")
        await officer.tap("f:0")
        await officer.tap("t:0")
        await officer.tap("s:0")
        asked = await _live(officer, "k:0")
        assert "Is anyone hurt?" in seen(asked)
        await officer.tap("k:0")  # no one is hurt: no count asked
        place = await _live(officer, "l:1")
        assert "How many?" not in seen(place)
        assert "🩹 No one is hurt" in seen(place)
        assert _labels(place)[:2] == ["Raw materials store", "Hall 2"]
        await officer.tap("l:0")
        officer.write("Smoke in the store")
        record, _ = await officer.button("ok", "the preview")
        assert "📍 Place: Raw materials store" in seen(record)
        await confirm(officer)
        staff = w.chat("bale", 1002)  # reads Persian
        alert = await wait_for(
            lambda: next((m for m in staff.messages() if "Smoke in the store" in seen(m)), None),
            "the staff alert",
        )
        assert "📍 انبار مواد اولیه" in seen(alert)
        assert "🩹 بدون مصدوم" in seen(alert)
