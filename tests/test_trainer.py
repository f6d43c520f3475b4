"""The training chat page over real HTTP: the sandbox's fakes, the page mounted on the inbox
page as the runner mounts it, and the bot's side played by calling the fake Bot API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from crisisd.library.loader import load_library
from crisisd.sandbox.runner import (
    Sandbox,
    bale_strict_for,
    messenger_mode,
    sandbox_token,
    start_sandbox,
)
from crisisd.sandbox.trainer import TrainerUser, create_trainer_app, trainer_users
from crisisd.sandbox.trainer_users import newcomer_id
from crisisd.sandbox.web import create_inbox_app
from tests.minitree import make_tree

OFFICER, STAFF, BOSS = 1001, 1002, 1003  # chat ids on bale in tests/minitree.py
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@dataclass
class Site:
    sb: Sandbox
    url: str  # the training page, ending in /train/
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.text(), dict(response.headers)

    async def get_json(self, path: str, **query: object) -> tuple[int, Any]:
        params = {k: str(v) for k, v in query.items()}
        async with self.http.get(self.url + path, params=params) as response:
            return response.status, await response.json()

    async def post(self, path: str, body: object) -> tuple[int, Any]:
        async with self.http.post(self.url + path, json=body) as response:
            return response.status, await response.json()

    async def chat(self, chat_id: int = OFFICER, messenger: str = "bale") -> dict[str, Any]:
        status, data = await self.get_json("api/chat", messenger=messenger, chat_id=chat_id)
        assert status == 200, data
        result: dict[str, Any] = data
        return result

    async def bot(self, method: str, messenger: str = "bale", **params: Any) -> Any:
        """Play the bot: call the fake Bot API over HTTP with the sandbox token."""
        url = f"{self.sb.botapi_urls[messenger]}{sandbox_token(messenger)}/{method}"
        async with self.http.post(url, json=params) as response:
            body = await response.json()
        assert body["ok"], body
        return body["result"]


@asynccontextmanager
async def open_site(tmp_path: Path, **sandbox: Any) -> AsyncIterator[Site]:
    config = make_tree(tmp_path / "tree")
    lib = load_library(config)
    # These tests play the bot with Telegram HTML on the "bale" fake; Bale's own rules are
    # tested in test_sandbox_botapi_bale.py.
    sandbox.setdefault("bale_strict", False)
    sb = await start_sandbox(config, enforce_limits=False, **sandbox)
    sb.seed(lib.directory)
    # As runner.py mounts it: under /train/ on the inbox page's application.
    inbox = create_inbox_app(sb.inbox)
    users = trainer_users(lib.directory, lib.playbooks, list(sb.botapi))
    trainer = create_trainer_app(sb.botapi, users)
    inbox.add_subapp("/train/", trainer)
    runner = web.AppRunner(inbox, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            yield Site(sb, f"http://{host}:{port}/train/", http)
    finally:
        await runner.cleanup()
        await sb.aclose()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async with open_site(tmp_path) as opened:
        yield opened


def keyboard(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": t, "callback_data": d} for t, d in row] for row in rows]}


async def test_page_is_persian_rtl_offline_and_without_inline_script(site: Site) -> None:
    status, page, headers = await site.get("")

    assert status == 200
    assert '<html lang="fa" dir="rtl">' in page
    assert "گفت‌وگوی تمرینی" in page and "Training chat" in page
    assert 'data-base="/train/"' in page  # the script finds its endpoints under the mount
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/train/trainer.js" defer>']  # none inline
    assert "/train/trainer.css" in page
    for path, kind in (("trainer.js", "text/javascript"), ("trainer.css", "text/css")):
        status, text, headers = await site.get(path)
        assert status == 200 and headers["Content-Type"].startswith(kind)
        assert not re.search(r"https?://|//cdn|@import|@font-face|url\(", text), path
    assert not re.search(r"https?://", page)  # nothing fetched from anywhere else


async def test_users_are_listed_per_messenger_officers_first_with_their_names(
    site: Site,
) -> None:
    site.sb.botapi["bale"].add_user(4242, "Walk-in tester")

    status, data = await site.get_json("api/users")

    assert status == 200
    names = [m["name"] for m in data["messengers"]]
    assert names == ["bale", "telegram"]
    assert data["messengers"][0]["bot"]["is_bot"] is True
    assert data["messengers"][0]["label"].startswith("بله")
    bale = [u for u in data["users"] if u["messenger"] == "bale"]
    assert [u["chat_id"] for u in bale] == [OFFICER, BOSS, STAFF, 4242]
    officer = bale[0]
    assert officer["role"] == "officer" and officer["officer_of"] == ["mini"]
    assert (officer["name_fa"], officer["name_en"]) == ("مریم احمدی", "Maryam Ahmadi")
    assert {u["role"] for u in bale[1:3]} == {"contact"}
    assert bale[3]["role"] == "other" and bale[3]["name_en"] == "Walk-in tester"
    telegram = [u for u in data["users"] if u["messenger"] == "telegram"]
    assert [(u["chat_id"], u["contact_id"], u["role"]) for u in telegram] == [
        (2002, "staff.b", "contact"),
        (newcomer_id("officer.a"), "officer.a", "newcomer"),  # a phone, no Telegram chat id
    ]
    assert telegram[1]["phone"] == "989121112233"


async def test_a_typed_message_is_queued_as_that_users_update(site: Site) -> None:
    status, sent = await site.post(
        "api/send", {"messenger": "bale", "chat_id": OFFICER, "text": " /report "}
    )

    assert status == 200 and sent["ok"]
    # What the bot's next getUpdates returns, over real HTTP.
    updates = await site.bot("getUpdates", timeout=0)
    assert len(updates) == 1
    message = updates[0]["message"]
    assert message["text"] == "/report"
    assert message["from"]["id"] == OFFICER and message["chat"]["id"] == OFFICER
    assert message["from"]["is_bot"] is False
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    assert message["message_id"] == sent["message_id"]
    chat = await site.chat()
    assert [(m["from"], m["html"], m["fetched"]) for m in chat["messages"]] == [
        ("user", "/report", False)  # one tick: the bot has not confirmed it yet
    ]
    await site.bot("getUpdates", offset=updates[0]["update_id"] + 1, timeout=0)
    assert (await site.chat())["messages"][0]["fetched"] is True  # two ticks
    # Another messenger's queue and another person's chat are untouched.
    assert await site.bot("getUpdates", messenger="telegram", timeout=0) == []
    assert (await site.chat(STAFF))["messages"] == []


async def test_bot_messages_show_their_latest_text_buttons_and_an_edit_mark(site: Site) -> None:
    await site.post("api/send", {"messenger": "bale", "chat_id": OFFICER, "text": "/report"})
    first = await site.bot(
        "sendMessage",
        chat_id=OFFICER,
        text="\u200fگزارش حادثه — <b>چه اتفاقی افتاده؟</b>",
        parse_mode="HTML",
        reply_markup=keyboard([("آتش‌سوزی", "c:ab:t:0"), ("نشت گاز", "c:ab:t:1")]),
    )
    before = (await site.chat())["rev"]
    await site.bot(
        "editMessageText",
        chat_id=OFFICER,
        message_id=first["message_id"],
        text="\u200f<b>آتش‌سوزی</b>: شدت حادثه؟",
        parse_mode="HTML",
        reply_markup=keyboard(
            [("جزئی", "c:ab:s:0"), ("شدید", "c:ab:s:1")], [("✖️ انصراف", "c:ab:x")]
        ),
    )
    progress = await site.bot("sendMessage", chat_id=OFFICER, text="📊 وضعیت ارسال")
    await site.bot(  # buttons only: Telegram does not mark that "edited"
        "editMessageReplyMarkup",
        chat_id=OFFICER,
        message_id=progress["message_id"],
        reply_markup=keyboard([("↻", "refresh")]),
    )
    await site.bot("sendMessage", chat_id=STAFF, text="someone else's alert")

    chat = await site.chat()

    assert chat["rev"] != before
    assert [(m["id"], m["from"]) for m in chat["messages"]] == [(1, "user"), (2, "bot"), (3, "bot")]
    step = chat["messages"][1]
    assert step["html"] == "\u200f<b>آتش‌سوزی</b>: شدت حادثه؟"
    assert step["edited"] is True and step["edits"] == 1
    assert step["buttons"] == [
        [{"text": "جزئی", "data": "c:ab:s:0"}, {"text": "شدید", "data": "c:ab:s:1"}],
        [{"text": "✖️ انصراف", "data": "c:ab:x"}],
    ]
    assert re.fullmatch(r"[۰-۹]{2}:[۰-۹]{2}", step["time"])
    assert chat["messages"][2]["edited"] is False
    assert chat["messages"][2]["buttons"] == [[{"text": "↻", "data": "refresh"}]]
    assert chat["rev"] == (await site.chat())["rev"]  # unchanged chat, same revision


async def test_a_pressed_button_is_queued_as_a_callback_query_and_its_answer_shown(
    site: Site,
) -> None:
    alert = await site.bot(
        "sendMessage",
        chat_id=STAFF,
        text="\u200f<b>هشدار آتش‌سوزی</b> — سالن ۲",
        parse_mode="HTML",
        reply_markup=keyboard([("✅ دریافت شد", "ack:0a1b2c3d")]),
    )

    status, pressed = await site.post(
        "api/press",
        {
            "messenger": "bale",
            "chat_id": STAFF,
            "message_id": alert["message_id"],
            "data": "ack:0a1b2c3d",
        },
    )

    assert status == 200 and pressed["ok"]
    updates = await site.bot("getUpdates", timeout=0)
    query = updates[-1]["callback_query"]
    assert query["id"] == pressed["callback_query_id"]
    assert query["data"] == "ack:0a1b2c3d"
    assert query["from"]["id"] == STAFF
    assert query["message"]["message_id"] == alert["message_id"]
    assert query["message"]["chat"]["id"] == STAFF
    # The bot answers (a toast on a phone) and stamps the alert, taking the button away.
    await site.bot(
        "answerCallbackQuery", callback_query_id=query["id"], text="✅ دریافت شد ساعت ۱۰:۳۰"
    )
    await site.bot(
        "editMessageText",
        chat_id=STAFF,
        message_id=alert["message_id"],
        text="\u200f<b>هشدار آتش‌سوزی</b> — سالن ۲\n\n✅ دریافت شد ساعت ۱۰:۳۰",
        parse_mode="HTML",
    )
    chat = await site.chat(STAFF)
    assert chat["toasts"] == [
        {"id": query["id"], "text": "✅ دریافت شد ساعت ۱۰:۳۰", "alert": False}
    ]
    (shown,) = chat["messages"]
    assert shown["buttons"] == [] and shown["edited"] is True
    assert shown["html"].endswith("✅ دریافت شد ساعت ۱۰:۳۰")
    # The button is gone: pressing it again is refused, as Telegram would never deliver it.
    status, refused = await site.post(
        "api/press",
        {
            "messenger": "bale",
            "chat_id": STAFF,
            "message_id": alert["message_id"],
            "data": "ack:0a1b2c3d",
        },
    )
    assert status == 409 and "no longer" in refused["error"]
    assert len(await site.bot("getUpdates", timeout=0)) == len(updates)


async def test_hostile_text_is_escaped_and_only_telegram_tags_survive(site: Site) -> None:
    await site.post("api/send", {"messenger": "bale", "chat_id": OFFICER, "text": HOSTILE})
    await site.bot("sendMessage", chat_id=OFFICER, text=HOSTILE)  # no parse_mode: all text
    await site.bot(
        "sendMessage",
        chat_id=OFFICER,
        text='<b>bold</b> &lt;script&gt;alert(3)&lt;/script&gt; <a href="javascript:alert(4)">x</a>'
        ' <a href="https://example.com/a?b=1&amp;c=2">ok</a> <code>&lt;i&gt;</code>',
        parse_mode="HTML",
        reply_markup={
            "inline_keyboard": [
                [{"text": "<img src=x onerror=alert(5)>", "callback_data": "d"}],
                [
                    {"text": "evil", "url": "javascript:alert(6)"},
                    {"text": "ok", "url": "https://example.com"},
                ],
            ]
        },
    )

    user, plain, html = (await site.chat())["messages"]

    for shown in (user, plain):
        assert shown["html"] == (
            "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
        )
    assert "<b>bold</b>" in html["html"]
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in html["html"]
    assert "<script" not in html["html"] and "javascript:" not in html["html"]
    assert " x <a href" in html["html"]  # Telegram drops a javascript: link, keeps its text
    assert (
        '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">ok</a>'
        in html["html"]
    )
    assert "<code>&lt;i&gt;</code>" in html["html"]
    # Button labels travel as data (the page sets them as text); unsafe links are inert.
    assert html["buttons"] == [
        [{"text": "<img src=x onerror=alert(5)>", "data": "d"}],
        [{"text": "evil"}, {"text": "ok", "url": "https://example.com"}],
    ]
    _status, script, _headers = await site.get("trainer.js")
    assert "textContent = b.text" in script  # labels never go through innerHTML


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (
            "api/send",
            {"messenger": "whatsapp", "chat_id": OFFICER, "text": "hi"},
            404,
            "unknown messenger",
        ),
        ("api/send", {"messenger": "bale", "chat_id": 777, "text": "hi"}, 404, "unknown user"),
        ("api/send", {"messenger": "bale", "chat_id": "x", "text": "hi"}, 400, "integer"),
        ("api/send", {"messenger": "bale", "chat_id": OFFICER, "text": "   "}, 400, "empty"),
        ("api/send", {"messenger": "bale", "chat_id": OFFICER, "text": "x" * 4097}, 400, "longer"),
        ("api/send", ["not", "an", "object"], 400, "object"),
        (
            "api/press",
            {"messenger": "bale", "chat_id": OFFICER, "message_id": 99, "data": "d"},
            404,
            "no such message",
        ),
        (
            "api/press",
            {"messenger": "bale", "chat_id": OFFICER, "message_id": "x", "data": "d"},
            400,
            "integer",
        ),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    site: Site, path: str, body: object, status: int, error: str
) -> None:
    got, data = await site.post(path, body)

    assert (got, error in data["error"]) == (status, True), data
    assert await site.bot("getUpdates", timeout=0) == []


async def test_posts_must_be_json_and_the_users_own_message_has_no_buttons_to_press(
    site: Site,
) -> None:
    async with site.http.post(
        site.url + "api/send", data={"messenger": "bale", "chat_id": OFFICER, "text": "/report"}
    ) as response:  # a form post (what another site could make a browser send) is refused
        assert response.status == 415
    _status, sent = await site.post(
        "api/send", {"messenger": "bale", "chat_id": OFFICER, "text": "/report"}
    )
    status, data = await site.post(
        "api/press",
        {"messenger": "bale", "chat_id": OFFICER, "message_id": sent["message_id"], "data": "x"},
    )
    assert status == 404, data
    status, data = await site.get_json("api/chat", messenger="bale", chat_id=555)
    assert status == 404 and "unknown user" in data["error"]


async def test_users_from_a_function_are_read_per_request_and_registered_on_first_use(
    tmp_path: Path,
) -> None:
    config = make_tree(tmp_path / "tree")
    sb = await start_sandbox(config)  # not seeded: the fake knows nobody yet
    roster: list[TrainerUser] = []
    runner = web.AppRunner(create_trainer_app(sb.botapi, lambda: roster), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "api/users") as response:
                assert (await response.json())["users"] == []
            roster.append(TrainerUser("telegram", 2002, "علی بهرامی", "Ali Bahrami", "staff.b"))
            async with http.get(url + "api/users") as response:
                users = (await response.json())["users"]
            assert [(u["messenger"], u["chat_id"], u["role"]) for u in users] == [
                ("telegram", 2002, "contact")
            ]
            async with http.post(
                url + "api/send", json={"messenger": "telegram", "chat_id": 2002, "text": "/help"}
            ) as response:
                assert response.status == 200
            async with http.get(url) as response:
                assert 'data-base="/"' in await response.text()
    finally:
        await runner.cleanup()
        await sb.aclose()
    assert sb.botapi["telegram"].chats[2002].first_name == "Ali Bahrami"


def test_static_files_ship_inside_the_package() -> None:
    static = resources.files("crisisd.sandbox").joinpath("static")
    for name in ("trainer.js", "trainer.css"):
        assert static.joinpath(name).is_file(), name


async def test_telegram_formatting_is_shown_and_its_tags_are_not(site: Site) -> None:
    await site.bot(
        "sendMessage",
        messenger="telegram",
        chat_id=2002,
        text="\u200f<b>هشدار</b> <blockquote expandable>جزئیات <i>بیشتر</i></blockquote>"
        "<tg-spoiler>نام</tg-spoiler> &lt;b&gt;",
        parse_mode="HTML",
    )

    (shown,) = (await site.chat(2002, "telegram"))["messages"]

    assert shown["html"] == (
        '\u200f<b>هشدار</b> <blockquote class="expandable">جزئیات <i>بیشتر</i></blockquote>'
        '<span class="spoiler">نام</span> &lt;b&gt;'
    )


async def test_bale_shows_its_markdown_and_leaves_html_tags_visible(tmp_path: Path) -> None:
    async with open_site(tmp_path, bale_strict=True) as site:
        await site.bot(
            "sendMessage",
            chat_id=OFFICER,
            text="*\u200fگزارش حادثه* <b>چه اتفاقی افتاده؟</b> _فوری_ `KMT-479`",
            parse_mode="HTML",  # Bale has no parse_mode: what the reader sees is the text
        )
        await site.post("api/send", {"messenger": "bale", "chat_id": OFFICER, "text": "*typed*"})
        site.sb.botapi["bale"].inject_contact(OFFICER, "989121110000", first_name="مریم")

        bot, typed, contact = (await site.chat())["messages"]

    assert bot["html"] == (
        "<b>\u200fگزارش حادثه</b> &lt;b&gt;چه اتفاقی افتاده؟&lt;/b&gt; <i>فوری</i> `KMT-479`"
    )
    assert typed["html"] == "*typed*"  # the user's own text is shown as typed
    assert contact["html"] == '📞 مریم <bdi dir="ltr">989121110000</bdi>'


async def test_the_sandbox_plays_bale_for_bale_and_telegram_for_telegram(tmp_path: Path) -> None:
    config = make_tree(tmp_path / "tree")
    bale = config.messengers[0]
    assert (bale.name, messenger_mode(bale)) == ("bale", "bale")
    news = bale.model_copy(update={"name": "news", "base_url": "https://tapi.bale.ai/bot"})
    assert messenger_mode(news) == "bale"
    other = bale.model_copy(
        update={
            "name": "tg2",
            "base_url": "https://api.telegram.org/bot",
            "format": "telegram_html",
        }
    )
    assert messenger_mode(other) == "telegram"
    # Once messengers have a format (the daemon speaks each dialect), Bale is strict.
    formatted = other.model_copy(update={"format": "bale_markdown"})
    assert messenger_mode(formatted) == "bale"
    assert bale_strict_for(formatted, None) is True
    assert bale_strict_for(bale, None) is True  # messengers have a format: Bale is strict
    assert bale_strict_for(formatted, False) is False
    for strict in (None, True):
        sb = await start_sandbox(config, bale_strict=strict)
        try:
            dialects = {name: state.dialect for name, state in sb.botapi.items()}
        finally:
            await sb.aclose()
        assert (dialects["bale"].mode, dialects["bale"].bale) == ("bale", True)
        assert (dialects["telegram"].mode, dialects["telegram"].bale) == ("telegram", False)
