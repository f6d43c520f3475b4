"""Telegram and Bale (any Telegram-compatible Bot API): the outbox's sending path.

One configured :class:`~crisisd.config.Messenger` is one channel. Messages arrive as
Telegram HTML and leave in the messenger's dialect (:mod:`crisisd.channels.dialects`:
HTML with ``parse_mode`` HTML for Telegram; Bale's Markdown with no ``parse_mode`` for
Bale), fitted to 4,096 UTF-16 units counting what is actually sent (the planner's RLM
included). An
alert that needs an acknowledgement carries one inline button whose ``callback_data``
is ``ack:<ack_code(key)>``.

Outcomes are classified by :mod:`crisisd.channels.chaterrors`; in short::

    ok (a Message, or Bale's stub / partial answer)  Sent("<chat_id>:<message_id>")
    400 group migrated (migrate_to_chat_id)          sent again, once, to the new chat id;
                                                     the move is logged and reported
    400 about the text itself                        Failed(message), the text quoted
    403, 400 chat not found                          Failed(recipient)
    401/404 token or URL                             Failed(channel)
    429, 5xx, timeouts, unknown refusals             Retry (then the dispatcher fails over)

The per-chat, per-group and global rates are the dispatcher's job (``limits``); a 429
that still comes back is honoured through ``Retry.after``. The token is part of every
request URL, so each reason is scrubbed of it before it leaves this module.

Requests go through :class:`~crisisd.channels.botapi.BotApiClient` (one aiohttp session per
channel, the parameters as JSON: https://core.telegram.org/bots/api#making-requests), not
python-telegram-bot, which the officers' bot keeps: this module never imports it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import structlog

from crisisd import redaction
from crisisd.channels.base import (
    ACK_CALLBACK_PREFIX,
    ChannelLimits,
    Failed,
    OutboundMessage,
    Retry,
    SendResult,
    Sent,
)
from crisisd.channels.botapi import BotApiClient, BotApiError, Timeouts
from crisisd.channels.capabilities import capabilities, dialect
from crisisd.channels.chaterrors import classify
from crisisd.channels.dialects import ChatText, render_chat
from crisisd.channels.rollcallbuttons import roll_call_markup
from crisisd.config import Messenger
from crisisd.domain import ack_code
from crisisd.errors import ConfigError

_log = structlog.get_logger(__name__)

MAX_LENGTH = 4096  # UTF-16 units of the text after entity parsing
ACK_LABELS = {"fa": "✅ دریافت شد", "en": "✅ Acknowledge"}
MASK = redaction.MASK
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# https://core.telegram.org/bots/api#linkpreviewoptions: no preview under an alert
_NO_PREVIEW = {"is_disabled": True}
# A fan-out sends one text to thousands of chats: each distinct text is converted and
# fitted once (the dialect conversion and fitting were a third of the channel's time).
RENDERED_KEEP = 64


@dataclass(frozen=True, slots=True)
class ChatMoved:
    """A group became a supergroup: messages to ``old`` now go to ``new``."""

    channel: str
    old: int
    new: int
    key: str  # the message that found out
    incident_id: str


@dataclass(frozen=True, slots=True)
class _Moved:
    to: int


def messenger_limits(
    messenger: Messenger, *, timeout_seconds: float | None = None, concurrency: int = 8
) -> ChannelLimits:
    """The limits of one messenger: 4096 units, its send rates (config ``rate``, the group
    pace included), its timeouts and when it counts as down."""
    return ChannelLimits(
        max_length=MAX_LENGTH,
        rate_per_second=messenger.rate.global_per_second,
        per_destination_per_second=messenger.rate.per_chat_per_second,
        per_group_per_second=messenger.rate.per_group_per_minute / 60.0,
        concurrency=concurrency,
        timeout_seconds=timeout_seconds or messenger.timeout_seconds,
        connect_timeout_seconds=messenger.connect_timeout_seconds,
        trip_after=messenger.breaker.trip_after,
        probe_seconds=messenger.breaker.probe_seconds,
    )


class TelegramChannel:
    """Sends chat messages through one Telegram-compatible Bot API (Telegram, Bale, …)."""

    kind = "chat"

    def __init__(
        self,
        messenger: Messenger,
        *,
        base_url: str | None = None,
        token: str | None = None,
        limits: ChannelLimits | None = None,
    ) -> None:
        """``base_url`` and ``token`` override the messenger's (the sandbox uses them)."""
        if token is None and messenger.token is not None:
            token = messenger.token.get_secret_value()
        if not token:
            raise ConfigError(
                f"messenger '{messenger.name}' has no token: set token: ${{ENV}} or file:/path "
                "in config.yaml, or run with sandbox: true"
            )
        redaction.register(token)  # also covers tokens given here rather than by the config
        self.name = messenger.name
        self.limits = limits or messenger_limits(messenger)
        self.dialect = dialect(messenger)
        self.caps = capabilities(messenger)
        self.migrated: dict[int, int] = {}  # group -> supergroup, learnt from the Bot API
        self.on_migrate: Callable[[ChatMoved], Awaitable[None]] | None = None
        self._token = token
        self._rendered: dict[str, ChatText] = {}
        self.api = BotApiClient(
            base_url or messenger.base_url,
            token,
            concurrency=self.limits.concurrency,
            timeouts=Timeouts(self.limits.timeout_seconds, self.limits.connect_timeout_seconds),
        )

    async def send(self, msg: OutboundMessage) -> SendResult:
        """sendMessage in the messenger's dialect; every outcome is classified, never raised."""
        chat_id = chat_id_of(msg.address)
        if chat_id is None:
            return Failed(f"'{msg.address}' is not a chat id or @username", scope="recipient")
        if isinstance(chat_id, int):
            chat_id = self.migrated.get(chat_id, chat_id)
        out = self._render(msg.text)
        markup = ack_markup(msg) if msg.ack_button else roll_call_markup(msg)
        result = await self._attempt(chat_id, out, markup)
        if isinstance(result, _Moved) and isinstance(chat_id, int):
            await self._moved(msg, chat_id, result.to)
            result = await self._attempt(result.to, out, markup)
        if isinstance(result, _Moved):
            result = Failed(f"group moved twice (now {result.to}): update the address")
        if not isinstance(result, Sent):
            _log.info(
                "chat.send.retry" if isinstance(result, Retry) else "chat.send.failed",
                channel=self.name,
                key=msg.key,
                incident_id=msg.incident_id,
                reason=result.reason,
            )
        return result

    def _render(self, markup: str) -> ChatText:
        """The text in this messenger's dialect, fitted; the same text is rendered once."""
        out = self._rendered.get(markup)
        if out is None:
            out = render_chat(markup, self.dialect, limit=self.limits.max_length)
            if len(self._rendered) >= RENDERED_KEEP:
                self._rendered.pop(next(iter(self._rendered)))  # the oldest
            self._rendered[markup] = out
        return out

    async def _attempt(
        self, chat_id: int | str, out: ChatText, markup: dict[str, Any] | None
    ) -> SendResult | _Moved:
        # https://core.telegram.org/bots/api#sendmessage; Bale takes no parse_mode and no
        # link_preview_options (capabilities.py): parameters it does not take are left out.
        params: dict[str, Any] = {"chat_id": chat_id, "text": out.text}
        if out.parse_mode is not None:
            params["parse_mode"] = out.parse_mode
        if self.caps.link_preview_options:
            params["link_preview_options"] = _NO_PREVIEW
        if markup is not None:
            params["reply_markup"] = markup
        try:
            sent = await self.api.call("sendMessage", params)
        except BotApiError as exc:
            if exc.migrate_to_chat_id:
                return _Moved(exc.migrate_to_chat_id)
            return self._scrubbed(classify(exc, out.text, self.scrub))
        except Exception as exc:  # noqa: BLE001 - a channel reports failures, it never raises them
            return self._scrubbed(classify(exc, out.text, self.scrub))
        return Sent(provider_id=provider_id(sent, chat_id))

    async def _moved(self, msg: OutboundMessage, old: int, new: int) -> None:
        """Remember the supergroup, say so, and let whoever listens record it."""
        self.migrated[old] = new
        _log.warning(
            "chat.migrated",
            channel=self.name,
            old_chat_id=old,
            new_chat_id=new,
            key=msg.key,
            incident_id=msg.incident_id,
            hint="update the chat id in playbooks/directory.yaml",
        )
        if self.on_migrate is not None:
            try:
                await self.on_migrate(ChatMoved(self.name, old, new, msg.key, msg.incident_id))
            except Exception as exc:  # noqa: BLE001 - recording it must not stop the message
                _log.warning("chat.migration_not_recorded", error=self.scrub(repr(exc)))

    async def probe(self) -> str | None:
        """Whether the Bot API answers, sending nothing (getMe). None when it did."""
        try:
            await self.api.call("getMe", {})  # https://core.telegram.org/bots/api#getme
        except Exception as exc:  # noqa: BLE001 - a probe reports, it never raises
            return self.scrub(classify(exc).reason)
        return None

    async def aclose(self) -> None:
        """Close the HTTP session (a later send opens a new one)."""
        await self.api.aclose()

    def scrub(self, text: str) -> str:
        """``text`` without this channel's token (raw or URL-encoded) or any known secret."""
        for secret in (self._token, quote(self._token, safe="")):
            text = text.replace(secret, MASK)
        return redaction.redact(text)

    def _scrubbed(self, result: Retry | Failed) -> Retry | Failed:
        if isinstance(result, Retry):
            return dataclasses.replace(result, reason=self.scrub(result.reason))
        return Failed(reason=self.scrub(result.reason), scope=result.scope)


def chat_id_of(address: str) -> int | str | None:
    """A Bot API chat_id: an integer id, or an ``@username`` of a public channel."""
    address = address.strip()
    if _USERNAME.fullmatch(address):
        return address
    return int(address) if _CHAT_ID.fullmatch(address) else None  # "+98…" is a phone, not an id


def provider_id(sent: Any, chat_id: int | str) -> str:
    """``<chat id>:<message id>`` from the Message sent; ``<chat id>:`` when the answer is
    Bale's bare ``true`` or a Message lacking its chat or id (still accepted)."""
    if isinstance(sent, dict):
        chat, message_id = sent.get("chat"), sent.get("message_id")
        if isinstance(chat, dict) and "id" in chat and message_id is not None and "date" in sent:
            return f"{chat['id']}:{message_id}"
    return f"{chat_id}:"


def ack_markup(msg: OutboundMessage) -> dict[str, Any]:
    """One "Acknowledge" button in the message's language: an InlineKeyboardMarkup as the
    Bot API takes it (https://core.telegram.org/bots/api#inlinekeyboardmarkup)."""
    label = ACK_LABELS.get(msg.lang, ACK_LABELS["en"])
    data = ACK_CALLBACK_PREFIX + ack_code(msg.key)
    return {"inline_keyboard": [[{"text": label, "callback_data": data}]]}
