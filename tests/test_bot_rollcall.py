"""The roll call in the messengers, over the sandbox Bot API: the two buttons under the
question, who may press them, the headcount under the officer's progress message (edited
in place) and /headcount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crisisd.config import Config
from tests.bale_reader import seen
from tests.botworld import PTB_RETRY_AFTER, World, buttons, confirm, make_world_tree, report
from tests.botworld import wait_for as wait

pytestmark = PTB_RETRY_AFTER
ROLL_CALL = "          - {roll_call: emergency_team, channels: [bale, sms], within: 10m}\n"


def tree(root: Path, messenger: str = "bale") -> Config:
    config = make_world_tree(root, messenger)
    pb = root / "playbooks" / "mini.yaml"
    text = pb.read_text(encoding="utf-8")
    anchor = "          - {audience: press, template: statement, channels: [email], after: 10m}\n"
    pb.write_text(text.replace(anchor, anchor + ROLL_CALL, 1), encoding="utf-8")
    return config


async def test_staff_answer_by_button_and_the_officer_sees_the_headcount(tmp_path: Path) -> None:
    async with World.open(tmp_path, tree=tree) as w:
        officer, staff = w.chat("bale", 1001), w.chat("bale", 1002)
        await report(officer, "دود در انبار")
        incident = await confirm(officer)
        progress = await officer.said("📊")

        def question() -> dict[str, Any] | None:
            for m in staff.messages():
                if any(d.startswith("rc:") for _, d in buttons(m)):
                    return m
            return None

        asked = await wait(question, "the roll-call question with its buttons")
        assert "سالم هستید" in seen(asked)
        data = {d.rsplit(":", 1)[1]: d for _, d in buttons(asked)}
        assert set(data) == {"safe", "help"}

        # someone else pressing it is refused and changes nothing
        refused = await officer.answer(staff.press(asked["message_id"], data["safe"], 1001))
        assert "برای شما نیست" in refused
        toast = await staff.answer(staff.press(asked["message_id"], data["help"]))
        assert "کمک" in toast

        def shows_help() -> bool:
            current = next(
                m for m in officer.messages() if m["message_id"] == progress["message_id"]
            )
            return "🆘 1" in current["text"]

        await wait(shows_help, "the progress message showing one call for help")
        before = officer.last_id()
        officer.write("/headcount")
        listing = await officer.said("حضور و غیاب", after=before)
        assert incident in listing["text"] and "علی بهرامی" in listing["text"]
