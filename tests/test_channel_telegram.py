"""TelegramChannel against the fake Bot API over real HTTP: outcomes and secrecy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs
from telegram.error import NetworkError

from crisisd.channels.base import (
    ACK_CALLBACK_PREFIX,
    Channel,
    Failed,
    OutboundMessage,
    Retry,
    Sent,
)
from crisisd.channels.telegram import TelegramChannel, chat_id_of, classify, messenger_limits
from crisisd.config import Messenger
from crisisd.domain import ack_code
from crisisd.errors import ConfigError
from crisisd.sandbox.botapi import BOTAPI_STATE, BotApiState, create_botapi_app
from crisisd.sandbox.inbox import Inbox

TOKEN = "123456:SECRET-TOKEN-abc"
USER = 1001
RLM = "\u200f"
TIMEOUT = 1.0

# PTB 22's own RetryAfter.__init__ reads its deprecated int `retry_after` property, so every
# 429 raises this PTBDeprecationWarning inside PTB (silent by default outside tests). The
# channel itself reads the timedelta and never triggers it.
ptb_retry_after_warning = pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:telegram.warnings.PTBDeprecationWarning"
)


@dataclass
class Sandbox:
    url: str
    state: BotApiState
    inbox: Inbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    inbox = Inbox()
    app = create_botapi_app("bale", inbox, tokens=[TOKEN])
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    state = app[BOTAPI_STATE]
    state.add_user(USER, "رضا", language_code="fa")
    yield Sandbox(f"http://{host}:{port}", state, inbox)
    await runner.cleanup()


def make_channel(base_url: str, token: str = TOKEN) -> TelegramChannel:
    messenger = Messenger(name="bale", base_url="https://tapi.bale.ai/bot")
    return TelegramChannel(
        messenger,
        base_url=f"{base_url}/bot",
        token=token,
        limits=messenger_limits(messenger, timeout_seconds=TIMEOUT),
    )


@pytest.fixture
async def channel(sandbox: Sandbox) -> AsyncIterator[TelegramChannel]:
    ch = make_channel(sandbox.url)
    yield ch
    await ch.aclose()


def message(text: str = f"{RLM}<b>آتش‌سوزی</b> در سالن ۲", **kw: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "key": "inc-1/step-0/officer.rezaei/bale",
        "channel": "bale",
        "address": str(USER),
        "text": text,
        "ack_button": True,
    }
    return OutboundMessage(**(fields | kw))


async def test_is_a_channel_with_the_messenger_limits() -> None:
    ch = TelegramChannel(Messenger(name="telegram", token="42:abcd"))
    await ch.aclose()
    assert isinstance(ch, Channel)
    assert (ch.name, ch.kind) == ("telegram", "chat")
    assert ch.limits.max_length == 4096
    assert (ch.limits.rate_per_second, ch.limits.per_destination_per_second) == (30.0, 1.0)
    assert ch.bot.base_url == "https://api.telegram.org/bot42:abcd"


def test_a_messenger_without_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="has no token"):
        TelegramChannel(Messenger(name="bale"))


async def test_delivered_with_rlm_html_and_ack_button(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    msg = message()
    result = await channel.send(msg)
    assert result == Sent(provider_id=f"{USER}:1")
    [item] = sandbox.inbox.query(service="bale", to=str(USER))
    assert item.text == msg.text
    assert item.text.startswith(RLM)
    [record] = sandbox.state.sent(chat_id=USER)
    assert record["parse_mode"] == "HTML"
    assert record["plain"] == f"{RLM}آتش‌سوزی در سالن ۲"
    assert record["link_preview_disabled"] is True
    [[button]] = record["reply_markup"]["inline_keyboard"]
    assert button == {
        "text": "✅ دریافت شد",
        "callback_data": ACK_CALLBACK_PREFIX + ack_code(msg.key),
    }


async def test_english_button_and_no_button_when_not_asked(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    sandbox.state.enforce_limits = False
    assert isinstance(await channel.send(message("Fire", lang="en")), Sent)
    assert isinstance(await channel.send(message("FYI", ack_button=False)), Sent)
    first, second = sandbox.state.sent(chat_id=USER)
    assert first["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Acknowledge"
    assert second["reply_markup"] is None


@ptb_retry_after_warning
async def test_flood_control_gives_retry_after(sandbox: Sandbox, channel: TelegramChannel) -> None:
    assert isinstance(await channel.send(message()), Sent)
    result = await channel.send(message())
    assert isinstance(result, Retry)
    assert result.after >= 1.0
    assert sandbox.state.violations == 1


@ptb_retry_after_warning
async def test_injected_429_gives_retry_after_n(sandbox: Sandbox, channel: TelegramChannel) -> None:
    sandbox.state.faults.update({"mode": "rate_limit", "retry_after": 7})
    result = await channel.send(message())
    assert isinstance(result, Retry)
    assert result.after == 7.0


@pytest.mark.parametrize(
    ("setup", "expected_scope", "words"),
    [
        ("blocked", "recipient", "blocked by the user"),
        ("unknown_chat", "recipient", "chat not found"),
        ("bad_html", "recipient", "can't parse entities"),
        ("bad_address", "recipient", "not a chat id"),
        ("bad_token", "channel", "check token"),
    ],
)
async def test_permanent_failures(
    sandbox: Sandbox, channel: TelegramChannel, setup: str, expected_scope: str, words: str
) -> None:
    msg = message()
    ch = channel
    if setup == "blocked":
        sandbox.state.block(USER)
    elif setup == "unknown_chat":
        msg = message(address="424242")
    elif setup == "bad_html":
        msg = message("<b>unclosed")
    elif setup == "bad_address":
        msg = message(address="+989121234567")
    else:
        ch = make_channel(sandbox.url, token="999:NOT-A-REAL-TOKEN")
    try:
        result = await ch.send(msg)
    finally:
        if ch is not channel:
            await ch.aclose()
    assert isinstance(result, Failed)
    assert result.scope == expected_scope
    assert words in result.reason.lower()  # PTB capitalises Telegram's descriptions
    assert sandbox.inbox.query() == []


@pytest.mark.parametrize("mode", ["error", "drop", "garbage", "hang"])
async def test_transient_faults_give_retry(
    sandbox: Sandbox, channel: TelegramChannel, mode: str
) -> None:
    sandbox.state.faults.update({"mode": mode})
    started = time.monotonic()
    result = await channel.send(message())
    elapsed = time.monotonic() - started
    assert isinstance(result, Retry)
    assert result.after == 2.0
    # A hanging server costs one timeout, not forever (generous bound: not a benchmark).
    assert elapsed < TIMEOUT + 4


async def test_unreachable_server_gives_retry() -> None:
    ch = make_channel("http://127.0.0.1:9")  # discard port: nothing listens
    try:
        result = await ch.send(message())
    finally:
        await ch.aclose()
    assert isinstance(result, Retry)
    assert TOKEN not in repr(result)


@ptb_retry_after_warning
async def test_the_token_never_appears_in_reasons_or_logs(sandbox: Sandbox) -> None:
    """Every failing path, once, with the logs captured."""
    results: list[object] = []
    with capture_logs() as logs:
        ch = make_channel(sandbox.url)
        try:
            for mode in ("error", "drop", "garbage", "hang", "rate_limit", "permanent"):
                sandbox.state.faults.update({"mode": mode})
                results.append(await ch.send(message()))
            sandbox.state.faults.update({"mode": "none"})
            sandbox.state.block(USER)
            results.append(await ch.send(message()))
            results.append(await ch.send(message("<x>")))
        finally:
            await ch.aclose()
        wrong = make_channel(sandbox.url, token="777:ANOTHER-SECRET-xyz")
        results.append(await wrong.send(message()))
        await wrong.aclose()
    assert len(logs) == len(results) == 9
    assert all(isinstance(r, Retry | Failed) for r in results)
    text = repr(results) + repr(logs)
    for secret in (TOKEN, "SECRET-TOKEN", "ANOTHER-SECRET"):
        assert secret not in text
    assert {entry["event"] for entry in logs} == {"chat.send.retry", "chat.send.failed"}
    assert all(entry["channel"] == "bale" for entry in logs)


async def test_a_reason_quoting_the_request_url_is_scrubbed(channel: TelegramChannel) -> None:
    url = f"https://tapi.bale.ai/bot{TOKEN}/sendMessage"
    raw = classify(NetworkError(f"httpx.ConnectError: cannot reach {url}"))
    assert TOKEN in raw.reason  # what PTB hands over
    scrubbed = channel.scrub(raw.reason)
    assert TOKEN not in scrubbed
    assert "bot***/sendMessage" in scrubbed
    encoded = f"https://tapi.bale.ai/bot{TOKEN.replace(':', '%3A')}/sendMessage"
    assert "SECRET" not in channel.scrub(encoded)


def test_chat_ids() -> None:
    assert chat_id_of(" 1001 ") == 1001
    assert chat_id_of("-1001234567890") == -1001234567890
    assert chat_id_of("@crisis_channel") == "@crisis_channel"
    assert chat_id_of("@") is None
    assert chat_id_of("+989121234567") is None
    assert chat_id_of("rezaei@example.com") is None


async def test_aclose_is_idempotent(sandbox: Sandbox) -> None:
    ch = make_channel(sandbox.url)
    assert isinstance(await ch.send(message()), Sent)
    await ch.aclose()
    await ch.aclose()


async def test_concurrent_sends_to_many_chats(sandbox: Sandbox) -> None:
    chats = range(2001, 2021)
    for chat in chats:
        sandbox.state.add_user(chat, f"Staff {chat}")
    ch = make_channel(sandbox.url)
    try:
        results = await asyncio.gather(*(ch.send(message(address=str(c))) for c in chats))
    finally:
        await ch.aclose()
    assert all(isinstance(r, Sent) for r in results)
    assert len({r.provider_id for r in results if isinstance(r, Sent)}) == 20
    assert sandbox.state.violations == 0
