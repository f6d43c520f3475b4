"""Every messenger's pace is a setting: the global, per-chat and per-group rates of config."""

from __future__ import annotations

import pytest

from crisisd.bot.pacing import ChatPacer
from crisisd.channels.telegram import messenger_limits
from crisisd.config import Messenger, Rate
from crisisd.delivery.pacing import SAFETY, Pacer


def test_the_shipped_defaults_are_telegrams_published_limits() -> None:
    limits = messenger_limits(Messenger(name="bale", base_url="https://tapi.bale.ai/bot"))
    assert limits.rate_per_second == 30
    assert limits.destination_rate("1001") == 1
    assert limits.destination_rate("-1001234") == pytest.approx(20 / 60)


def test_a_configured_group_pace_reaches_the_dispatcher_and_the_bot() -> None:
    rate = Rate(global_per_second=12, per_chat_per_second=0.5, per_group_per_minute=6)
    limits = messenger_limits(
        Messenger(name="bale", base_url="https://tapi.bale.ai/bot", rate=rate)
    )
    assert limits.rate_per_second == 12
    assert limits.destination_rate("1001") == 0.5
    assert limits.destination_rate("-1001234") == pytest.approx(0.1)
    assert Pacer(limits).dest_gap("-1001234") == pytest.approx(10 / SAFETY)
    now = [50.0]
    bot = ChatPacer(rate, clock=lambda: now[0])
    assert bot.group_delay("-1001234") == 0.0
    assert bot.group_delay("-1001234") == pytest.approx(10 / SAFETY)


def test_a_group_pace_must_be_positive() -> None:
    with pytest.raises(ValueError, match="per_group_per_minute"):
        Rate(per_group_per_minute=0)
