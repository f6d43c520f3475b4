"""What one fake Bot API holds: chats (users and groups), bots, messages, counters.

Plain records with the Bot API's JSON shapes; the rules live in
:mod:`crisisd.sandbox.botapi_state` and the method handlers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
UPDATE_KINDS = ("message", "edited_message", "callback_query")


@dataclass(slots=True)
class ChatFault:
    """A fault the control API put on one chat: the next ``count`` sends (None: all) fail."""

    kind: str  # "rate_limit"
    count: int | None = None
    retry_after: int = 5

    def take(self) -> bool:
        """Whether this send fails (and consume one of ``count``)."""
        if self.count is None:
            return True
        if self.count <= 0:
            return False
        self.count -= 1
        return True


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
    blocked: bool = False  # the user blocked the bots, or the bots were removed from the group
    started: set[int] | None = None  # ids of bots the user started; None: every bot
    migrated_to: int | None = None  # a group upgraded to this supergroup
    fault: ChatFault | None = None

    @property
    def is_group(self) -> bool:
        return self.type != "private"

    def has_started(self, bot_id: int) -> bool:
        return self.is_group or self.started is None or bot_id in self.started

    def chat(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name
            put(data, last_name=self.last_name, username=self.username)
        else:
            data["title"] = self.title or self.first_name
        return data

    def user(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        put(
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
    text: str  # what the server returns as ``text`` (Telegram: entities parsed out)
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
    contact: JSON | None = None  # a shared contact (then there is no text)

    def wire(self, chat: FakeChat, reply_to: FakeMessage | None = None) -> JSON:
        """The Message object the Bot API returns."""
        data: JSON = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": chat.chat(),
            "date": self.date,
        }
        if self.contact is not None:
            data["contact"] = self.contact
        else:
            data["text"] = self.text
        # A Message carries only an inline keyboard; a reply keyboard (e.g. a "share my
        # number" button) or its removal is shown to the user and never echoed back.
        inline = self.reply_markup if "inline_keyboard" in (self.reply_markup or {}) else None
        put(data, entities=self.entities or None, reply_markup=inline)
        put(data, edit_date=self.edit_date)
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
            "entities": self.entities,
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
    webhook_secret: str = ""  # sent back as X-Telegram-Bot-Api-Secret-Token
    webhook_error: tuple[int, str] | None = None  # last delivery failure: (date, message)
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
        """Wake every long poll and webhook sender of this bot (they re-check their state)."""
        self.signal.set()
        self.signal = asyncio.Event()


@dataclass(slots=True)
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # by method
    errors: Counter[int] = field(default_factory=Counter)  # by error_code
    faults: Counter[str] = field(default_factory=Counter)  # by fault mode
    sent: int = 0
    violations_chat: int = 0
    violations_group: int = 0
    violations_global: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0

    def as_dict(self) -> JSON:
        return {
            "requests": dict(self.requests),
            "errors": {str(k): v for k, v in self.errors.items()},
            "faults": dict(self.faults),
            "sent": self.sent,
            "violations": self.violations_chat + self.violations_group + self.violations_global,
            "violations_chat": self.violations_chat,
            "violations_group": self.violations_group,
            "violations_global": self.violations_global,
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_failures": self.webhook_failures,
        }


def put(data: JSON, **values: object) -> None:
    """Set the optional fields that have a value (the Bot API omits empty ones)."""
    data.update({k: v for k, v in values.items() if v is not None})
