"""The bot's replies on Bale and Telegram, over real HTTP against a scripted Bot API.

What Bale does that the sandbox fake (before its Bale mode) does not: edits answered with
``true`` or a partial object, ``editMessageReplyMarkup`` missing (404). None of it may
raise out of the bot; a keyboard is then taken off by editing the text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from crisisd.bot.replies import MessengerBot, edit, send, toast, unbutton
from crisisd.channels.capabilities import BALE, TELEGRAM
from crisisd.formats.textfit import telegram_length
from tests.bale_reader import bale_visible

TOKEN = "4242:REPLIES-TOKEN"
RLM = "\u200f"
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("✖️ انصراف", callback_data="c:1:x")]])


@dataclass
class BotApi:
    """Answers each method from ``answers`` (a list per method, in turn), else like Telegram."""

    url: str = ""
    answers: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = {key: str(value) for key, value in (await request.post()).items()}
        self.calls.append((method, params))
        queued = self.answers.get(method)
        if queued:
            status, body = queued.pop(0)
            return web.json_response(body, status=status)
        if method == "getMe":
            user = {"id": 4242, "is_bot": True, "first_name": "crisisd", "username": "crisisd_bot"}
            return web.json_response({"ok": True, "result": user})
        chat = {"id": int(params.get("chat_id", 0)), "type": "private"}
        message = {"message_id": 7, "date": 0, "chat": chat, "text": params.get("text", "")}
        return web.json_response({"ok": True, "result": message})

    def called(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]


@pytest.fixture
async def api() -> AsyncIterator[BotApi]:
    fake = BotApi()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield fake
    await runner.cleanup()


async def _bot(api: BotApi, bale: bool) -> MessengerBot:
    bot = MessengerBot(
        TOKEN,
        dialect="bale_markdown" if bale else "telegram_html",
        caps=BALE if bale else TELEGRAM,
        base_url=f"{api.url}/bot",
    )
    await bot.initialize()
    return bot


@pytest.mark.parametrize(
    "answer",
    [
        {"ok": True, "result": True},  # Bale's stub
        {"ok": True, "result": {"message_id": 7, "chat": {"id": 1001, "type": "private"}}},
    ],
    ids=["true", "partial"],
)
async def test_an_edit_answered_without_a_message_is_done(api: BotApi, answer: Any) -> None:
    api.answers["editMessageText"] = [(200, answer)]
    bot = await _bot(api, bale=True)
    try:
        assert await edit(bot, 1001, 7, "<b>گام بعد</b>", "fa", KEYBOARD) is True
    finally:
        await bot.shutdown()
    [params] = api.called("editMessageText")
    assert "parse_mode" not in params and "link_preview_options" not in params
    assert bale_visible(params["text"]) == f"{RLM}گام بعد"


async def test_without_keyboard_edits_the_text_is_edited_instead(api: BotApi) -> None:
    not_found = {"ok": False, "error_code": 404, "description": "Not Found"}
    api.answers["editMessageReplyMarkup"] = [(404, not_found)]
    api.answers["editMessageText"] = [(200, {"ok": True, "result": True})] * 2
    bot = await _bot(api, bale=True)
    try:
        await unbutton(bot, 1001, 7, "پیش‌نمایش <b>آماده</b>", "fa")
        assert not bot.keyboard_edits  # learnt once ...
        await unbutton(bot, 1001, 8, "پرسش بعدی", "fa")
        await unbutton(bot, 1001, 9)  # text unknown: the buttons stay, nothing raises
    finally:
        await bot.shutdown()
    assert len(api.called("editMessageReplyMarkup")) == 1  # ... and not asked again
    first, second = api.called("editMessageText")
    assert (first["message_id"], second["message_id"]) == ("7", "8")
    assert "reply_markup" not in first  # the text again, without its keyboard
    assert bale_visible(first["text"]) == f"{RLM}پیش‌نمایش آماده"


async def test_refused_edits_say_so_and_never_raise(api: BotApi) -> None:
    gone = {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}
    missing = {"ok": False, "error_code": 404, "description": "Not Found"}
    api.answers["editMessageText"] = [(400, gone), (404, missing), (500, {"ok": False})]
    bot = await _bot(api, bale=False)
    try:
        assert [await edit(bot, 1, 2, "x", "en") for _ in range(3)] == [False, False, False]
    finally:
        await bot.shutdown()


async def test_telegram_gets_html_fitted_with_its_rlm(api: BotApi) -> None:
    bot = await _bot(api, bale=False)
    html = "<b>هشدار</b> " + "آ" * 5000
    try:
        message_id = await send(bot, 2001, html, "fa", KEYBOARD)
    finally:
        await bot.shutdown()
    assert message_id == 7
    [params] = api.called("sendMessage")
    assert params["parse_mode"] == "HTML"
    assert params["text"].startswith(f"{RLM}<b>")
    assert telegram_length(params["text"]) == 4096  # the RLM counted, not added after


async def test_bale_send_has_no_parse_mode_and_a_stub_answer_is_fine(api: BotApi) -> None:
    api.answers["sendMessage"] = [(200, {"ok": True, "result": True})]
    bot = await _bot(api, bale=True)
    try:
        assert await send(bot, 1001, "<b>سلام</b> *کاربر*", "fa") is None
    finally:
        await bot.shutdown()
    [params] = api.called("sendMessage")
    assert "parse_mode" not in params
    assert bale_visible(params["text"]) == f"{RLM}سلام *کاربر*"


def test_toasts_are_plain_and_short() -> None:
    assert toast("&lt;b&gt; <b>دریافت</b> &amp; ") == "<b> دریافت &"
    assert len(toast("د" * 500)) == 200
