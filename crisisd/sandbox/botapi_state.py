"""State of one fake Bot API: bots, chats, sent messages, pending updates, flood control.

Reached in-process as ``app[BOTAPI_STATE]`` (see :mod:`crisisd.sandbox.botapi`) and over
HTTP through ``/_control/``. Chats are shared by every bot of the fake (as if each user
had started each bot); message ids, updates and commands are per bot.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from crisisd.sandbox.botapi_wire import JSON, BotApiError, bad_request
from crisisd.sandbox.faults import Faults
from crisisd.sandbox.inbox import Inbox

UPDATE_KINDS = ("message", "edited_message", "callback_query")


@dataclass(slots=True)
class FakeChat:
    """A user (private chat, id > 0) or a group (id < 0) the fake knows."""

    id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None
    type: str = "private"
    title: str | None = None
    blocked: bool = False

    def chat(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name
            _put(data, last_name=self.last_name, username=self.username)
        else:
            data["title"] = self.title or self.first_name
        return data

    def user(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        _put(
            data, last_name=self.last_name, username=self.username, language_code=self.language_code
        )
        return data


@dataclass(slots=True)
class FakeMessage:
    """A message in a chat with one bot: sent by the bot, or injected as the user's."""

    bot_id: int
    chat_id: int
    message_id: int
    sender: JSON  # a User object
    text: str  # as the recipient sees it (entities parsed)
    source: str  # as the bot sent it (raw HTML / Markdown)
    parse_mode: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None
    reply_to: int | None = None
    link_preview_disabled: bool = False
    date: int = field(default_factory=lambda: int(time.time()))
    edit_date: int | None = None
    edits: list[JSON] = field(default_factory=list)
    deleted: bool = False

    def wire(self, chat: FakeChat, reply_to: FakeMessage | None = None) -> JSON:
        """The Message object the Bot API returns."""
        data: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": chat.chat(),
            "date": self.date,
            "text": self.text,
        }
        _put(data, entities=self.entities or None, reply_markup=self.reply_markup)
        _put(data, edit_date=self.edit_date)
        if reply_to is not None:
            data["reply_to_message"] = reply_to.wire(chat)
        return data

    def record(self, bot_username: str) -> JSON:
        """How the control API lists a sent message (``text`` is the raw text as sent)."""
        return {
            "bot": bot_username,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "text": self.source,
            "plain": self.text,
            "parse_mode": self.parse_mode,
            "reply_markup": self.reply_markup,
            "reply_to_message_id": self.reply_to,
            "link_preview_disabled": self.link_preview_disabled,
            "date": self.date,
            "edits": list(self.edits),
            "deleted": self.deleted,
        }


@dataclass(slots=True)
class FakeBot:
    """One bot (token) served by the fake."""

    token: str
    id: int
    username: str
    first_name: str
    updates: list[JSON] = field(default_factory=list)
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    message_ids: dict[int, itertools.count[int]] = field(default_factory=dict)
    allowed_updates: list[str] = field(default_factory=list)  # empty: every kind
    webhook_url: str = ""
    commands: dict[str, list[JSON]] = field(default_factory=dict)  # "scope/lang" -> commands
    poller: int = 0  # generation of the current getUpdates call
    signal: asyncio.Event = field(default_factory=asyncio.Event)

    def user(self) -> JSON:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def next_message_id(self, chat_id: int) -> int:
        return next(self.message_ids.setdefault(chat_id, itertools.count(1)))

    def wake(self) -> None:
        """Wake every long poll of this bot (they re-check their state)."""
        self.signal.set()
        self.signal = asyncio.Event()


@dataclass(slots=True)
class _Window:
    """A sliding window: at most ``rate`` sends per second, with a flood-wait penalty."""

    rate: float
    times: deque[float] = field(default_factory=deque)
    penalty_until: float = 0.0

    def wait(self, now: float, tolerance: float) -> float:
        """Seconds the client should still wait before this send; 0 when it may go."""
        if now < self.penalty_until:
            return self.penalty_until - now
        window = max(1.0, 1.0 / self.rate)
        capacity = max(1, math.floor(self.rate * window + 1e-9))
        horizon = now - window + tolerance
        while self.times and self.times[0] <= horizon:
            self.times.popleft()
        return 0.0 if len(self.times) < capacity else self.times[0] - horizon


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # by method
    errors: Counter[int] = field(default_factory=Counter)  # by error_code
    faults: Counter[str] = field(default_factory=Counter)  # by fault mode
    sent: int = 0
    violations_chat: int = 0
    violations_global: int = 0

    def as_dict(self) -> JSON:
        return {
            "requests": dict(self.requests),
            "errors": {str(k): v for k, v in self.errors.items()},
            "faults": dict(self.faults),
            "sent": self.sent,
            "violations": self.violations_chat + self.violations_global,
            "violations_chat": self.violations_chat,
            "violations_global": self.violations_global,
        }


class BotApiState:
    """Everything one fake Bot API instance knows; mutated by handlers and the control API."""

    def __init__(
        self,
        name: str,
        inbox: Inbox,
        *,
        enforce_limits: bool = True,
        per_chat_per_second: float = 1.0,
        global_per_second: float = 30.0,
        tolerance_seconds: float = 0.05,
    ) -> None:
        self.name = name
        self.inbox = inbox
        self.enforce_limits = enforce_limits
        self.per_chat_per_second = per_chat_per_second
        self.global_per_second = global_per_second
        # Requests travel a little: a client pacing itself at exactly the limit may land a
        # few milliseconds early. That slack is not counted as a violation.
        self.tolerance_seconds = tolerance_seconds
        self.faults = Faults()
        self.fault_methods: frozenset[str] | None = None  # None: every Bot API method
        self.bots: dict[str, FakeBot] = {}
        self.chats: dict[int, FakeChat] = {}
        self.messages: dict[tuple[int, int, int], FakeMessage] = {}
        self.callbacks: dict[str, JSON] = {}
        self.stats = Stats()
        self.released = asyncio.Event()  # set on shutdown: hanging handlers give up
        self._windows: dict[tuple[int, int | None], _Window] = {}
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
            username or f"{self.name}_crisis_{bot_id}_bot",
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
        """Register a user (or group, ``type="group"``) every bot of this fake can message."""
        known = {k: v for k, v in details.items() if k in FakeChat.__dataclass_fields__}
        chat = FakeChat(int(id), first_name or f"User {id}", **known)
        self.chats[chat.id] = chat
        return chat

    def chat(self, chat_id: object) -> FakeChat:
        """The chat a ``chat_id`` parameter names, or Telegram's 400 "chat not found"."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == chat_id[1:].lower():
                    return chat
            raise bad_request("chat not found")
        if chat_id in (None, ""):
            raise bad_request("chat_id is empty")
        try:
            return self.chats[int(str(chat_id))]
        except (ValueError, KeyError):
            raise bad_request("chat not found") from None

    def block(self, chat_id: int, blocked: bool = True) -> None:
        self.chat(chat_id).blocked = blocked

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
    ) -> JSON:
        """A user writes ``text`` to the bot; returns the queued Update."""
        bot = bot or self.bot()
        chat = self.chats.get(chat_id) or self.add_user(chat_id)
        sender = self.chats.get(user_id or chat_id) or self.add_user(user_id or chat_id)
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
            )
        )
        return self.push_update(bot, "message", self.wire(message))

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
        """Messages the bots sent, oldest first (optionally one chat's or one bot's)."""
        names = {b.id: b.username for b in self.bots.values()}
        return [
            m.record(names.get(m.bot_id, ""))
            for m in self.messages.values()
            if m.sender.get("is_bot")
            and (chat_id is None or m.chat_id == chat_id)
            and (bot is None or bot in (names.get(m.bot_id), str(m.bot_id)))
        ]

    # -- flood control --------------------------------------------------------------
    def check_flood(self, bot: FakeBot, chat_id: int) -> None:
        """Raise 429 when this send comes sooner than Telegram's limits allow; else count it."""
        if not self.enforce_limits:
            return
        now = time.monotonic()
        per_chat = self._window(bot.id, chat_id, self.per_chat_per_second)
        overall = self._window(bot.id, None, self.global_per_second)
        for window, is_chat in ((per_chat, True), (overall, False)):
            wait = window.wait(now, self.tolerance_seconds)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                window.penalty_until = max(
                    window.penalty_until, now + retry_after - self.tolerance_seconds
                )
                if is_chat:
                    self.stats.violations_chat += 1
                else:
                    self.stats.violations_global += 1
                raise BotApiError(
                    429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
                )
        per_chat.times.append(now)
        overall.times.append(now)

    def _window(self, bot_id: int, chat_id: int | None, rate: float) -> _Window:
        return self._windows.setdefault((bot_id, chat_id), _Window(rate))

    @property
    def violations(self) -> int:
        """Every 429 the flood control returned: sends that came while the client should wait."""
        return self.stats.violations_chat + self.stats.violations_global

    # -- lifecycle ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget messages, updates, stats, faults, blocks and windows; keep bots and users."""
        self.messages.clear()
        self.callbacks.clear()
        self._windows.clear()
        self.stats = Stats()
        self.faults = Faults()
        self.fault_methods = None
        for chat in self.chats.values():
            chat.blocked = False
        for bot in self.bots.values():
            bot.updates.clear()
            bot.message_ids.clear()
            bot.wake()

    def release(self) -> None:
        """Let every hanging or long-polling handler finish (server shutdown)."""
        self.released.set()
        for bot in self.bots.values():
            bot.wake()


def _put(data: JSON, **values: object) -> None:
    """Set the optional fields that have a value (the Bot API omits empty ones)."""
    data.update({k: v for k, v in values.items() if v is not None})


BOTAPI_STATE: web.AppKey[BotApiState] = web.AppKey("botapi_state", BotApiState)
"""Where a fake Bot API application keeps its state: ``app[BOTAPI_STATE]``."""
