"""The sandbox inbox page over real HTTP on loopback."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from crisisd.sandbox.botapi import BOTAPI_STATE, create_botapi_app
from crisisd.sandbox.botapi_render import sanitize_chat_html
from crisisd.sandbox.inbox import Inbox
from crisisd.sandbox.web import create_inbox_app

CHAT = "\u200f<b>هشدار آتش‌سوزی</b> در سالن ۲ — fire in hall 2 <script>alert(1)</script>"
EMAIL_HTML = (
    '<html dir="rtl" lang="fa"><body><p>بیانیهٔ مطبوعاتی</p><script>steal()</script></body></html>'
)


@dataclass
class Site:
    inbox: Inbox
    url: str
    http: aiohttp.ClientSession

    async def get(self, path: str) -> tuple[int, str, dict[str, str]]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.text(), dict(response.headers)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    inbox = Inbox()
    inbox.add("bale", "chat", "48213377", CHAT)
    inbox.add("kavenegar", "sms", "+989121234567", "هشدار: تخلیه سالن ۲", sender="10008663")
    inbox.add(
        "smtp",
        "email",
        "desk@isna.ir",
        "بیانیهٔ مطبوعاتی فولاد شهریار",
        subject="بیانیه — statement",
        html=EMAIL_HTML,
        extra={"headers": {"X-Crisisd-Drill": "yes"}, "message_id": "<x@crisisd.ir>"},
    )
    runner = web.AppRunner(create_inbox_app(inbox))
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as http:
        yield Site(inbox, f"http://{host}:{port}", http)
    await runner.cleanup()


async def test_page_is_persian_rtl_and_escapes_what_it_must(site: Site) -> None:
    status, page, headers = await site.get("/")

    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert '<html lang="fa" dir="rtl">' in page
    assert "صندوق پیام‌های آزمایشی — Sandbox inbox" in page
    assert "<b>هشدار آتش‌سوزی</b>" in page  # allowed Telegram markup is rendered
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>steal" not in page
    assert 'dir="auto"' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "هشدار: تخلیه سالن ۲" in page
    assert "بیانیه — statement" in page
    assert "مانور — drill" in page
    assert re.search(r'(src|href)="(https?:)?//', page) is None  # works offline: no CDN


async def test_newest_first(site: Site) -> None:
    _, page, _ = await site.get("/")
    order = [int(n) for n in re.findall(r'<article class="msg \w+" id="m(\d+)"', page)]
    assert order == [3, 2, 1]

    site.inbox.add("telegram", "chat", "48213377", "به‌روزرسانی — update")
    _, page, _ = await site.get("/")
    assert re.findall(r'id="m(\d+)"', page)[0] == "4"


async def test_filters_by_channel_and_recipient(site: Site) -> None:
    _, page, _ = await site.get("/?channel=sms")
    assert re.findall(r'id="m(\d+)"', page) == ["2"]
    _, page, _ = await site.get("/?channel=bale")  # a service name works too
    assert re.findall(r'id="m(\d+)"', page) == ["1"]
    _, page, _ = await site.get("/?to=desk%40isna.ir")
    assert re.findall(r'id="m(\d+)"', page) == ["3"]
    _, page, _ = await site.get("/?to=nobody")
    assert "No messages yet" in page


async def test_api_messages_since(site: Site) -> None:
    async with site.http.get(site.url + "/api/messages", params={"since": "1"}) as response:
        assert response.status == 200
        data = await response.json()
    assert [m["id"] for m in data["messages"]] == [2, 3]
    assert data["last_id"] == 3
    assert data["messages"][1]["subject"] == "بیانیه — statement"

    async with site.http.get(site.url + "/api/messages?since=1&channel=email") as response:
        assert [m["id"] for m in (await response.json())["messages"]] == [3]
    async with site.http.get(site.url + "/api/messages?since=abc") as response:
        assert response.status == 400


async def test_html_email_is_shown_in_a_sandboxed_iframe(site: Site) -> None:
    status, page, headers = await site.get("/message/3")
    assert status == 200
    (iframe,) = re.findall(r"<iframe[^>]*>", page)
    assert 'sandbox=""' in iframe
    assert "&lt;script&gt;steal()&lt;/script&gt;" in iframe  # inert text inside srcdoc
    assert "<script>steal" not in page
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none'

    status, _, _ = await site.get("/message/99")
    assert status == 404


async def test_static_assets(site: Site) -> None:
    status, css, _ = await site.get("/inbox.css")
    assert status == 200
    assert "Vazirmatn" in css
    assert "unicode-bidi:plaintext" in css
    status, js, _ = await site.get("/inbox.js")
    assert status == 200
    assert "/api/messages" in js


@pytest.mark.parametrize(
    ("markup", "safe"),
    [
        ("<b>پررنگ</b> <i>کج</i>", "<b>پررنگ</b> <i>کج</i>"),
        ('<b onclick="x()">y</b>', "<b>y</b>"),
        ('<a href="javascript:alert(1)">x</a>', "<a>x</a>"),
        (
            '<a href="https://crisisd.example/ack?k=1&amp;t=2">تأیید</a>',
            '<a href="https://crisisd.example/ack?k=1&amp;t=2" rel="noopener noreferrer nofollow">'
            "تأیید</a>",
        ),
        ("<i><b>x</i>", "<i><b>x</b></i>"),
        ("<b>unclosed", "<b>unclosed</b>"),
        ('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("<strong>s</strong><code>c</code><pre>p</pre>", "<b>s</b><code>c</code><pre>p</pre>"),
        ("</u>stray", "&lt;/u&gt;stray"),
        ("<!-- note -->", "&lt;!-- note --&gt;"),
        ("<blockquote expandable>q</blockquote>", '<blockquote class="expandable">q</blockquote>'),
        (
            '<tg-spoiler>a</tg-spoiler><span class="x">b</span>',
            '<span class="spoiler">a</span>&lt;span class=&quot;x&quot;&gt;b&lt;/span&gt;',
        ),
    ],
)
def test_sanitize_chat_html(markup: str, safe: str) -> None:
    assert sanitize_chat_html(markup) == safe


async def test_chat_messages_are_shown_as_each_messenger_shows_them() -> None:
    """Sent through the fakes over HTTP: Telegram's entities, Bale's Markdown, and text
    without parse_mode shown as the characters it is."""
    inbox = Inbox()
    apps = {
        "telegram": create_botapi_app("telegram", inbox, tokens=["1:T"], enforce_limits=False),
        "bale": create_botapi_app("bale", inbox, mode="bale", tokens=["2:B"]),
    }
    page = web.AppRunner(create_inbox_app(inbox))
    await page.setup()
    await web.TCPSite(page, "127.0.0.1", 0).start()
    runners = [web.AppRunner(app) for app in apps.values()]
    urls = {}
    for (name, app), runner in zip(apps.items(), runners, strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        app[BOTAPI_STATE].add_user(1001, "رضا")
        token = "1:T" if name == "telegram" else "2:B"
        urls[name] = f"http://127.0.0.1:{runner.addresses[0][1]}/bot{token}"
    sends = [
        ("telegram", "\u200f<b>هشدار</b><blockquote expandable>جزئیات</blockquote>", "HTML"),
        ("telegram", "<b>not bold</b> *nor this*", None),
        ("bale", "\u200f<b>تگ</b> *پررنگ* _کج_", "HTML"),  # Bale ignores parse_mode
    ]
    try:
        async with aiohttp.ClientSession() as http:
            for name, text, mode in sends:
                body = {"chat_id": 1001, "text": text} | ({"parse_mode": mode} if mode else {})
                async with http.post(f"{urls[name]}/sendMessage", json=body) as response:
                    assert response.status == 200, await response.text()
            async with http.get(f"http://127.0.0.1:{page.addresses[0][1]}/") as response:
                html = await response.text()
    finally:
        for runner in (page, *runners):
            await runner.cleanup()
    assert '\u200f<b>هشدار</b><blockquote class="expandable">جزئیات</blockquote>' in html
    assert "&lt;blockquote" not in html
    assert "&lt;b&gt;not bold&lt;/b&gt; *nor this*" in html
    assert "\u200f&lt;b&gt;تگ&lt;/b&gt; <b>پررنگ</b> <i>کج</i>" in html
