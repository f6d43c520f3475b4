"""A fake Telegram Bot API (also serves as Bale's) over real HTTP, with fault injection.

Speaks the real wire format: ``/bot<token>/<method>`` by GET or POST (query string,
JSON, form or multipart), answers ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": "…"}``. It checks what Telegram checks
(HTML entities, 4096 UTF-16 units, known chat, blocked bot, inline keyboards) and, with
``enforce_limits``, Telegram's flood control (1 msg/s per chat, 30 msg/s per bot), and
counts every 429 it had to return as a *violation*.

Start it in-process::

    app = create_botapi_app("bale", inbox, tokens=["123:ABC"])
    runner = web.AppRunner(app); await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state = app[BOTAPI_STATE]           # add users, inject messages, read stats

and point a bot at ``http://127.0.0.1:<port>/bot``. The same state is reachable over
HTTP under ``/_control/`` (users, message, callback, sent, faults, stats, block, reset).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from crisisd.sandbox.botapi_control import add_control_routes
from crisisd.sandbox.botapi_state import (
    BOTAPI_STATE,
    UPDATE_KINDS,
    BotApiState,
    FakeBot,
    FakeMessage,
)
from crisisd.sandbox.botapi_wire import (
    JSON,
    BotApiError,
    bad_request,
    check_markup,
    check_text,
    flag_param,
    int_param,
    json_param,
    not_modified,
)
from crisisd.sandbox.inbox import Inbox

__all__ = ["BOTAPI_STATE", "BotApiState", "create_botapi_app"]

Method = Callable[[BotApiState, FakeBot, JSON], Awaitable[Any]]
_dumps = functools.partial(json.dumps, ensure_ascii=False)
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def create_botapi_app(
    name: str,
    inbox: Inbox,
    *,
    enforce_limits: bool = True,
    per_chat_per_second: float = 1.0,
    global_per_second: float = 30.0,
    tokens: Iterable[str] = (),
) -> web.Application:
    """A fake Bot API named ``name`` ("bale", "telegram") recording sends into ``inbox``."""
    state = BotApiState(
        name,
        inbox,
        enforce_limits=enforce_limits,
        per_chat_per_second=per_chat_per_second,
        global_per_second=global_per_second,
    )
    for token in tokens:
        state.add_bot(token)
    app = web.Application()
    app[BOTAPI_STATE] = state
    app.router.add_route("*", "/bot{token}/{method}", _api)
    add_control_routes(app)
    app.on_shutdown.append(_release)
    return app


async def _release(app: web.Application) -> None:
    app[BOTAPI_STATE].release()


# -- the Bot API --------------------------------------------------------------------
async def _api(request: web.Request) -> web.StreamResponse:
    state = request.app[BOTAPI_STATE]
    method = request.match_info["method"]
    try:
        bot = _bot(state, request.match_info["token"])
        state.stats.requests[method] += 1
        faulted = await _fault(request, state, method)
        if faulted is not None:
            return faulted
        result = await _method(method)(state, bot, await _params(request))
    except BotApiError as exc:
        state.stats.errors[exc.code] += 1
        return web.json_response(exc.body(), status=exc.code, dumps=_dumps)
    return web.json_response({"ok": True, "result": result}, dumps=_dumps)


def _bot(state: BotApiState, token: str) -> FakeBot:
    bot = state.bots.get(token)
    if bot is None:
        raise BotApiError(401, "Unauthorized")
    return bot


def _method(name: str) -> Method:
    handler = _METHODS.get(name.lower())  # method names are case-insensitive
    if handler is None:
        raise BotApiError(404, "Not Found")
    return handler


async def _fault(
    request: web.Request, state: BotApiState, method: str
) -> web.StreamResponse | None:
    """Apply the configured fault to this request: a response, an error, or None."""
    faults = state.faults
    if state.fault_methods is not None and method.lower() not in state.fault_methods:
        return None
    if faults.latency_ms:
        await _pause(state, faults.latency_ms / 1000)
    mode = faults.take()
    if mode == "none":
        return None
    state.stats.faults[mode] += 1
    if mode == "error":
        raise BotApiError(500, "Internal Server Error")
    if mode == "rate_limit":
        after = faults.retry_after
        raise BotApiError(429, f"Too Many Requests: retry after {after}", retry_after=after)
    if mode == "hang":
        await state.released.wait()  # until the server shuts down; the client gives up first
        raise BotApiError(502, "Bad Gateway")
    if mode == "drop":
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)  # never written: the connection is gone
    if mode == "garbage":
        return web.Response(text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")
    # "permanent" / "no_credit" have no Bot API meaning but a revoked token.
    raise BotApiError(401, "Unauthorized")


async def _pause(state: BotApiState, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await state.released.wait()
    except TimeoutError:
        pass


async def _params(request: web.Request) -> JSON:
    """Parameters from the query string and the body, whatever its encoding."""
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


# -- methods --------------------------------------------------------------------------
async def get_me(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    return bot.user() | {
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


async def get_updates(state: BotApiState, bot: FakeBot, params: JSON) -> list[JSON]:
    """Long polling: confirm updates below ``offset``, wait up to ``timeout`` seconds."""
    if bot.webhook_url:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset, limit = int_param(params, "offset"), min(max(int_param(params, "limit", 100), 1), 100)
    allowed = json_param(params, "allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = [str(kind) for kind in allowed]
    if offset > 0:
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
    elif offset < 0:
        bot.updates = bot.updates[offset:]
    bot.poller += 1
    me = bot.poller
    bot.wake()  # an older getUpdates still waiting is terminated, as on Telegram
    deadline = time.monotonic() + max(int_param(params, "timeout"), 0)
    while True:
        if bot.poller != me:
            raise BotApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        kinds = bot.allowed_updates or list(UPDATE_KINDS)
        bot.updates = [u for u in bot.updates if any(k in u for k in kinds)]
        remaining = deadline - time.monotonic()
        if bot.updates or remaining <= 0 or state.released.is_set():
            return bot.updates[:limit]
        signal = bot.signal
        try:
            async with asyncio.timeout(remaining):
                await signal.wait()
        except TimeoutError:
            pass


async def send_message(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    chat = state.chat(params.get("chat_id"))
    source = str(params.get("text") or "")
    parse_mode = params.get("parse_mode") or None
    parsed = check_text(source, parse_mode)
    markup = check_markup(params)
    reply = _object(json_param(params, "reply_parameters", "reply parameters"))
    reply_to = int_param(reply, "message_id") or int_param(params, "reply_to_message_id") or None
    if reply_to is not None and (bot.id, chat.id, reply_to) not in state.messages:
        if not (
            flag_param(reply, "allow_sending_without_reply")
            or flag_param(params, "allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        reply_to = None
    _check_reachable(chat.blocked, chat.type)
    preview = _object(json_param(params, "link_preview_options", "link preview options"))
    state.check_flood(bot, chat.id)
    message = state.store(
        FakeMessage(
            bot.id,
            chat.id,
            bot.next_message_id(chat.id),
            bot.user(),
            parsed.text,
            source,
            parse_mode=parse_mode,
            entities=parsed.entities,
            reply_markup=markup,
            reply_to=reply_to,
            link_preview_disabled=flag_param(preview, "is_disabled")
            or flag_param(params, "disable_web_page_preview"),
        )
    )
    state.stats.sent += 1
    extra = {"bot": bot.username, "message_id": message.message_id, "parse_mode": parse_mode}
    state.inbox.add(
        state.name, "chat", str(chat.id), source, extra=extra | {"reply_markup": markup}
    )
    return state.wire(message)


async def edit_message_text(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    message = _own_message(state, bot, params, "message to edit not found")
    source = str(params.get("text") or "")
    parse_mode = params.get("parse_mode") or None
    parsed = check_text(source, parse_mode)
    markup = check_markup(params)  # omitted: the keyboard goes away, as on Telegram
    if (parsed.text, parsed.entities, markup) == (
        message.text,
        message.entities,
        message.reply_markup,
    ):
        raise not_modified()
    message.text, message.source, message.entities = parsed.text, source, parsed.entities
    message.parse_mode, message.reply_markup = parse_mode, markup
    _edited(message, text=source, parse_mode=parse_mode, reply_markup=markup)
    return state.wire(message)


async def edit_message_reply_markup(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    message = _own_message(state, bot, params, "message to edit not found")
    markup = check_markup(params)
    if markup == message.reply_markup:
        raise not_modified()
    message.reply_markup = markup
    _edited(message, reply_markup=markup)
    return state.wire(message)


async def delete_message(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    _own_message(state, bot, params, "message to delete not found").deleted = True
    return True


async def answer_callback_query(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    query = state.callbacks.get(str(params.get("callback_query_id") or ""))
    if query is None or query["bot_id"] != bot.id or query["answer"] is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    query["answer"] = {"text": params.get("text"), "show_alert": flag_param(params, "show_alert")}
    return True


async def set_my_commands(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    commands = json_param(params, "commands", "commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command"))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    bot.commands[_commands_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


async def get_my_commands(state: BotApiState, bot: FakeBot, params: JSON) -> list[JSON]:
    return list(bot.commands.get(_commands_key(params), []))


async def delete_my_commands(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    bot.commands.pop(_commands_key(params), None)
    return True


async def get_chat(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    chat = state.chat(params.get("chat_id"))
    gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
    return chat.chat() | {
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
    }


async def send_chat_action(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    chat = state.chat(params.get("chat_id"))
    _check_reachable(chat.blocked, chat.type)
    return True


async def set_webhook(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    bot.webhook_url = str(params.get("url") or "")
    return True


async def delete_webhook(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    bot.webhook_url = ""
    if flag_param(params, "drop_pending_updates"):
        bot.updates.clear()
    return True


async def get_webhook_info(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    return {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }


async def ok(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    return True


_METHODS: dict[str, Method] = {
    "getme": get_me,
    "getupdates": get_updates,
    "sendmessage": send_message,
    "editmessagetext": edit_message_text,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
    "answercallbackquery": answer_callback_query,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "getchat": get_chat,
    "sendchataction": send_chat_action,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "close": ok,
    "logout": ok,
}


def _object(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def _check_reachable(blocked: bool, chat_type: str) -> None:
    if blocked:
        who = "bot was blocked by the user" if chat_type == "private" else "bot was kicked"
        raise BotApiError(403, f"Forbidden: {who}")


def _own_message(state: BotApiState, bot: FakeBot, params: JSON, missing: str) -> FakeMessage:
    chat = state.chat(params.get("chat_id"))
    message = state.message(bot, chat.id, params.get("message_id"), missing)
    if not message.sender.get("is_bot"):
        raise bad_request("message can't be edited")
    return message


def _edited(message: FakeMessage, **change: object) -> None:
    message.edit_date = int(time.time())
    message.edits.append(change | {"date": message.edit_date})


def _commands_key(params: JSON) -> str:
    scope = json_param(params, "scope", "scope") or {}
    kind = scope.get("type", "default") if isinstance(scope, dict) else "default"
    return f"{kind}/{params.get('language_code') or ''}"
