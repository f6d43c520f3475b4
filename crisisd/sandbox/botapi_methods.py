"""The Bot API methods the fake serves, each ``(state, bot, params) -> result``.

What a method checks and answers follows https://core.telegram.org/bots/api; where Bale
differs, the state's :class:`~crisisd.sandbox.botapi_dialect.Dialect` answers instead.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from crisisd.sandbox.botapi_model import UPDATE_KINDS, FakeBot, FakeMessage
from crisisd.sandbox.botapi_state import BotApiState
from crisisd.sandbox.botapi_wire import (
    JSON,
    BotApiError,
    bad_request,
    check_markup,
    flag_param,
    int_param,
    json_param,
    not_modified,
)

Method = Callable[[BotApiState, FakeBot, JSON], Awaitable[Any]]
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


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
    parsed = state.dialect.parse(source, parse_mode)
    markup = check_markup(params)
    reply_to = _reply_to(state, bot, chat.id, params)
    preview = _object(json_param(params, "link_preview_options", "link preview options"))
    state.check_send(bot, chat)
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
    # What the app shows: the text with its entities, or (Bale) the Markdown in the text.
    shown: JSON = {"plain": parsed.text, "entities": parsed.entities}
    shown["markdown"] = state.dialect.markdown_text
    state.inbox.add(
        state.name, "chat", str(chat.id), source, extra=extra | shown | {"reply_markup": markup}
    )
    return state.wire(message)


def _reply_to(state: BotApiState, bot: FakeBot, chat_id: int, params: JSON) -> int | None:
    reply = _object(json_param(params, "reply_parameters", "reply parameters"))
    reply_to = int_param(reply, "message_id") or int_param(params, "reply_to_message_id") or None
    if reply_to is not None and (bot.id, chat_id, reply_to) not in state.messages:
        if not (
            flag_param(reply, "allow_sending_without_reply")
            or flag_param(params, "allow_sending_without_reply")
        ):
            raise bad_request("message to be replied not found")
        reply_to = None
    return reply_to


async def edit_message_text(state: BotApiState, bot: FakeBot, params: JSON) -> JSON | bool:
    message = _own_message(state, bot, params, "message to edit not found")
    source = str(params.get("text") or "")
    parse_mode = params.get("parse_mode") or None
    parsed = state.dialect.parse(source, parse_mode)
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
    return state.dialect.edit_answer(state.wire(message))


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
    refused = state.dialect.unreachable(chat, bot.id)
    if refused is not None:
        raise refused
    return True


async def set_webhook(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    """Telegram: url, secret_token, allowed_updates, drop_pending_updates. Bale: url."""
    url = str(params.get("url") or "")
    secret = state.dialect.webhook_secret(params.get("secret_token"))
    allowed = json_param(params, "allowed_updates", "allowed updates")
    if isinstance(allowed, list):
        bot.allowed_updates = [str(kind) for kind in allowed]
    if flag_param(params, "drop_pending_updates"):
        bot.updates.clear()
    bot.webhook_url, bot.webhook_secret, bot.webhook_error = url, secret, None
    if url:
        state.webhooks.watch(bot)
    else:
        bot.wake()
    return True


async def delete_webhook(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    bot.webhook_url, bot.webhook_secret = "", ""
    if flag_param(params, "drop_pending_updates"):
        bot.updates.clear()
    bot.wake()
    return True


async def get_webhook_info(state: BotApiState, bot: FakeBot, params: JSON) -> JSON:
    info: JSON = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook_error is not None:
        info["last_error_date"], info["last_error_message"] = bot.webhook_error
    if bot.allowed_updates:
        info["allowed_updates"] = list(bot.allowed_updates)
    return info


async def ok(state: BotApiState, bot: FakeBot, params: JSON) -> bool:
    return True


METHODS: dict[str, Method] = {
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
"""Method names are case-insensitive on Telegram: keys are lower case."""


def _object(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


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
