"""/update, /resolve and /takeover without typing an ID; an update worded per group and
language, with "send now"; the all-clear preview naming exactly who gets it.

Read off the officer's chat as it is shown, and off the emails the sandbox's SMTP inbox
received (the update's readers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crisisd.domain import IncidentReport, Purpose
from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, Chat, World, buttons, wait_for
from tests.recording import deliver_due

pytestmark = PTB_RETRY_AFTER
FIRE = IncidentReport("mini", "fire", "major", "officer.a", details="آتش در سالن ۲")
LEAK = IncidentReport("mini", "leak", "minor", "officer.a", details="بوی گاز")


def _labels(record: dict[str, Any]) -> list[str]:
    return [text for text, _ in buttons(record)]


async def _ask(chat: Chat, command: str, needle: str) -> dict[str, Any]:
    before = chat.last_id()
    chat.write(command)
    found: dict[str, Any] = await chat.said(needle, after=before)
    return found


async def test_an_officer_picks_the_incident_from_buttons(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer = w.chat("bale", 1001)
        none = await _ask(officer, "/update", "حادثهٔ بازی نیست")
        assert "/report" in seen(none)

        fire = (await w.service.open(FIRE)).incident_id
        one = await _ask(officer, "/update", "برای این حادثه؟")
        assert fire in seen(one) and "آتش‌سوزی" in seen(one) and "جدی" in seen(one)
        assert _labels(one) == ["✅ بله، همین حادثه", "✖️ انصراف"]
        await officer.tap("i:0")
        await officer.said("به‌روزرسانی شمارهٔ ۱")
        officer.write("/cancel")

        leak = (await w.service.open(LEAK)).incident_id
        await w.service.open(IncidentReport("other", "fire", "major", "officer.z"))
        two = await _ask(officer, "/resolve", "برای کدام حادثه؟")
        labels = _labels(two)
        assert len(labels) == 3  # the two of this officer's factory, and Cancel
        assert any(leak in label and "نشت گاز" in label for label in labels)
        assert any(fire in label and "آتش‌سوزی" in label for label in labels)
        index = next(i for i, label in enumerate(labels) if leak in label)
        await officer.tap(f"i:{index}")
        preview = await officer.said("اعلام پایان حادثهٔ")
        assert leak in seen(preview) and fire not in seen(preview)

        # Closed meanwhile: the button says so and nothing starts.
        stale = await _ask(officer, "/takeover", "برای کدام حادثه؟")
        await w.service.resolve(fire, "officer.a")
        index = next(i for i, label in enumerate(_labels(stale)) if fire in label)
        await officer.tap(f"i:{index}")
        await officer.said("پیدا نشد")


async def test_an_english_officer_is_asked_in_english(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        fire = (await w.service.open(FIRE)).incident_id
        officer = w.chat("bale", 1006)  # officer.y
        one = await _ask(officer, "/takeover", "for this incident?")
        assert "Provincial HQ takeover" in seen(one) and fire in seen(one)
        assert _labels(one)[0] == "✅ Yes, this one"


async def test_an_update_worded_per_group_and_language_reaches_each_reader(
    tmp_path: Path,
) -> None:
    async with World.open(tmp_path) as w:
        fire = (await w.service.open(FIRE)).incident_id
        w.kick()
        officer = w.chat("bale", 1001)
        officer.write("/update")
        await officer.tap("i:0")
        officer.write("آتش مهار شد")
        menu = await officer.said("این متن برای همه فرستاده می‌شود")
        assert "آتش مهار شد" in seen(menu)
        labels = _labels(menu)
        assert labels[0] == "👁 پیش‌نمایش"
        # Management reads English (staff group), the press desk Persian: only those.
        assert "✏️ کارکنان و مدیران، انگلیسی" in labels
        assert "✏️ رسانه‌ها، فارسی" in labels
        assert not [label for label in labels if "مراجع" in label]

        await officer.tap(f"w:{labels.index('✏️ رسانه‌ها، فارسی') - 1}")
        await officer.said("متن ویژهٔ «رسانه‌ها» را به فارسی")
        officer.write("آتش مهار شد و علت در دست بررسی است.")
        menu = await officer.said("متن‌های جداگانه")
        assert "رسانه‌ها، فارسی: آتش مهار شد و علت" in seen(menu)
        await officer.tap(f"w:{labels.index('✏️ کارکنان و مدیران، انگلیسی') - 1}")
        await officer.said("به انگلیسی")
        officer.write("The fire is under control.")
        await officer.said("کارکنان و مدیران، انگلیسی: The fire is under control.")
        await officer.tap("p")
        record, _ = await officer.button("ok", "the preview")
        preview = seen(record)
        assert "The fire is under control." in preview
        assert "آتش مهار شد و علت در دست بررسی است." in preview
        await officer.tap("ok")
        await officer.said(f"به‌روزرسانی {fire} پذیرفته شد")

        def email_to(address: str, needle: str) -> object:
            return [d for d in w.sb.inbox.query(to=address) if needle in d.text]

        english = await wait_for(
            lambda: email_to("boss@example.com", "The fire is under control."),
            "the English update at management",
        )
        assert "آتش" not in english[0].text  # no Persian free text in the English email
        await wait_for(
            lambda: email_to("desk@example.com", "علت در دست بررسی است"), "the press update"
        )


async def test_an_early_update_says_when_the_press_gets_it_or_goes_now(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        opened_at = datetime.now(UTC)
        fire = (await w.service.open(FIRE)).incident_id
        officer = w.chat("bale", 1001)
        officer.write("/update")
        await officer.tap("i:0")
        officer.write("آتش مهار شد")
        await officer.tap("p")
        record, _ = await officer.button("now", "the preview offering send now")
        preview = seen(record)
        assert "هنوز نخستین اطلاعیه نرسیده است" in preview
        press_line = next(line for line in preview.splitlines() if line.startswith("• رسانه‌ها"))
        assert "ساعت" in press_line  # when the press gets it: after its holding statement
        assert "⚡ تأیید و ارسال همین حالا به همه" in _labels(record)
        await officer.tap("now")
        await officer.said(f"به‌روزرسانی {fire} پذیرفته شد")
        msgs = await w.messages(fire)
        holding = next(m for m in msgs if m.audience == "press" and m.purpose == Purpose.ALERT)
        update = next(m for m in msgs if m.audience == "press" and m.purpose == Purpose.UPDATE)
        assert opened_at <= update.not_before < holding.not_before  # sent now, not held back


async def test_the_all_clear_preview_names_who_gets_it(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        fire = (await w.service.open(FIRE)).incident_id
        soon = datetime.now(UTC) + timedelta(minutes=1)
        await deliver_due(w.store, w.lib, fire, lambda: soon)  # the press (after 10m) is not
        officer = w.chat("bale", 1001)
        officer.write("/resolve")
        await officer.tap("i:0")
        record, _ = await officer.button("ok", "the all-clear preview")
        preview = seen(record)
        assert "فقط کسانی که پیامی دربارهٔ این حادثه گرفته‌اند" in preview
        assert "• تیم واکنش اضطراری: علی بهرامی — بله" in preview
        assert "• مدیران: سارا کاظمی — بله" in preview
        assert "• رسانه‌ها: چیزی نمی‌گیرند" in preview
        assert "میز خبر" not in preview
        await officer.tap("ok")
        await officer.said(f"پایان حادثهٔ {fire} ثبت شد")
        cleared = {m.recipient for m in await w.messages(fire) if m.purpose == Purpose.ALL_CLEAR}
        assert cleared == {"staff.b", "boss.c"}


async def test_status_details_and_a_drill_factory_are_buttons_too(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        fire = (await w.service.open(FIRE)).incident_id
        officer = w.chat("bale", 1001)
        listing = await _ask(officer, "/status", "حادثه‌های باز")
        assert _labels(listing) == [f"🔎 آتش‌سوزی — {fire}"]
        (data,) = [d for _, d in buttons(listing)]
        before = officer.last_id()
        officer.press(listing["message_id"], data)
        detail = await officer.said("وضعیت:", after=before)
        assert fire in seen(detail) and "باز" in seen(detail)

        several = w.chat("bale", 1006)  # officer.y: two factories, reads English
        asked = await _ask(several, "/drill", "Drill — which factory?")
        assert _labels(asked)[:2] == ["Mini Works", "Other Works"]
        await several.tap("g:1")
        preview, _ = await several.button("ok", "the drill preview")
        assert "DRILL" in seen(preview) and "Other Works" in seen(preview)
