"""A progress message outlives a restart: the new bot edits the same message again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crisisd.bot import BotSettings
from crisisd.store import Store
from tests.botworld import (
    PTB_RETRY_AFTER,
    Chat,
    World,
    buttons,
    confirm,
    report,
    wait_for,
)

RECORDS = "bot.progress:"


def _current(chat: Chat, message_id: int) -> str:
    return str(next(m for m in chat.messages() if m["message_id"] == message_id)["text"])


async def _accepted_then_stopped(w: World) -> tuple[Chat, dict[str, Any], str]:
    """An officer reports and confirms; the bots go down before anything is delivered."""
    officer = w.chat("bale", 1001)
    await report(officer, "انفجار کوچک در دیگ بخار")
    incident_id = await confirm(officer)
    progress = await officer.said("📊")
    # The message is remembered right after it is sent: wait for that, not for a moment.
    records = await wait_for(lambda: w.store.settings_with_prefix(RECORDS), "the record")
    assert list(records) == [f"{RECORDS}bale:1001:{progress['message_id']}"]
    assert json.loads(next(iter(records.values())))["incident"] == incident_id

    assert w.bots is not None
    await w.bots.aclose()
    w.bots = None
    assert await w.store.settings_with_prefix(RECORDS) == records  # kept for the next start
    return officer, progress, incident_id


@PTB_RETRY_AFTER
async def test_the_same_progress_message_shows_an_ack_after_a_restart(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer, progress, incident_id = await _accepted_then_stopped(w)
        await w.store.put_setting(f"{RECORDS}bale:1001:1", "not a record")

        # The daemon comes back: a dispatcher and new bots on the same store.
        await w.start_dispatcher()
        await w.start_bots(BotSettings())

        staff = w.chat("bale", 1002)
        alert = await wait_for(
            lambda: next(
                (m for m in staff.messages() if any(d.startswith("ack:") for _, d in buttons(m))),
                None,
            ),
            "the ack button under the staff alert",
        )
        data = next(d for _, d in buttons(alert) if d.startswith("ack:"))
        assert "دریافت شد" in await staff.answer(staff.press(alert["message_id"], data))

        await wait_for(
            lambda: "تأیید ۱ از ۱" in _current(officer, progress["message_id"]),
            "the same progress message showing the ack",
        )
        assert [m["message_id"] for m in officer.messages() if "📊" in m["text"]] == [
            progress["message_id"]
        ]  # edited in place, no second progress message
        await wait_for(lambda: w.settled(incident_id), "every message sent")
        await wait_for(
            lambda: "✔️" in _current(officer, progress["message_id"]), "the settled progress"
        )
        # Following ended: the record (and the unreadable one) is forgotten.
        assert await wait_for(lambda: _no_records(w.store), "the records forgotten")


@PTB_RETRY_AFTER
async def test_a_window_that_passed_while_down_ends_with_a_last_edit(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False) as w:
        officer, progress, _incident_id = await _accepted_then_stopped(w)
        # Back after the follow window: nothing was delivered, so the message would stay
        # "waiting" forever; instead it says it is no longer updated, and is forgotten.
        await w.start_bots(BotSettings(progress_for=0.0))
        await wait_for(
            lambda: "دیگر به‌روز نمی‌شود" in _current(officer, progress["message_id"]),
            "the last edit of the progress message",
        )
        assert await wait_for(lambda: _no_records(w.store), "the record forgotten")


async def _no_records(store: Store) -> bool:
    return await store.settings_with_prefix(RECORDS) == {}


async def test_settings_put_list_and_delete(store: Store) -> None:
    assert await store.settings_with_prefix("a_b:") == {}
    await store.put_setting("a_b:1", "one")
    await store.put_setting("a_b:1", "uno")  # an upsert
    await store.put_setting("axb:2", "LIKE's _ is no wildcard here")
    await store.put_setting("A_B:3", "another case")
    await store.put_setting("100%:4", "four")
    await store.put_setting("100x:5", "five")
    assert await store.settings_with_prefix("a_b:") == {"a_b:1": "uno"}
    assert await store.settings_with_prefix("100%") == {"100%:4": "four"}
    assert await store.setting("a_b:1") == "uno"

    assert await store.claim_once("a_b:6", "six")
    await store.put_setting("a_b:6", "seis")
    assert await store.settings_with_prefix("a_b:") == {"a_b:1": "uno", "a_b:6": "seis"}

    assert await store.delete_setting("a_b:1")
    assert not await store.delete_setting("a_b:1")
    assert await store.settings_with_prefix("a_b:") == {"a_b:6": "seis"}
    assert await store.claim_once("a_b:1")  # free again once deleted
