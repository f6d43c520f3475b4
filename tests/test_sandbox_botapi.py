"""The fake Bot API over real HTTP on loopback, Telegram mode: wire format, the checks
Telegram makes, flood control (on a stepped clock), faults, webhooks, the control API.

Bale mode is in test_sandbox_botapi_bale.py; the HTML parser and the renderers in
test_sandbox_botapi_html.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram

from crisisd.sandbox.botapi import BOTAPI_STATE, create_botapi_app
from crisisd.sandbox.inbox import Inbox
from tests import botapifake
from tests.botapifake import OTHER, RLM, TOKEN, USER, Fake, Hook, arrival, make_fake, start

http, hook = botapifake.http, botapifake.hook  # the fixtures


@pytest.fixture
async def fake(http: aiohttp.ClientSession) -> AsyncIterator[Fake]:
    async for f in make_fake(http, enforce_limits=False):
        yield f


@pytest.fixture
async def limited(http: aiohttp.ClientSession) -> AsyncIterator[Fake]:
    async for f in make_fake(http, per_chat_per_second=1.0, global_per_second=2.0):
        yield f


async def test_send_message_returns_a_message_object(fake: Fake) -> None:
    status, body = await fake.call(
        "sendMessage", chat_id=USER, text=f"{RLM}<b>آتش</b> &amp; دود", parse_mode="HTML"
    )
    assert status == 200
    assert body["ok"] is True
    message = body["result"]
    assert message["message_id"] == 1
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "رضا"}
    assert message["from"]["is_bot"] is True
    assert message["from"]["id"] == 123456
    assert message["text"] == f"{RLM}آتش & دود"
    assert message["entities"] == [{"type": "bold", "offset": 1, "length": 3}]
    assert isinstance(message["date"], int)


async def test_form_and_query_string_parameters_are_accepted(fake: Fake) -> None:
    keyboard = {"inline_keyboard": [[{"text": "ok", "callback_data": "ack:1"}]]}
    form = {"chat_id": str(OTHER), "text": "hi", "reply_markup": json.dumps(keyboard)}
    async with fake.http.post(f"{fake.url}/bot{TOKEN}/sendMessage", data=form) as resp:
        body = await resp.json()
    assert body["result"]["reply_markup"] == keyboard
    params = {"chat_id": "@sara", "text": "by GET"}
    async with fake.http.get(f"{fake.url}/bot{TOKEN}/sendmessage", params=params) as resp:
        body = await resp.json()
    assert body["result"]["chat"]["id"] == OTHER
    assert body["result"]["message_id"] == 2


async def test_every_send_is_recorded_in_the_inbox(fake: Fake) -> None:
    await fake.call("sendMessage", chat_id=USER, text=f"{RLM}<i>هشدار</i>", parse_mode="HTML")
    [item] = fake.inbox.query(service="telegram")
    assert (item.channel, item.to, item.text) == ("chat", str(USER), f"{RLM}<i>هشدار</i>")
    assert item.extra["message_id"] == 1


async def test_unknown_chat_is_400_chat_not_found(fake: Fake) -> None:
    status, body = await fake.call("sendMessage", chat_id=999, text="x")
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


async def test_blocked_chat_is_403(fake: Fake) -> None:
    await fake.control("block", {"chat_id": USER})
    status, body = await fake.call("sendMessage", chat_id=USER, text="x")
    assert (status, body["error_code"]) == (403, 403)
    assert body["description"] == "Forbidden: bot was blocked by the user"
    assert fake.inbox.query() == []


async def test_unknown_token_is_401(fake: Fake) -> None:
    status, body = await fake.call("getMe", token="999:WRONG")
    assert status == 401
    assert body == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_get_me_and_unknown_method(fake: Fake) -> None:
    status, body = await fake.call("getMe")
    assert body["result"]["is_bot"] is True
    assert body["result"]["id"] == 123456
    status, body = await fake.call("sendTelepathy")
    assert (status, body["description"]) == (404, "Not Found")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ('<a href="x"', "Unclosed start tag at byte offset 0"),
        ("<a href=https://x.org>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<blockquote expandible>x</blockquote>", "Expected equal sign in declaration of an"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<tg-emoji emoji-id="x">🔥</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
    ],
)
async def test_malformed_html_is_rejected(fake: Fake, text: str, error: str) -> None:
    status, body = await fake.call("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 400
    assert body["description"].startswith(f"Bad Request: can't parse entities: {error}")


async def test_supported_html_is_accepted_and_parsed(fake: Fake) -> None:
    text = (
        "<b>a</b><strong>b</strong><i>c</i><u>d</u><s>e</s><tg-spoiler>f</tg-spoiler>"
        '<a href="https://example.com/?a=1&amp;b=2">g</a><code>h</code>'
        '<pre><code class="language-python">i</code></pre><blockquote>j</blockquote>'
        "&lt;&gt;&quot;&#1583;&#x62F;&nbsp;"
    )
    status, body = await fake.call("sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert status == 200, body
    assert body["result"]["text"] == 'abcdefghij<>"دد&nbsp;'
    kinds = [e["type"] for e in body["result"]["entities"]]
    assert "text_link" in kinds
    assert "blockquote" in kinds


async def test_length_is_counted_in_utf16_units_after_parsing(fake: Fake) -> None:
    ok_text = "&amp;" * 4096  # 4096 characters once parsed
    status, _ = await fake.call("sendMessage", chat_id=USER, text=ok_text, parse_mode="HTML")
    assert status == 200
    emoji = "🔥" * 2049  # 4098 UTF-16 units in 2049 code points
    status, body = await fake.call("sendMessage", chat_id=USER, text=emoji)
    assert (status, body["description"]) == (400, "Bad Request: message is too long")
    status, body = await fake.call("sendMessage", chat_id=USER, text="<b> </b>", parse_mode="HTML")
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")


async def test_callback_data_over_64_bytes_is_rejected(fake: Fake) -> None:
    keyboard = {"inline_keyboard": [[{"text": "x", "callback_data": "a" * 65}]]}
    status, body = await fake.call("sendMessage", chat_id=USER, text="x", reply_markup=keyboard)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


async def test_more_than_one_message_a_second_to_a_chat_is_429(limited: Fake) -> None:
    status, _ = await limited.call("sendMessage", chat_id=USER, text="one")
    assert status == 200
    status, body = await limited.call("sendMessage", chat_id=USER, text="two")
    assert status == 429
    retry_after = body["parameters"]["retry_after"]
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    assert retry_after >= 1
    status, _ = await limited.call("sendMessage", chat_id=OTHER, text="another chat")
    assert status == 200
    stats = await limited.control("stats")
    assert (stats["violations"], stats["violations_chat"], stats["sent"]) == (1, 1, 2)
    limited.clock.advance(retry_after - 0.1)
    status, _ = await limited.call("sendMessage", chat_id=USER, text="still too soon")
    assert status == 429  # the flood wait is not over
    limited.clock.advance(0.1)
    status, _ = await limited.call("sendMessage", chat_id=USER, text="two, later")
    assert status == 200
    assert limited.state.violations == 2


async def test_global_limit_per_bot_is_429(limited: Fake) -> None:
    third = 1003
    await limited.control("users", {"id": third, "first_name": "Ali"})
    for chat in (USER, OTHER):
        status, _ = await limited.call("sendMessage", chat_id=chat, text="x")
        assert status == 200
    status, body = await limited.call("sendMessage", chat_id=third, text="x")
    assert status == 429
    assert body["parameters"]["retry_after"] >= 1
    assert (await limited.control("stats"))["violations_global"] == 1


async def test_limits_off_accepts_a_burst(fake: Fake) -> None:
    for i in range(5):
        status, _ = await fake.call("sendMessage", chat_id=USER, text=f"burst {i}")
        assert status == 200
    assert fake.state.violations == 0


async def test_long_poll_returns_an_injected_message_and_respects_offset(fake: Fake) -> None:
    poll = asyncio.create_task(fake.call("getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    assert not poll.done()
    injected = await fake.control("message", {"user_id": USER, "text": "/report fire"})
    status, body = await asyncio.wait_for(poll, 5)
    assert status == 200
    [update] = body["result"]
    assert update == injected
    message = update["message"]
    assert message["text"] == "/report fire"
    assert message["from"]["id"] == USER
    assert message["from"]["language_code"] == "fa"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    # Not confirmed yet: delivered again. Confirmed by offset: gone.
    _, again = await fake.call("getUpdates", timeout=0)
    assert [u["update_id"] for u in again["result"]] == [update["update_id"]]
    _, after = await fake.call("getUpdates", offset=update["update_id"] + 1, timeout=0)
    assert after["result"] == []


async def test_long_poll_times_out_empty(fake: Fake) -> None:
    status, body = await fake.call("getUpdates", timeout=1)
    assert (status, body) == (200, {"ok": True, "result": []})


async def test_allowed_updates_filters_kinds(fake: Fake) -> None:
    await fake.control("message", {"user_id": USER, "text": "hello"})
    _, body = await fake.call("getUpdates", allowed_updates=["callback_query"], timeout=0)
    assert body["result"] == []


async def test_a_second_poller_terminates_the_first_with_409(fake: Fake) -> None:
    first = asyncio.create_task(fake.call("getUpdates", timeout=10))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(fake.call("getUpdates", timeout=1))
    status, body = await asyncio.wait_for(first, 5)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    assert (await second)[0] == 200


async def test_button_press_becomes_a_callback_query_update(fake: Fake) -> None:
    keyboard = {"inline_keyboard": [[{"text": "✅", "callback_data": "ack:abc"}]]}
    _, sent = await fake.call("sendMessage", chat_id=USER, text="alert", reply_markup=keyboard)
    message_id = sent["result"]["message_id"]
    await fake.control("callback", {"user_id": USER, "message_id": message_id, "data": "ack:abc"})
    _, body = await fake.call("getUpdates", timeout=1)
    [update] = body["result"]
    query = update["callback_query"]
    assert query["data"] == "ack:abc"
    assert query["from"]["id"] == USER
    assert query["message"]["message_id"] == message_id
    assert query["message"]["reply_markup"] == keyboard
    status, answered = await fake.call(
        "answerCallbackQuery", callback_query_id=query["id"], text="ثبت شد"
    )
    assert (status, answered["result"]) == (200, True)
    status, _ = await fake.call("answerCallbackQuery", callback_query_id=query["id"])
    assert status == 400
    assert (await fake.control("callbacks"))[query["id"]]["answer"]["text"] == "ثبت شد"


async def test_edits_are_kept_in_the_sent_history(fake: Fake) -> None:
    keyboard = {"inline_keyboard": [[{"text": "✅", "callback_data": "ack:abc"}]]}
    _, sent = await fake.call("sendMessage", chat_id=USER, text="v1", reply_markup=keyboard)
    message_id = sent["result"]["message_id"]
    status, edited = await fake.call(
        "editMessageText", chat_id=USER, message_id=message_id, text="<b>v2</b>", parse_mode="HTML"
    )
    assert status == 200
    assert "reply_markup" not in edited["result"]  # editing without a keyboard drops it
    status, same = await fake.call(
        "editMessageText", chat_id=USER, message_id=message_id, text="<b>v2</b>", parse_mode="HTML"
    )
    assert status == 400
    assert same["description"].startswith("Bad Request: message is not modified")
    status, _ = await fake.call(
        "editMessageReplyMarkup", chat_id=USER, message_id=message_id, reply_markup=keyboard
    )
    assert status == 200
    [record] = await fake.control(f"sent?chat_id={USER}")
    assert record["message_id"] == message_id
    assert (record["text"], record["parse_mode"]) == ("<b>v2</b>", "HTML")
    assert record["reply_markup"] == keyboard
    assert [e.get("text") for e in record["edits"]] == ["<b>v2</b>", None]
    status, _ = await fake.call("editMessageText", chat_id=USER, message_id=99, text="x")
    assert status == 400


async def test_commands_are_stored_per_language(fake: Fake) -> None:
    fa = [{"command": "report", "description": "گزارش حادثه"}]
    en = [{"command": "report", "description": "Report an incident"}]
    assert (await fake.call("setMyCommands", commands=fa, language_code="fa"))[0] == 200
    assert (await fake.call("setMyCommands", commands=en, language_code="en"))[0] == 200
    assert (await fake.call("getMyCommands", language_code="fa"))[1]["result"] == fa
    assert (await fake.call("getMyCommands", language_code="en"))[1]["result"] == en
    assert (await fake.call("getMyCommands"))[1]["result"] == []
    bad = [{"command": "Report!", "description": "x"}]
    status, body = await fake.call("setMyCommands", commands=bad)
    assert (status, body["description"]) == (400, "Bad Request: BOT_COMMAND_INVALID")


async def test_small_methods_answer_like_telegram(fake: Fake) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("deleteWebhook", {"drop_pending_updates": True}),
        ("sendChatAction", {"chat_id": USER, "action": "typing"}),
        ("close", {}),
        ("logOut", {}),
    ]
    for method, params in calls:
        assert await fake.call(method, **params) == (200, {"ok": True, "result": True})
    _, chat = await fake.call("getChat", chat_id=OTHER)
    assert chat["result"]["username"] == "sara"
    _, sent = await fake.call("sendMessage", chat_id=USER, text="x")
    message_id = sent["result"]["message_id"]
    assert (await fake.call("deleteMessage", chat_id=USER, message_id=message_id))[0] == 200
    assert (await fake.call("deleteMessage", chat_id=USER, message_id=message_id))[0] == 400
    await fake.call("setWebhook", url="https://example.com/hook")
    status, body = await fake.call("getUpdates")
    assert status == 409
    assert "webhook is active" in body["description"]


async def test_fault_error_and_rate_limit(fake: Fake) -> None:
    await fake.control("faults", {"mode": "error", "count": 1})
    status, body = await fake.call("sendMessage", chat_id=USER, text="x")
    assert (status, body["ok"], body["error_code"]) == (500, False, 500)
    assert (await fake.call("sendMessage", chat_id=USER, text="x"))[0] == 200  # count used up
    await fake.control("faults", {"mode": "rate_limit", "retry_after": 7})
    status, body = await fake.call("sendMessage", chat_id=USER, text="x")
    assert status == 429
    assert body["parameters"] == {"retry_after": 7}
    stats = await fake.control("stats")
    assert stats["faults"] == {"error": 1, "rate_limit": 1}
    assert stats["violations"] == 0  # injected faults are not the client's fault


async def test_fault_garbage_and_drop(fake: Fake) -> None:
    await fake.control("faults", {"mode": "garbage", "count": 1})
    async with fake.http.post(f"{fake.url}/bot{TOKEN}/getMe") as resp:
        assert resp.status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(await resp.text())
    await fake.control("faults", {"mode": "drop", "count": 1})
    with pytest.raises(aiohttp.ClientConnectionError):
        await fake.call("getMe")


async def test_fault_hang_holds_the_request_until_the_client_gives_up(fake: Fake) -> None:
    await fake.control("faults", {"mode": "hang", "methods": ["sendMessage"]})
    assert (await fake.call("getMe"))[0] == 200  # other methods are untouched
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await fake.call("sendMessage", chat_id=USER, text="x")
    assert (await fake.control("faults"))["methods"] == ["sendmessage"]


async def test_unknown_fault_mode_is_a_400(fake: Fake) -> None:
    async with fake.http.post(f"{fake.url}/_control/faults", json={"mode": "meteor"}) as resp:
        assert resp.status == 400
        assert "unknown fault mode" in (await resp.json())["error"]


async def test_reset_forgets_messages_and_faults_but_keeps_users(fake: Fake) -> None:
    await fake.call("sendMessage", chat_id=USER, text="x")
    await fake.control("faults", {"mode": "error"})
    await fake.control("block", {"chat_id": OTHER})
    await fake.control("reset", {})
    assert await fake.control("sent") == []
    assert (await fake.control("stats"))["sent"] == 0
    assert (await fake.call("sendMessage", chat_id=OTHER, text="x"))[0] == 200


async def test_two_named_fakes_share_one_inbox(http: aiohttp.ClientSession) -> None:
    inbox = Inbox()
    apps = [create_botapi_app(name, inbox, tokens=[TOKEN]) for name in ("bale", "telegram")]
    started = [await start(app) for app in apps]
    try:
        for app, (_, url) in zip(apps, started, strict=True):
            app[BOTAPI_STATE].add_user(USER, "رضا")
            async with http.post(
                f"{url}/bot{TOKEN}/sendMessage", json={"chat_id": USER, "text": "x"}
            ) as resp:
                assert resp.status == 200
    finally:
        for runner, _ in started:
            await runner.cleanup()
    assert [d.service for d in inbox] == ["bale", "telegram"]


async def test_python_telegram_bot_understands_the_fake(fake: Fake) -> None:
    """PTB (what the officers' bot runs on) parses every object the fake returns."""
    bot = telegram.Bot(TOKEN, base_url=f"{fake.url}/bot")
    async with bot:  # initialize() calls getMe
        assert bot.id == 123456
        commands = [telegram.BotCommand("report", "گزارش حادثه")]
        assert await bot.set_my_commands(commands, language_code="fa")
        assert await bot.get_my_commands(language_code="fa") == tuple(commands)
        keyboard = telegram.InlineKeyboardMarkup(
            [[telegram.InlineKeyboardButton("✅", callback_data="ack:1")]]
        )
        sent = await bot.send_message(
            USER, "<b>هشدار</b>", parse_mode="HTML", reply_markup=keyboard
        )
        assert sent.text == "هشدار"
        assert sent.entities[0].type == "bold"
        await fake.control("message", {"user_id": USER, "text": "/start"})
        press = {"user_id": USER, "message_id": sent.message_id, "data": "ack:1"}
        await fake.control("callback", press)
        kinds = ["message", "callback_query"]
        first, second = await bot.get_updates(timeout=1, allowed_updates=kinds)
        assert first.message is not None
        assert first.message.text == "/start"
        assert first.message.from_user is not None
        assert first.message.from_user.language_code == "fa"
        assert second.callback_query is not None
        assert second.callback_query.data == "ack:1"
        assert second.callback_query.message is not None
        assert second.callback_query.message.message_id == sent.message_id
        assert await second.callback_query.answer("ثبت شد")
        edited = await bot.edit_message_text(
            "<i>دریافت شد</i>", USER, sent.message_id, parse_mode="HTML"
        )
        assert not isinstance(edited, bool)
        assert edited.text == "دریافت شد"
        chat = await bot.get_chat(USER)
        assert chat.first_name == "رضا"
        assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == ()


async def test_several_bots_on_one_fake_are_kept_apart(fake: Fake) -> None:
    other_token = "777:OTHER-BOT"
    [_, second] = await fake.control("bots", {"token": other_token, "username": "crisis_b_bot"})
    assert second["username"] == "crisis_b_bot"
    assert "token" not in second
    _, a = await fake.call("sendMessage", chat_id=USER, text="from a")
    _, b = await fake.call("sendMessage", token=other_token, chat_id=USER, text="from b")
    assert a["result"]["message_id"] == b["result"]["message_id"] == 1  # one chat per bot
    assert [m["text"] for m in await fake.control("sent?bot=crisis_b_bot")] == ["from b"]
    await fake.control("message", {"user_id": USER, "text": "hi b", "bot": "crisis_b_bot"})
    assert (await fake.call("getUpdates"))[1]["result"] == []
    _, updates = await fake.call("getUpdates", token=other_token)
    assert [u["message"]["text"] for u in updates["result"]] == ["hi b"]


# -- Telegram's stricter rules --------------------------------------------------------
GROUP = -5001


@pytest.fixture
async def grouped(http: aiohttp.ClientSession) -> AsyncIterator[Fake]:
    """Flood control on, a stepped clock, and a group chat."""
    async for f in make_fake(http):
        await f.control("users", {"id": GROUP, "first_name": "HSE team", "type": "group"})
        yield f


async def test_a_group_gets_20_messages_a_minute(grouped: Fake) -> None:
    for i in range(20):  # one a second: the per-chat limit is kept, the group's fills up
        status, body = await grouped.call("sendMessage", chat_id=GROUP, text=f"alert {i}")
        assert status == 200, body
        grouped.clock.advance(1.01)
    status, body = await grouped.call("sendMessage", chat_id=GROUP, text="the 21st")
    assert status == 429
    retry_after = body["parameters"]["retry_after"]
    assert 35 <= retry_after <= 41  # until the first of the twenty leaves the minute
    assert body["description"] == f"Too Many Requests: retry after {retry_after}"
    stats = await grouped.control("stats")
    assert (stats["violations_group"], stats["violations_chat"]) == (1, 0)
    assert (await grouped.call("sendMessage", chat_id=USER, text="a user is not paced"))[0] == 200
    grouped.clock.advance(retry_after)
    assert (await grouped.call("sendMessage", chat_id=GROUP, text="the 21st, later"))[0] == 200


async def test_a_user_who_never_started_the_bot_is_403_until_start(fake: Fake) -> None:
    await fake.control("users", {"id": 3003, "first_name": "Nima", "started": False})
    status, body = await fake.call("sendMessage", chat_id=3003, text="hello")
    assert (status, body["description"]) == (
        403,
        "Forbidden: bot can't initiate conversation with a user",
    )
    assert (await fake.call("sendChatAction", chat_id=3003, action="typing"))[0] == 403
    update = await fake.control("start", {"user_id": 3003, "payload": "enrol-7f3a"})
    message = update["message"]
    assert message["text"] == "/start enrol-7f3a"
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert message["from"]["id"] == message["chat"]["id"] == 3003
    assert (await fake.call("sendMessage", chat_id=3003, text="welcome"))[0] == 200


async def test_a_blocked_user_and_a_kicked_bot_are_403(fake: Fake) -> None:
    await fake.control("users", {"id": GROUP, "first_name": "HSE", "type": "group"})
    for chat_id in (USER, GROUP):
        await fake.control("chat_fault", {"chat_id": chat_id, "fault": "block"})
    _, user = await fake.call("sendMessage", chat_id=USER, text="x")
    _, group = await fake.call("sendMessage", chat_id=GROUP, text="x")
    assert user["description"] == "Forbidden: bot was blocked by the user"
    assert group["description"] == "Forbidden: bot was kicked from the group chat"
    await fake.control("chat_fault", {"chat_id": USER, "fault": "unblock"})
    assert (await fake.call("sendMessage", chat_id=USER, text="x"))[0] == 200


async def test_a_group_upgraded_to_a_supergroup_answers_migrate_to_chat_id(fake: Fake) -> None:
    await fake.control("users", {"id": GROUP, "first_name": "HSE", "type": "group"})
    shown = await fake.control("chat_fault", {"chat_id": GROUP, "fault": "migrate"})
    new_id = shown["migrate_to_chat_id"]
    assert new_id == -1005001
    status, body = await fake.call("sendMessage", chat_id=GROUP, text="alert")
    assert (status, body) == (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": new_id},
        },
    )
    status, body = await fake.call("sendMessage", chat_id=new_id, text="alert")
    assert status == 200
    assert body["result"]["chat"] == {"id": new_id, "type": "supergroup", "title": "HSE"}
    bot = telegram.Bot(TOKEN, base_url=f"{fake.url}/bot")
    async with bot:
        with pytest.raises(telegram.error.ChatMigrated) as migrated:
            await bot.send_message(GROUP, "alert")
    assert migrated.value.new_chat_id == new_id


# PTB 22's RetryAfter reads its own deprecated int property (as in tests/test_bot_world.py).
@pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:telegram.warnings.PTBDeprecationWarning"
)
async def test_a_429_on_one_chat_on_demand(fake: Fake) -> None:
    fault = {"chat_id": USER, "fault": "rate_limit", "retry_after": 7, "count": 1}
    await fake.control("chat_fault", fault)
    status, body = await fake.call("sendMessage", chat_id=USER, text="x")
    assert (status, body["parameters"]) == (429, {"retry_after": 7})
    assert (await fake.call("sendMessage", chat_id=OTHER, text="x"))[0] == 200  # others fine
    assert (await fake.call("sendMessage", chat_id=USER, text="x"))[0] == 200  # count used
    await fake.control("chat_fault", {"chat_id": USER, "fault": "rate_limit"})
    bot = telegram.Bot(TOKEN, base_url=f"{fake.url}/bot")
    async with bot:
        with pytest.raises(telegram.error.RetryAfter):
            await bot.send_message(USER, "x")
    await fake.control("chat_fault", {"chat_id": USER, "fault": "none"})
    assert (await fake.call("sendMessage", chat_id=USER, text="x"))[0] == 200
    with pytest.raises(AssertionError, match="unknown chat fault"):
        await fake.control("chat_fault", {"chat_id": USER, "fault": "meteor"})


async def test_a_shared_contact_arrives_as_message_contact(fake: Fake) -> None:
    update = await fake.control("contact", {"user_id": USER, "phone_number": "989121234567"})
    message = update["message"]
    assert "text" not in message
    assert message["contact"] == {
        "phone_number": "989121234567",
        "first_name": "رضا",
        "user_id": USER,
    }
    someone = {"user_id": USER, "phone_number": "+989350000000", "first_name": "Ali"}
    other = await fake.control("contact", someone | {"contact_user_id": None})
    assert "user_id" not in other["message"]["contact"]  # a card, not the sender's own number
    bot = telegram.Bot(TOKEN, base_url=f"{fake.url}/bot")
    async with bot:
        first, second = await bot.get_updates(timeout=0)
    assert first.message is not None and first.message.contact is not None
    assert first.message.contact.user_id == USER
    assert first.message.contact.phone_number == "989121234567"
    assert second.message is not None and second.message.contact is not None
    assert second.message.contact.user_id is None


async def test_webhook_deliveries_carry_the_secret_token(fake: Fake, hook: Hook) -> None:
    status, body = await fake.call("setWebhook", url=hook.url, secret_token="s3cr-et_1")
    assert (status, body["result"]) == (200, True)
    injected = await fake.control("message", {"user_id": USER, "text": "/report"})
    await arrival(hook, 1)
    headers, update = hook.received[0]
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr-et_1"
    assert update == injected
    _, info = await fake.call("getWebhookInfo")
    assert info["result"]["url"] == hook.url
    assert info["result"]["pending_update_count"] == 0
    status, body = await fake.call("setWebhook", url=hook.url, secret_token="not/allowed=")
    assert (status, body["description"]) == (
        400,
        "Bad Request: secret token contains unallowed characters",
    )


async def test_a_failing_webhook_is_retried_and_reported(fake: Fake, hook: Hook) -> None:
    fake.state.webhooks.retry_seconds = 0.01
    hook.status = 500
    await fake.call("setWebhook", url=hook.url)
    await fake.control("message", {"user_id": USER, "text": "/status"})
    await arrival(hook, 2)  # refused, tried again
    _, info = await fake.call("getWebhookInfo")
    assert info["result"]["pending_update_count"] == 1
    assert info["result"]["last_error_message"] == (
        "Wrong response from the webhook: 500 Internal Server Error"
    )
    assert "X-Telegram-Bot-Api-Secret-Token" not in hook.received[0][0]  # none was set
    hook.status = 200
    seen = len(hook.received)
    await arrival(hook, seen + 1)
    while (await fake.call("getWebhookInfo"))[1]["result"]["pending_update_count"]:
        await asyncio.sleep(0.01)
    assert fake.state.stats.webhook_deliveries == 1
    assert (await fake.call("deleteWebhook"))[0] == 200
    assert (await fake.call("getUpdates"))[0] == 200  # polling again
