"""The bot's own pacing: Telegram allows 20 messages a minute to one group, and the bot keeps
the floor of the messenger's pacer it shares with the dispatcher."""

from __future__ import annotations

from typing import Any

import pytest

from crisisd.bot.pacing import ChatPacer
from crisisd.channels.base import ChannelLimits
from crisisd.config import Rate
from crisisd.delivery.pacing import SAFETY, Pacer


def test_a_group_is_written_to_at_most_twenty_times_a_minute() -> None:
    now = [1000.0]
    pacer = ChatPacer(Rate(), clock=lambda: now[0])
    gap = 60.0 / (20 * SAFETY)
    assert pacer.group_delay("-1001234") == 0.0
    assert pacer.group_delay("-1001234") == pytest.approx(gap)  # the next slot is taken
    assert pacer.group_delay("-1001234") == pytest.approx(2 * gap)
    assert pacer.group_delay("-42") == 0.0  # another group has its own
    assert pacer.group_delay("1001") == 0.0  # a private chat is paced per chat, not here
    now[0] += 10 * gap
    assert pacer.group_delay("-1001234") == 0.0


async def test_a_reply_takes_the_floor_so_an_alert_sent_late_after_it_keeps_the_gap() -> None:
    """The bot shares the messenger's pacer with the dispatcher. A dispatcher sender that
    reserved the slot before the bot's reply and woke late for it would send right after
    the reply, unless the reply took the rate's floor as the dispatcher's sends do."""
    now = [100.0]
    shared = Pacer(
        ChannelLimits(max_length=4096, rate_per_second=30.0, per_destination_per_second=1.0),
        clock=lambda: now[0],
    )
    bot = ChatPacer(Rate(), pacer=shared, clock=lambda: now[0])
    shared.take_floor()  # a send went just now
    now[0] += shared.gap
    assert shared.reserve_slot() == 0.0  # an alert's slot: now; its sender is late for it
    sent_at: list[float] = []

    async def reply() -> dict[str, Any]:
        sent_at.append(now[0])
        return {"ok": True}

    async def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("crisisd.bot.pacing.asyncio.sleep", fake_sleep)
        answer = await bot.process_request(
            reply, (), {}, "sendMessage", {"chat_id": 555, "text": "ok"}, None
        )
    assert answer == {"ok": True}
    now[0] = sent_at[0] + shared.gap / 10  # the alert's sender wakes at last
    late = shared.take_floor()
    assert late > 0
    assert now[0] + late - sent_at[0] >= shared.gap * SAFETY - 1e-9  # the gap after the reply
