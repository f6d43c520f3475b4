"""The fake Bot API in Bale's mode over real HTTP: no parse_mode, stub edit answers, no
editMessageReplyMarkup on an older server, no webhook secret, Bale's error descriptions;
and what both modes share (the control API's /start and contact share)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram

from tests import botapifake
from tests.botapifake import OTHER, TOKEN, USER, Fake, Hook, arrival, make_fake

http, hook = botapifake.http, botapifake.hook  # the fixtures

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:telegram.warnings.PTBDeprecationWarning"
)
HOSTILE = "\u200f<b>آتش</b> &amp; *پررنگ* _کج_ [x](https://e.x/a) `کد` \u202eabc"


@pytest.fixture
async def bale(http: aiohttp.ClientSession) -> AsyncIterator[Fake]:
    async for f in make_fake(http, "bale", mode="bale", enforce_limits=False):
        yield f


async def test_parse_mode_is_ignored_and_the_text_kept_as_sent(bale: Fake) -> None:
    status, body = await bale.call("sendMessage", chat_id=USER, text=HOSTILE, parse_mode="HTML")
    assert status == 200, body
    assert body["result"]["text"] == HOSTILE  # the tags reach the reader as characters
    assert "entities" not in body["result"]
    for text in ("<foo>unclosed", "1 < 2 & 3"):  # what Telegram refuses, Bale shows
        assert (await bale.call("sendMessage", chat_id=USER, text=text, parse_mode="HTML"))[
            0
        ] == 200
    assert (await bale.call("sendMessage", chat_id=USER, text="x", parse_mode="Nonsense"))[0] == 200
    [first, *_] = bale.inbox.query(service="bale")
    assert first.extra["markdown"] is True and first.extra["plain"] == HOSTILE
    [record, *_] = await bale.control(f"sent?chat_id={USER}")
    assert record["html"] == (  # what the reader sees: Bale's Markdown, the tags as text
        "\u200f&lt;b&gt;آتش&lt;/b&gt; &amp;amp; <b>پررنگ</b> <i>کج</i> "
        '<a href="https://e.x/a" rel="noopener noreferrer nofollow">x</a> `کد` \u202eabc'
    )


async def test_length_counts_the_raw_text(bale: Fake) -> None:
    text = "&amp;" * 820  # 4100 characters: on Telegram 820 once parsed, on Bale 4100
    status, body = await bale.call("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, _ = await bale.call("sendMessage", chat_id=USER, text="\u200f" + "ا" * 4095)
    assert status == 200


async def test_edit_answers_a_stub_and_python_telegram_bot_gets_true(bale: Fake) -> None:
    _, sent = await bale.call("sendMessage", chat_id=USER, text="v1")
    message_id = sent["result"]["message_id"]
    status, body = await bale.call(
        "editMessageText", chat_id=USER, message_id=message_id, text="v2"
    )
    assert (status, body) == (200, {"ok": True, "result": True})
    bot = telegram.Bot(TOKEN, base_url=f"{bale.url}/bot")
    async with bot:
        assert await bot.edit_message_text("v3", USER, message_id) is True
    [record] = await bale.control(f"sent?chat_id={USER}")
    assert record["text"] == "v3"


async def test_a_partial_stub_has_no_date(http: aiohttp.ClientSession) -> None:
    async for bale in make_fake(http, "bale", mode="bale", bale_edit_result="partial"):
        _, sent = await bale.call("sendMessage", chat_id=USER, text="v1")
        message_id = sent["result"]["message_id"]
        _, body = await bale.call("editMessageText", chat_id=USER, message_id=message_id, text="v2")
        assert body["result"] == {
            "message_id": message_id,
            "chat": {"id": USER, "type": "private", "first_name": "رضا"},
            "text": "v2",
        }


async def test_an_older_server_has_no_edit_message_reply_markup(bale: Fake) -> None:
    keyboard = {"inline_keyboard": [[{"text": "✅", "callback_data": "ack:1"}]]}
    _, sent = await bale.call("sendMessage", chat_id=USER, text="alert", reply_markup=keyboard)
    message_id = sent["result"]["message_id"]
    status, body = await bale.call(
        "editMessageReplyMarkup", chat_id=USER, message_id=message_id, reply_markup=None
    )
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    bot = telegram.Bot(TOKEN, base_url=f"{bale.url}/bot")
    async with bot:
        with pytest.raises(telegram.error.InvalidToken):  # how PTB reads a 404
            await bot.edit_message_reply_markup(USER, message_id, reply_markup=None)


async def test_a_newer_server_has_it(http: aiohttp.ClientSession) -> None:
    async for bale in make_fake(http, "bale", mode="bale", bale_lacks_edit_reply_markup=False):
        keyboard = {"inline_keyboard": [[{"text": "✅", "callback_data": "ack:1"}]]}
        _, sent = await bale.call("sendMessage", chat_id=USER, text="alert", reply_markup=keyboard)
        message_id = sent["result"]["message_id"]
        status, _ = await bale.call("editMessageReplyMarkup", chat_id=USER, message_id=message_id)
        assert status == 200


async def test_set_webhook_takes_no_secret_token(bale: Fake, hook: Hook) -> None:
    status, _ = await bale.call("setWebhook", url=hook.url, secret_token="any thing/at=all")
    assert status == 200
    await bale.control("message", {"user_id": USER, "text": "/report"})
    await arrival(hook, 1)
    headers, update = hook.received[0]
    assert "X-Telegram-Bot-Api-Secret-Token" not in headers
    assert update["message"]["text"] == "/report"


@pytest.mark.parametrize(
    ("setup", "call", "code", "description"),
    [
        ({}, {"chat_id": 999}, 400, "Bad Request: no such group or user"),
        ({"block": USER}, {"chat_id": USER}, 403, "Forbidden: permission_denied"),
        ({"not_started": OTHER}, {"chat_id": OTHER}, 403, "Forbidden: permission_denied"),
        ({"token": "999:WRONG"}, {"chat_id": USER}, 400, "Bad Request: Token not found"),
        ({"rate_limit": USER}, {"chat_id": USER}, 429, "bot limit exceed"),
    ],
)
async def test_errors_are_described_as_bale_describes_them(
    bale: Fake, setup: dict[str, Any], call: dict[str, Any], code: int, description: str
) -> None:
    for fault in ("block", "not_started", "rate_limit"):
        if fault in setup:
            await bale.control("chat_fault", {"chat_id": setup[fault], "fault": fault})
    token = setup.get("token", TOKEN)
    status, body = await bale.call("sendMessage", token=token, text="x", **call)
    assert status == code
    assert body == {"ok": False, "error_code": code, "description": description}  # no retry_after


async def test_bale_strict_off_answers_as_telegram(http: aiohttp.ClientSession) -> None:
    async for bale in make_fake(http, "bale", mode="bale", bale_strict=False):
        _, sent = await bale.call("sendMessage", chat_id=USER, text="<b>x</b>", parse_mode="HTML")
        assert sent["result"]["text"] == "x"
        message_id = sent["result"]["message_id"]
        _, edited = await bale.call(
            "editMessageText", chat_id=USER, message_id=message_id, text="y"
        )
        assert edited["result"]["text"] == "y"
        _, body = await bale.call("sendMessage", chat_id=999, text="x")
        assert body["description"] == "Bad Request: chat not found"
        stats = await bale.control("stats")
        assert (stats["mode"], stats["bale_strict"]) == ("bale", False)


@pytest.mark.parametrize("mode", ["telegram", "bale"])
async def test_enrolment_updates_in_both_modes(http: aiohttp.ClientSession, mode: str) -> None:
    async for fake in make_fake(http, mode, mode=mode):
        await fake.control("users", {"id": 4004, "first_name": "Leila", "started": False})
        assert (await fake.call("sendMessage", chat_id=4004, text="hi"))[0] == 403
        started = await fake.control("start", {"user_id": 4004, "payload": "inv_Q1w2"})
        shared = await fake.control("contact", {"user_id": 4004, "phone_number": "989121110000"})
        assert started["message"]["text"] == "/start inv_Q1w2"
        assert shared["message"]["contact"]["user_id"] == 4004
        assert (await fake.call("sendMessage", chat_id=4004, text="hi"))[0] == 200
        _, updates = await fake.call("getUpdates")
        assert [u["update_id"] for u in updates["result"]] == [1, 2]
