"""The bot's own pacing of groups: Telegram allows 20 messages a minute to one group."""

from __future__ import annotations

import pytest

from crisisd.bot.pacing import ChatPacer
from crisisd.config import Rate
from crisisd.delivery.pacing import SAFETY


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
