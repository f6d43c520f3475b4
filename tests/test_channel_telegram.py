"""TelegramChannel over real HTTP: outcomes, dialects, Bale's answers, and secrecy.

Most cases run against the sandbox's fake Bot API. Answers that fake does not give (yet)
— Bale's stub and partial answers, its own error codes, a group moving to a supergroup —
come from :class:`Scripted`, a loopback server that answers what the test tells it to.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from crisisd import redaction
from crisisd.channels.balemarkdown import WJ
from crisisd.channels.base import (
    ACK_CALLBACK_PREFIX,
    Channel,
    Failed,
    OutboundMessage,
    Retry,
    Sent,
)
from crisisd.channels.botapi import BotApiClient, BotApiUnreachable, Timeouts, env_proxy
from crisisd.channels.chaterrors import classify
from crisisd.channels.chatmoves import follow_moves
from crisisd.channels.telegram import ChatMoved, TelegramChannel, chat_id_of, messenger_limits
from crisisd.config import Messenger
from crisisd.domain import ack_code
from crisisd.errors import ConfigError
from crisisd.formats.textfit import telegram_length
from crisisd.sandbox.botapi import BOTAPI_STATE, BotApiState, create_botapi_app
from crisisd.sandbox.inbox import Inbox
from crisisd.store import Store

TOKEN = "123456:SECRET-TOKEN-abc"
USER = 1001
RLM = "\u200f"
TIMEOUT = 1.0
HOSTILE = "<b>x</b> *bold* [x](y) _ ``` `a` &amp; \u202e"


@dataclass
class Sandbox:
    url: str
    state: BotApiState
    inbox: Inbox


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def _fake(name: str, **mode: str) -> AsyncIterator[Sandbox]:
    inbox = Inbox()
    app = create_botapi_app(name, inbox, tokens=[TOKEN], **mode)  # type: ignore[arg-type]
    runner, url = await _serve(app)
    state = app[BOTAPI_STATE]
    state.add_user(USER, "رضا", language_code="fa")
    yield Sandbox(url, state, inbox)
    await runner.cleanup()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async for sb in _fake("telegram"):
        yield sb


@pytest.fixture
async def bale_fake() -> AsyncIterator[Sandbox]:
    """The fake in Bale mode (refuses parse_mode, as Bale does)."""
    async for sb in _fake("bale", mode="bale"):
        yield sb


@dataclass
class Scripted:
    """A Bot API that answers sendMessage with what ``answers`` holds, in turn (then ok)."""

    url: str = ""
    answers: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.content_types.append(request.content_type)
        params: dict[str, Any] = await request.json()  # the channel sends JSON
        params["chat_id"] = int(params["chat_id"])
        self.requests.append(params)
        if self.answers:
            status, body = self.answers.pop(0)
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type="text/html")
            return web.json_response(body, status=status)
        message = {"message_id": len(self.requests), "date": 0, "text": params.get("text")}
        message["chat"] = {"id": params["chat_id"], "type": "private"}
        return web.json_response({"ok": True, "result": message})


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    fake = Scripted()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    runner, fake.url = await _serve(app)
    yield fake
    await runner.cleanup()


def make_channel(base_url: str, name: str = "telegram", token: str = TOKEN) -> TelegramChannel:
    real = "https://tapi.bale.ai/bot" if name == "bale" else "https://api.telegram.org/bot"
    messenger = Messenger(name=name, base_url=real)
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
        "channel": "telegram",
        "address": str(USER),
        "text": text,
        "ack_button": True,
    }
    return OutboundMessage(**(fields | kw))


async def test_is_a_channel_with_the_messenger_limits() -> None:
    ch = TelegramChannel(Messenger(name="telegram", token="42:abcd"))
    await ch.aclose()
    assert isinstance(ch, Channel)
    assert (ch.name, ch.kind, ch.dialect) == ("telegram", "chat", "telegram_html")
    assert ch.limits.max_length == 4096
    assert (ch.limits.rate_per_second, ch.limits.per_destination_per_second) == (30.0, 1.0)
    assert ch.api.base_url == "https://api.telegram.org/bot"
    assert str(ch.api.url("sendMessage")) == "https://api.telegram.org/bot42:abcd/sendMessage"


def test_groups_are_paced_at_twenty_a_minute() -> None:
    limits = messenger_limits(Messenger(name="telegram"))
    assert limits.destination_rate("-1001234567890") == pytest.approx(20 / 60)
    assert limits.destination_rate("1001") == 1.0
    assert limits.destination_rate("@crisis_channel") == 1.0


def test_a_messenger_without_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="has no token"):
        TelegramChannel(Messenger(name="bale"))


def test_bale_is_never_sent_telegram_html() -> None:
    bale = Messenger(name="bale", token="42:abcd", format="telegram_html")
    with capture_logs() as logs:
        ch = TelegramChannel(bale)
    assert ch.dialect == "bale_markdown"
    assert logs[0]["event"] == "chat.format_not_supported"


async def test_delivered_with_rlm_html_and_ack_button(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    msg = message()
    result = await channel.send(msg)
    assert result == Sent(provider_id=f"{USER}:1")
    [item] = sandbox.inbox.query(service="telegram", to=str(USER))
    assert item.text == msg.text
    [record] = sandbox.state.sent(chat_id=USER)
    assert record["parse_mode"] == "HTML"
    assert record["plain"] == f"{RLM}آتش‌سوزی در سالن ۲"
    assert record["link_preview_disabled"] is True
    [[button]] = record["reply_markup"]["inline_keyboard"]
    assert button == {
        "text": "✅ دریافت شد",
        "callback_data": ACK_CALLBACK_PREFIX + ack_code(msg.key),
    }


async def test_bale_gets_its_markdown_and_no_parse_mode(sandbox: Sandbox) -> None:
    ch = make_channel(sandbox.url, "bale")
    try:
        result = await ch.send(message(f"{RLM}<b>آتش‌سوزی</b> در سالن ۲\n\n{escape(HOSTILE)}"))
    finally:
        await ch.aclose()
    assert isinstance(result, Sent)
    [record] = sandbox.state.sent(chat_id=USER)
    assert record["parse_mode"] is None
    assert record["link_preview_disabled"] is False  # not a Bale parameter: not sent
    assert record["text"].startswith(f"*{RLM}آتش‌سوزی* در سالن ۲")  # RLM opens the bold
    assert "<b>" not in record["text"].split("\n")[0]
    assert record["text"].replace(WJ, "").endswith(HOSTILE)  # as typed, the joiners unseen


async def test_bale_mode_fake_accepts_what_the_channel_sends(bale_fake: Sandbox) -> None:
    ch = make_channel(bale_fake.url, "bale")
    try:
        result = await ch.send(message(f"{RLM}<b>هشدار</b>\n{escape(HOSTILE)}"))
    finally:
        await ch.aclose()
    assert isinstance(result, Sent)
    [record] = bale_fake.state.sent(chat_id=USER)
    assert record["parse_mode"] is None
    assert HOSTILE in record["plain"].replace(WJ, "")


async def test_what_is_sent_is_fitted_counting_the_rlm(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    text = RLM + "<b>هشدار</b> " + "آ" * (4096 - 6)  # 4096 visible units and the RLM
    assert telegram_length(text) == 4097
    result = await channel.send(message(text, ack_button=False))
    assert isinstance(result, Sent)
    [record] = sandbox.state.sent(chat_id=USER)
    assert record["plain"].startswith(RLM)
    assert len(record["plain"].encode("utf-16-le")) // 2 == 4096
    assert record["plain"].endswith("…")


async def test_english_button_and_no_button_when_not_asked(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    sandbox.state.enforce_limits = False
    assert isinstance(await channel.send(message("Fire", lang="en")), Sent)
    assert isinstance(await channel.send(message("FYI", ack_button=False)), Sent)
    first, second = sandbox.state.sent(chat_id=USER)
    assert first["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Acknowledge"
    assert second["reply_markup"] is None


async def test_flood_control_gives_retry_after(sandbox: Sandbox, channel: TelegramChannel) -> None:
    assert isinstance(await channel.send(message()), Sent)
    result = await channel.send(message())
    assert isinstance(result, Retry)
    assert result.after >= 1.0
    assert sandbox.state.violations == 1


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
        ("bad_html", "message", "can't parse entities"),
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


async def test_a_refused_text_is_the_messages_fault_quoted_without_secrets(
    sandbox: Sandbox, channel: TelegramChannel
) -> None:
    secret = "hunter2-SECRET-in-a-template"
    redaction.register(secret)
    text = f"{RLM}هشدار {secret} <b>unclosed " + "د" * 300
    result = await channel.send(message(text))
    assert isinstance(result, Failed)
    assert result.scope == "message"
    assert "can't parse entities" in result.reason.lower()
    assert "«" in result.reason and "unclosed" in result.reason  # the text near the fault
    assert secret not in result.reason
    assert len(result.reason) < 250  # quoted, not the whole text


async def test_a_group_moved_to_a_supergroup_is_followed(scripted: Scripted) -> None:
    migrated = {"migrate_to_chat_id": -1009876543210}
    scripted.answers.append(
        (
            400,
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": migrated,
            },
        )
    )
    ch = make_channel(scripted.url)
    moves: list[ChatMoved] = []

    async def record(moved: ChatMoved) -> None:
        moves.append(moved)

    ch.on_migrate = record
    try:
        with capture_logs() as logs:
            first = await ch.send(message(address="-4001", incident_id="KMT-479"))
            second = await ch.send(message(address="-4001"))
    finally:
        await ch.aclose()
    assert first == Sent(provider_id="-1009876543210:2")
    assert second == Sent(provider_id="-1009876543210:3")  # straight to the supergroup
    assert [r["chat_id"] for r in scripted.requests] == [-4001, -1009876543210, -1009876543210]
    assert moves == [ChatMoved("telegram", -4001, -1009876543210, message().key, "KMT-479")]
    [moved] = [e for e in logs if e["event"] == "chat.migrated"]
    assert (moved["old_chat_id"], moved["new_chat_id"]) == (-4001, -1009876543210)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        # Bale answers a send with a bare `true` or a partial Message: still accepted.
        (200, {"ok": True, "result": True}, Sent(f"{USER}:")),
        (200, {"ok": True, "result": {"message_id": 9}}, Sent(f"{USER}:")),
        # Bale's own refusals and shapes: retried, never "sent".
        (420, {"ok": False, "error_code": 420, "description": "Flood"}, Retry),
        (400, {"ok": False, "error_code": 400, "description": "bot limit exceed"}, Retry),
        (400, {"ok": False, "error_code": 400, "description": "something new"}, Retry),
        (200, {"ok": False, "error_code": 400, "description": "no result"}, Retry),
        (502, "<html><body>Bad Gateway</body></html>", Retry),
        (200, "", Retry),
        # ... and the ones that name the fault.
        (400, {"ok": False, "error_code": 400, "description": "no such group or user"}, Failed),
        (403, {"ok": False, "error_code": 403, "description": "Forbidden: blocked"}, Failed),
    ],
)
async def test_bale_answers_are_classified_conservatively(
    scripted: Scripted, status: int, body: Any, outcome: object
) -> None:
    scripted.answers.append((status, body))
    ch = make_channel(scripted.url, "bale")
    try:
        result = await ch.send(message(address=str(USER)))
    finally:
        await ch.aclose()
    if isinstance(outcome, Sent):
        assert result == outcome
    else:
        assert isinstance(outcome, type)
        assert isinstance(result, outcome)
    assert "parse_mode" not in scripted.requests[0]
    assert TOKEN not in repr(result)


@pytest.mark.parametrize("mode", ["error", "drop", "garbage", "hang"])
async def test_transient_faults_give_retry(
    sandbox: Sandbox, channel: TelegramChannel, mode: str
) -> None:
    """A timeout or a dropped connection is counted by the breaker; a 5xx or an HTML page
    came from a server that answers, so it is not."""
    sandbox.state.faults.update({"mode": mode})
    result = await channel.send(message())
    assert isinstance(result, Retry)
    assert result.after == 2.0
    assert result.unreachable is (mode in ("drop", "hang"))


async def test_unreachable_server_gives_retry() -> None:
    ch = make_channel("http://127.0.0.1:9")  # discard port: nothing listens
    try:
        result = await ch.send(message())
    finally:
        await ch.aclose()
    assert isinstance(result, Retry)
    assert result.unreachable
    assert TOKEN not in repr(result)


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
            results.append(await ch.send(message(f"<x>{TOKEN}")))
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
    assert all(entry["channel"] == "telegram" for entry in logs)


async def test_a_reason_quoting_the_request_url_is_scrubbed(channel: TelegramChannel) -> None:
    url = f"https://tapi.bale.ai/bot{TOKEN}/sendMessage"
    raw = classify(aiohttp.ClientPayloadError(f"lost the answer from {url}"))
    assert TOKEN in raw.reason  # what aiohttp hands over
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


async def test_a_supergroup_move_is_kept_in_the_store(scripted: Scripted, store: Store) -> None:
    """Recorded once (setting + audit), and known to the next run's channel at its start."""
    migrated = {"migrate_to_chat_id": -1005550001}
    refusal = {"ok": False, "error_code": 400, "description": "Bad Request: upgraded"}
    scripted.answers.append((400, refusal | {"parameters": migrated}))
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first = make_channel(scripted.url)
    try:
        await follow_moves(store, {"telegram": first}, lambda: at)
        assert isinstance(await first.send(message(address="-4002", incident_id="KMT-1")), Sent)
    finally:
        await first.aclose()
    [entry] = [e for e in await store.audit_of("KMT-1") if e.action == "chat.migrated"]
    assert entry.detail == {"old_chat_id": -4002, "new_chat_id": -1005550001, "key": message().key}
    assert (entry.channel, entry.at) == ("telegram", at)

    restarted = make_channel(scripted.url)
    try:
        await follow_moves(store, {"telegram": restarted}, lambda: at)
        assert restarted.migrated == {-4002: -1005550001}
        assert await restarted.send(message(address="-4002")) == Sent("-1005550001:3")
    finally:
        await restarted.aclose()
    assert [r["chat_id"] for r in scripted.requests] == [-4002, -1005550001, -1005550001]


def test_the_outbox_does_not_load_python_telegram_bot() -> None:
    """The channels and the daemon (without the officers' bot) never import PTB or httpx."""
    code = (
        "import sys, crisisd.channels.registry, crisisd.channels.chatmoves, "
        "crisisd.delivery.dispatcher, crisisd.service\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'telegram', 'httpx'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


async def test_one_text_to_many_chats_is_rendered_once_and_sent_alike(sandbox: Sandbox) -> None:
    ch = make_channel(sandbox.url, "bale")
    chats = (3001, 3002)
    for chat in chats:
        sandbox.state.add_user(chat, f"Staff {chat}")
    try:
        for chat in chats:
            text = f"{RLM}<b>هشدار</b>\n{escape(HOSTILE)}"
            msg = message(text, address=str(chat), key=f"inc-1/step-0/w{chat}/bale")
            assert isinstance(await ch.send(msg), Sent)
    finally:
        await ch.aclose()
    first, second = (sandbox.state.sent(chat_id=chat)[0] for chat in chats)
    assert first["text"] == second["text"] and HOSTILE in first["plain"].replace(WJ, "")
    assert first["reply_markup"] != second["reply_markup"]  # each its own ack code


async def test_no_exception_from_the_client_carries_the_url_or_the_token() -> None:
    """aiohttp's errors (whose text and request_info hold the URL) are replaced, not chained."""
    api = BotApiClient(
        "http://127.0.0.1:9/bot", TOKEN, concurrency=1, timeouts=Timeouts(total=1.0, connect=1.0)
    )
    try:
        with pytest.raises(BotApiUnreachable) as caught:
            await api.call("sendMessage", {"chat_id": USER, "text": "x"})
    finally:
        await api.aclose()
    exc = caught.value
    assert exc.lost and exc.__cause__ is None and exc.__suppress_context__
    assert TOKEN not in str(exc) and TOKEN not in repr(exc) and "SECRET" not in exc.reason
    assert "127.0.0.1:9" in exc.reason  # says where, without the path


async def test_sends_json_as_the_bot_api_documents(scripted: Scripted) -> None:
    """One POST with a JSON body per message: ids as numbers, the keyboard as an object."""
    ch = make_channel(scripted.url)
    try:
        assert isinstance(await ch.send(message(address="-4003")), Sent)
    finally:
        await ch.aclose()
    [sent] = scripted.requests
    assert sent["chat_id"] == -4003 and sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"] == {"is_disabled": True}
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("ack:")
    assert scripted.content_types == ["application/json"]


async def test_a_proxy_from_the_environment_is_used(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY is honoured, as httpx under PTB honoured it: the request for a host that
    does not exist reaches the fake through the proxy variable (the fake answers as proxy)."""
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", scripted.url)
    ch = make_channel("http://bot-api.invalid")
    try:
        assert isinstance(await ch.send(message()), Sent)
    finally:
        await ch.aclose()
    assert [r["chat_id"] for r in scripted.requests] == [USER]
    monkeypatch.setenv("NO_PROXY", "bot-api.invalid")
    assert env_proxy("http://bot-api.invalid/bot") == (None, None)
