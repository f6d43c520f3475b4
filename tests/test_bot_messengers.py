"""The same bot on two messenger instances (Bale and Telegram), used at the same time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, World, buttons, confirm, report, wait_for

pytestmark = PTB_RETRY_AFTER


async def test_two_messengers_at_the_same_time(tmp_path: Path) -> None:
    async with World.open(tmp_path) as w:
        on_bale, on_telegram = w.chat("bale", 1001), w.chat("telegram", 2001)
        await asyncio.gather(
            report(on_bale, "دود در انبار"), report(on_telegram, "بوی گاز در سالن ۳", "t:1")
        )
        fire, leak = await asyncio.gather(confirm(on_bale), confirm(on_telegram))
        rows = {r.id: r for r in await w.store.list_incidents()}
        assert (rows[fire].source, rows[fire].incident_type) == ("bot:bale", "fire")
        assert (rows[leak].source, rows[leak].incident_type) == ("bot:telegram", "leak")
        progress = await on_telegram.said("📊")

        # staff.b acknowledges the leak alert on Bale; the progress on Telegram shows it.
        staff = w.chat("bale", 1002)
        alert = await wait_for(
            lambda: next(
                (
                    m
                    for m in staff.messages()
                    if "نشت گاز" in m["text"] and any(d.startswith("ack:") for _, d in buttons(m))
                ),
                None,
            ),
            "the leak alert with its button",
        )
        data = next(d for _, d in buttons(alert) if d.startswith("ack:"))
        assert "دریافت شد" in await staff.answer(staff.press(alert["message_id"], data))

        def acked() -> bool:
            current = next(
                m for m in on_telegram.messages() if m["message_id"] == progress["message_id"]
            )
            return "تأیید ۱ از ۱" in current["text"]

        await wait_for(acked, "the Telegram progress message showing the Bale ack")
        fire_msgs = await w.messages(fire)
        assert all(m.acked_at is None for m in fire_msgs)  # one ack is one incident's


async def test_on_bale_a_keyboard_comes_off_by_editing_the_text(tmp_path: Path) -> None:
    """Older Bale servers have no editMessageReplyMarkup (the fake's Bale mode answers 404):
    the question's buttons come off by editing its text again, and the report goes on."""
    async with World.open(tmp_path, dispatch=False) as w:
        officer = w.chat("bale", 1001)
        await report(officer, "دود در انبار")  # reaches the preview despite the 404
        question = next(m for m in officer.messages() if "جزئیات را" in seen(m))
        assert question["reply_markup"] is None
        assert "text" in question["edits"][-1]  # by editMessageText, not the missing method
