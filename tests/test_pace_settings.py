"""Every pace is a setting: the messengers' global, per-chat and per-group rates, and how many SMS
requests are in flight."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from crisisd.bot.pacing import ChatPacer
from crisisd.channels.registry import build_channels
from crisisd.channels.sms import SmsChannel
from crisisd.channels.sms.gateway import HttpGateway
from crisisd.channels.telegram import messenger_limits
from crisisd.config import Messenger, Rate, SmsGateway, load_config
from crisisd.delivery.pacing import SAFETY, Pacer
from crisisd.errors import ProblemsError
from tests.minitree import make_tree

ROOT = Path(__file__).resolve().parents[1]


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


def test_sms_concurrency_and_timeout_reach_the_channel_and_a_bad_one_names_its_place(
    tmp_path: Path,
) -> None:
    shipped = (ROOT / "config.yaml").read_text(encoding="utf-8")
    assert "  concurrency: 8" in shipped  # the documented default, shown where it is set
    config = make_tree(tmp_path)
    gateway = SmsGateway(name="kavenegar", provider="kavenegar", api_key=SecretStr("k"))
    sms = config.sms.model_copy(
        update={"gateways": [gateway], "concurrency": 12, "timeout_seconds": 40.0}
    )
    channel = build_channels(config.model_copy(update={"sms": sms}))["sms"]
    assert channel.limits.concurrency == 12  # the dispatcher starts this many senders
    assert isinstance(channel, SmsChannel)
    assert [g.timeout for g in channel.gateways if isinstance(g, HttpGateway)] == [40.0]
    assert channel.limits.timeout_seconds == 40.0  # a send's budget: each gateway's, in turn
    assert "  timeout_seconds: 15" in shipped
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped.replace("  concurrency: 8", "  concurrency: 0"), encoding="utf-8")
    with pytest.raises(ProblemsError) as caught:
        load_config(bad)
    assert "sms.concurrency" in str(caught.value)
