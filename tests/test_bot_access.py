"""Only a factory's officers may act on it: everyone else is refused, audited, told nothing."""

from __future__ import annotations

from pathlib import Path

from crisisd.bot import BotSettings
from crisisd.domain import IncidentReport
from tests.botworld import PTB_RETRY_AFTER, UNKNOWN_USER, World, buttons, wait_for

pytestmark = PTB_RETRY_AFTER


async def test_strangers_and_other_officers_are_refused_and_audited(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        # An incident at "mini" that officer.z (officer of "other") must not see or touch.
        opened = await w.service.open(
            IncidentReport("mini", "fire", "major", "officer.a", details="secret details")
        )
        await wait_for(lambda: w.settled(opened.incident_id), "the fan-out")
        before = len(w.sb.inbox)
        state = w.sb.botapi["bale"]
        state.add_user(UNKNOWN_USER - 1, "Visitor", language_code="en")

        stranger = w.chat("bale", UNKNOWN_USER)
        stranger.write("/report")
        stranger.write(f"/status {opened.incident_id}")
        english = w.chat("bale", UNKNOWN_USER - 1)
        english.write("/drill mini")
        other = w.chat("bale", 1005)  # officer.z
        other.write(f"/status {opened.incident_id}")
        other.write(f"/resolve {opened.incident_id}")
        other.write("/drill mini")

        refused = await wait_for(
            lambda: _enough(w, 6), "six refusals in the audit trail", timeout=20
        )
        actors = {e.actor for e in refused}
        assert actors == {f"bale:{UNKNOWN_USER}", f"bale:{UNKNOWN_USER - 1}", "bale:1005"}
        assert all(e.incident_id is None and e.channel == "bale" for e in refused)
        reasons = {(e.actor, e.detail["reason"]) for e in refused if e.detail}
        assert (f"bale:{UNKNOWN_USER}", "not_an_officer") in reasons
        assert ("bale:1005", "not_officer_of_factory") in reasons

        # Polite, in their language (Persian when nothing is known), and nothing leaks.
        await wait_for(lambda: len(stranger.messages()) >= 2, "two refusals to the stranger")
        await wait_for(lambda: len(other.messages()) >= 3, "three answers to officer.z")
        assert all("با پوزش" in m["text"] for m in stranger.messages())
        (answer,) = await wait_for(lambda: english.messages(), "the English refusal")
        assert answer["text"].startswith("Sorry")
        for m in stranger.messages() + english.messages() + other.messages():
            assert "secret" not in m["text"]
            assert "آتش" not in m["text"]  # not even the incident's type
        assert "پیدا نشد" in other.messages()[0]["text"]  # "no such incident among yours"

        # Nothing was stored or sent on their behalf.
        rows = await w.store.list_incidents()
        assert [r.id for r in rows] == [opened.incident_id]
        assert rows[0].status == "open"
        to_people = [d for d in w.sb.inbox.query()[before:] if d.to not in ("9999", "9998", "1005")]
        assert to_people == []


async def _enough(w: World, count: int) -> list[object] | None:
    found = await w.refusals()
    return list(found) if len(found) >= count else None


async def test_flooding_is_ignored_after_one_warning(tmp_path: Path) -> None:
    async with World.open(tmp_path, BotSettings(flood_per_minute=3), dispatch=False) as w:
        officer = w.chat("bale", 1001)
        for _ in range(6):
            officer.write("/help")
        await wait_for(lambda: len(officer.messages()) >= 4, "three answers and a warning")
        await wait_for(
            lambda: w.sb.botapi["bale"].bot().updates == [], "every update fetched", timeout=10
        )
        texts = [m["text"] for m in officer.messages()]
        assert sum("راهنما" in t or "/report" in t for t in texts) == 3
        assert sum("پیام‌های زیادی فرستادید" in t for t in texts) == 1


async def test_an_officer_of_two_factories_chooses_one_first(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer = w.chat("bale", 1006)  # officer.y, English, officer of "mini" and "other"
        officer.write("/report")
        keyboard, data = await officer.button("f:1", "the factory choice")
        assert "which factory" in keyboard["text"]
        assert [t for t, _ in buttons(keyboard)][:2] == ["Mini Works", "Other Works"]
        officer.press(keyboard["message_id"], data)
        types, _ = await officer.button("t:0", "the incident types of Other Works")
        assert "Other Works" in types["text"] and "Fire" in [t for t, _ in buttons(types)]
        forged = officer.press(types["message_id"], "c:00000000:t:0")  # not this draft's button
        assert "earlier step" in await officer.answer(forged)
        assert await w.store.list_incidents() == []
