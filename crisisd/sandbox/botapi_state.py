"""State of one fake Bot API: bots, chats, sent messages, pending updates, the rules a send
must pass (reachable chat, no migration, per-chat faults, flood control).

Reached in-process as ``app[BOTAPI_STATE]`` (see :mod:`crisisd.sandbox.botapi`) and over
HTTP through ``/_control/``. Chats are shared by every bot of the fake (as if each user
had started each bot, unless added with ``started=False``); message ids, updates and
commands are per bot.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from crisisd.sandbox.botapi_dialect import Dialect
from crisisd.sandbox.botapi_flood import FloodControl
from crisisd.sandbox.botapi_model import (
    JSON,
    UPDATE_KINDS,
    ChatFault,
    FakeBot,
    FakeChat,
    FakeMessage,
    Stats,
)
from crisisd.sandbox.botapi_render import render_message
from crisisd.sandbox.botapi_webhook import WebhookSender
from crisisd.sandbox.botapi_wire import bad_request
from crisisd.sandbox.faults import Faults
from crisisd.sandbox.inbox import Inbox

__all__ = ["BOTAPI_STATE", "UPDATE_KINDS", "BotApiState", "FakeBot", "FakeChat", "FakeMessage"]


class BotApiState:
    """Everything one fake Bot API instance knows; mutated by handlers and the control API."""

    def __init__(
        self,
        name: str,
        inbox: Inbox,
        *,
        dialect: Dialect | None = None,
        enforce_limits: bool = True,
        per_chat_per_second: float = 1.0,
        group_per_minute: int = 20,
        global_per_second: float = 30.0,
        tolerance_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.inbox = inbox
        self.dialect = dialect or Dialect()
        self.enforce_limits = enforce_limits
        self.flood = FloodControl(
            per_chat_per_second=per_chat_per_second,
            group_per_minute=group_per_minute,
            global_per_second=global_per_second,
            tolerance=tolerance_seconds,
            clock=clock,
        )
        self.faults = Faults()
        self.fault_methods: frozenset[str] | None = None  # None: every Bot API method
        self.bots: dict[str, FakeBot] = {}
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[tuple[int, int, int], FakeMessage] = {}
        self.callbacks: dict[str, JSON] = {}
        self.stats = Stats()
        self.released = asyncio.Event()  # set on shutdown: hanging handlers give up
        self.webhooks = WebhookSender(self)
        self._callback_ids = itertools.count(1)

    # -- bots and chats -------------------------------------------------------------
    def add_bot(
        self, token: str, *, username: str | None = None, first_name: str | None = None
    ) -> FakeBot:
        """Serve ``token``; its id is the token's numeric prefix, like Telegram's."""
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else zlib.crc32(token.encode()) % 10**9 + 1
        bot = FakeBot(
            token,
            bot_id,
            username or default_username(self.name, bot_id),
            first_name or f"crisisd ({self.name})",
        )
        self.bots[token] = bot
        return bot

    def bot(self, token: str | None = None, name: str | None = None) -> FakeBot:
        """A bot by token, username or id; the first one added when neither is given."""
        for bot in self.bots.values():
            if token is None and name is None:
                return bot
            if bot.token == token or name in (bot.username, str(bot.id)):
                return bot
        raise LookupError(f"no such bot on the fake {self.name!r}")

    def add_user(self, id: int, first_name: str = "", **details: Any) -> FakeChat:
        """Register a user (or a group: ``type="group"``, a negative id).

        ``started=False``: the user has not started any bot yet (sends answer 403 until
        they write to the bot, e.g. ``/start``).
        """
        started = details.pop("started", True)
        known = {k: v for k, v in details.items() if k in FakeChat.__dataclass_fields__}
        chat = FakeChat(int(id), first_name or f"User {id}", **known)
        if not started:
            chat.started = set()
        self.chats[chat.id] = chat
        return chat

    def chat(self, chat_id: object) -> FakeChat:
        """The chat a ``chat_id`` parameter names, or the dialect's "chat not found"."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == chat_id[1:].lower():
                    return chat
            raise self.dialect.chat_not_found()
        if chat_id in (None, ""):
            raise self.dialect.chat_not_found()
        try:
            return self.chats[int(str(chat_id))]
        except (ValueError, KeyError):
            raise self.dialect.chat_not_found() from None

    def block(self, chat_id: int, blocked: bool = True) -> None:
        self.chat(chat_id).blocked = blocked

    def set_fault(self, chat_id: int, kind: str, **options: Any) -> None:
        """Put a fault on one chat: rate_limit, block, unblock, migrate, not_started, none."""
        chat = self.chat(chat_id)
        if kind == "rate_limit":
            count = options.get("count")
            retry_after = int(options.get("retry_after") or 5)
            chat.fault = ChatFault(kind, int(count) if count is not None else None, retry_after)
        elif kind in ("block", "unblock"):
            chat.blocked = kind == "block"
        elif kind == "migrate":
            self.migrate(chat.id, options.get("to"))
        elif kind == "not_started":
            chat.started = set()
        elif kind == "none":
            chat.fault, chat.blocked, chat.migrated_to = None, False, None
        else:
            raise ValueError(
                f"unknown chat fault {kind!r}; one of rate_limit, block, unblock, migrate, "
                "not_started, none"
            )

    def migrate(self, chat_id: int, to: object = None) -> FakeChat:
        """Upgrade a group to a supergroup (id ``-100…`` unless given); returns the new chat."""
        group = self.chat(chat_id)
        if not group.is_group:
            raise ValueError(f"chat {chat_id} is not a group")
        new_id = int(str(to)) if to is not None else int(f"-100{abs(group.id)}")
        title = group.title or group.first_name
        supergroup = FakeChat(new_id, group.first_name, title=title, type="supergroup")
        self.chats[new_id] = supergroup
        group.migrated_to = new_id
        return supergroup

    def check_send(self, bot: FakeBot, chat: FakeChat) -> None:
        """Raise what the server answers to a send into ``chat`` now, or count the send."""
        refused = self.dialect.unreachable(chat, bot.id)
        if refused is not None:
            raise refused
        if chat.migrated_to is not None:
            raise self.dialect.migrated(chat.migrated_to)
        if chat.fault is not None and chat.fault.take():
            self.stats.faults["chat_rate_limit"] += 1
            raise self.dialect.flood(chat.fault.retry_after)
        if not self.enforce_limits:
            return
        broken = self.flood.check(bot.id, chat.id, chat.is_group)
        if broken is not None:
            limit, retry_after = broken
            if limit == "chat":
                self.stats.violations_chat += 1
            elif limit == "group":
                self.stats.violations_group += 1
            else:
                self.stats.violations_global += 1
            raise self.dialect.flood(retry_after)

    @property
    def violations(self) -> int:
        """Every 429 the flood control returned: sends that came while the client should wait."""
        s = self.stats
        return s.violations_chat + s.violations_group + s.violations_global

    # -- messages and updates -------------------------------------------------------
    def message(self, bot: FakeBot, chat_id: int, message_id: object, missing: str) -> FakeMessage:
        try:
            found = self.messages.get((bot.id, chat_id, int(str(message_id))))
        except ValueError:
            found = None
        if found is None or found.deleted:
            raise bad_request(missing)
        return found

    def store(self, message: FakeMessage) -> FakeMessage:
        self.messages[(message.bot_id, message.chat_id, message.message_id)] = message
        return message

    def wire(self, message: FakeMessage) -> JSON:
        chat = self.chats[message.chat_id]
        reply = self.messages.get((message.bot_id, message.chat_id, message.reply_to or 0))
        return message.wire(chat, reply)

    def push_update(self, bot: FakeBot, kind: str, payload: JSON) -> JSON:
        update = {"update_id": next(bot.update_ids), kind: payload}
        bot.updates.append(update)
        bot.wake()
        return update

    def inject_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        bot: FakeBot | None = None,
        contact: JSON | None = None,
    ) -> JSON:
        """A user writes ``text`` (or shares ``contact``) to the bot; returns the Update.

        Writing to a bot is what starting it means: the bot may answer from now on.
        """
        bot = bot or self.bot()
        chat = self.chats.get(chat_id) or self.add_user(chat_id)
        sender = self.chats.get(user_id or chat_id) or self.add_user(user_id or chat_id)
        if sender.started is not None:
            sender.started.add(bot.id)
        entities = []
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities.append({"type": "bot_command", "offset": 0, "length": len(command)})
        message = self.store(
            FakeMessage(
                bot.id,
                chat.id,
                bot.next_message_id(chat.id),
                sender.user(),
                text,
                text,
                entities=entities,
                contact=contact,
            )
        )
        return self.push_update(bot, "message", self.wire(message))

    def inject_start(self, user_id: int, payload: str = "", *, bot: FakeBot | None = None) -> JSON:
        """The user opens ``t.me/<bot>?start=<payload>`` (Bale: ``ble.ir``) and presses Start."""
        text = f"/start {payload}" if payload else "/start"
        return self.inject_message(user_id, text, user_id=user_id, bot=bot)

    def inject_contact(
        self,
        user_id: int,
        phone_number: str | int,
        *,
        contact_user_id: int | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        bot: FakeBot | None = None,
    ) -> JSON:
        """The user shares a contact (their own via a ``request_contact`` button: then
        ``contact_user_id`` is theirs); ``message.contact`` as the Bot API sends it."""
        user = self.chats.get(user_id) or self.add_user(user_id)
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name if first_name is not None else user.first_name,
        }
        if last_name:
            contact["last_name"] = last_name
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.inject_message(user_id, "", user_id=user_id, bot=bot, contact=contact)

    def inject_callback(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        bot: FakeBot | None = None,
    ) -> JSON:
        """A user presses an inline button under one of the bot's messages."""
        bot = bot or self.bot()
        user = self.chat(user_id)
        message = self.message(bot, chat_id or user_id, message_id, "message not found")
        query_id = f"{bot.id}{next(self._callback_ids):08d}"
        self.callbacks[query_id] = {"bot_id": bot.id, "user_id": user.id, "answer": None}
        query = {
            "id": query_id,
            "from": user.user(),
            "message": self.wire(message),
            "chat_instance": str(zlib.crc32(f"{bot.id}:{message.chat_id}".encode())),
            "data": data,
        }
        return self.push_update(bot, "callback_query", query)

    def sent(self, chat_id: int | None = None, bot: str | None = None) -> list[JSON]:
        """Messages the bots sent, oldest first (optionally one chat's or one bot's); ``html``
        is what the reader's app shows (:func:`~crisisd.sandbox.botapi_render.render_message`)."""
        names = {b.id: b.username for b in self.bots.values()}
        markdown = self.dialect.markdown_text
        return [
            m.record(names.get(m.bot_id, "")) | {"html": render_message(m, markdown=markdown)}
            for m in self.messages.values()
            if m.sender.get("is_bot")
            and (chat_id is None or m.chat_id == chat_id)
            and (bot is None or bot in (names.get(m.bot_id), str(m.bot_id)))
        ]

    # -- lifecycle ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget messages, updates, stats, faults, blocks and windows; keep bots and users."""
        self.messages.clear()
        self.callbacks.clear()
        self.flood.clear()
        self.stats = Stats()
        self.faults = Faults()
        self.fault_methods = None
        for chat in self.chats.values():
            chat.blocked, chat.fault, chat.migrated_to = False, None, None
        for bot in self.bots.values():
            bot.updates.clear()
            bot.message_ids.clear()
            bot.wake()

    def release(self) -> None:
        """Let every hanging or long-polling handler finish (server shutdown)."""
        self.released.set()
        for bot in self.bots.values():
            bot.wake()


def default_username(fake: str, bot_id: int) -> str:
    """The username a bot gets on the fake named ``fake`` unless one is given."""
    return f"{fake}_crisis_{bot_id}_bot"


BOTAPI_STATE: web.AppKey[BotApiState] = web.AppKey("botapi_state", BotApiState)
"""Where a fake Bot API application keeps its state: ``app[BOTAPI_STATE]``."""
