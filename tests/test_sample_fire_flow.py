"""The sample fire/major, start to end through the officers' bot on the shipped playbooks
and templates: report with casualties and place → alerts → holding statement → an update
worded in Persian and English → all-clear, every text read as its Persian or English
reader gets it (the fake Bale chat, the SMTP inbox)."""

from __future__ import annotations

from pathlib import Path

from crisisd.sandbox.inbox import Delivered
from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, World, make_sample_tree, wait_for

pytestmark = PTB_RETRY_AFTER
OFFICER, TEAM = 1000001101, 1000001103  # officer.rezaei, hse.mousavi on Bale
PRESS_FA, PRESS_EN = "irna-tehran@example.com", "irna-english@example.com"
ADVISOR = "m.rossi@example.org"  # management, reads English


async def _mail(w: World, to: str, *needles: str) -> Delivered:
    def find() -> Delivered | None:
        return next((d for d in w.sb.inbox.query(to=to) if all(n in d.text for n in needles)), None)

    found: Delivered = await wait_for(find, f"an email to {to} saying {needles}")
    return found


async def test_a_sample_fire_from_report_to_all_clear_in_both_languages(tmp_path: Path) -> None:
    async with World.open(tmp_path, tree=make_sample_tree) as w:
        officer = w.chat("bale", OFFICER)
        officer.write("/report")
        await officer.tap("t:0")  # fire
        await officer.tap("s:1")  # major
        await officer.tap("k:1")  # injured
        await officer.tap("n:2")  # two
        await officer.tap("l:0")  # the raw materials store
        officer.write("آتش در قفسه‌های کاغذ")
        record, _ = await officer.button("ok", "the preview")
        preview = seen(record)
        assert "🩹 مصدوم: ۲ نفر" in preview and "📍 محل: انبار مواد اولیه" in preview
        assert "۲ نفر از همکاران ما آسیب دیده‌اند" in preview  # the press text, as it goes
        await officer.tap("ok")
        await officer.said("پذیرفته شد")

        # The alerts: the team on Bale in Persian, the English-reading adviser by email.
        team = w.chat("bale", TEAM)
        alert = await wait_for(
            lambda: next((m for m in team.messages() if "انبار مواد اولیه" in seen(m)), None),
            "the team's alert",
        )
        assert "مصدوم: ۲ نفر" in seen(alert) and "روشن نیست" not in seen(alert)
        briefing = await _mail(w, ADVISOR, "Raw materials store")
        assert "Injured: 2" in briefing.text and "not yet known" not in briefing.text

        # The holding statement, in each desk's language.
        fa = await _mail(w, PRESS_FA, "۲ نفر از همکاران ما آسیب دیده‌اند")
        assert "(محدودهٔ انبار مواد اولیه)" in fa.text
        en = await _mail(w, PRESS_EN, "2 of our colleagues have been injured")
        assert "(Raw materials store)" in en.text
        assert "still accounting" not in en.text

        # An update: one Persian text, and one English text for every English reader.
        officer.write("/update")
        await officer.tap("i:0")
        officer.write("آتش مهار شد؛ حال دو همکار مصدوم پایدار است.")
        menu, _ = await officer.button("w:0", "the wording menu")
        assert buttons_of(menu)[1] == "✏️ همه، انگلیسی"
        await officer.tap("w:0")
        officer.write("The fire is out; both injured colleagues are stable.")
        await officer.said("همه، انگلیسی: The fire is out")
        await officer.tap("p")
        await officer.tap("ok")
        await officer.said("پذیرفته شد: ")
        await _mail(w, PRESS_FA, "آتش مهار شد؛ حال دو همکار مصدوم پایدار است.")
        update_en = await _mail(w, PRESS_EN, "The fire is out; both injured colleagues are stable.")
        assert "آتش" not in update_en.text  # no Persian free text for an English desk
        await _mail(w, ADVISOR, "The fire is out")

        # The all-clear, to everyone who heard something, in their language.
        officer.write("/resolve")
        await officer.tap("i:0")
        record, _ = await officer.button("ok", "the all-clear preview")
        assert "خبرگزاری ایرنا — میز خبر انگلیسی" in seen(record)  # named, not counted
        await officer.tap("ok")
        await officer.said("پایان حادثهٔ")

        def all_clear() -> dict[str, str] | None:
            subjects = {
                d.to: d.subject
                for d in w.sb.inbox.query(service="smtp")
                if d.subject and ("پایان" in d.subject or "All clear" in d.subject)
            }
            return subjects if {PRESS_FA, PRESS_EN} <= set(subjects) else None

        cleared = await wait_for(all_clear, "the all-clear at both desks")
        assert cleared[PRESS_FA] == "پایان وضعیت اضطراری: آتش‌سوزی — فولاد شهریار"
        assert cleared[PRESS_EN] == "All clear: Fire at Shahriar Steel"


def buttons_of(record: dict[str, object]) -> list[str]:
    markup = record.get("reply_markup") or {}
    assert isinstance(markup, dict)
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
