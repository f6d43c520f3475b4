"""Telegram and Bale (any Telegram-compatible Bot API) through python-telegram-bot.

One configured :class:`~crisisd.config.Messenger` is one channel; Telegram and Bale differ
only by ``base_url`` (Bale: ``https://tapi.bale.ai/bot``). Messages go out as HTML with
link previews off; an alert that needs an acknowledgement carries one inline button whose
``callback_data`` is ``ack:<ack_code(key)>``.

Outcomes (see :mod:`crisisd.channels.base`)::

    ok                                         Sent("<chat_id>:<message_id>")
    429 Too Many Requests (RetryAfter)         Retry(retry_after)
    403 blocked, kicked, user deactivated      Failed(recipient)
    400 chat not found, can't parse entities…  Failed(recipient)
    400 group migrated to a supergroup         Failed(recipient): the address must change
    401/404 token rejected, no such endpoint   Failed(channel)
    5xx, timeout, connection lost, a reply
    that is not JSON, anything unexpected      Retry(2 s)

The per-chat and global rates are the dispatcher's job (``limits``); a 429 that still
comes back is honoured through ``Retry.after``. The token is part of every request URL,
so each reason is scrubbed of it before it leaves this module.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from datetime import timedelta
from urllib.parse import quote

import structlog
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

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
from crisisd.config import Messenger
from crisisd.domain import ack_code
from crisisd.errors import ConfigError

_log = structlog.get_logger(__name__)

MAX_LENGTH = 4096  # UTF-16 units of the text after entity parsing
RETRY_TRANSIENT = 2.0  # seconds: 5xx, timeouts, broken connections, unreadable replies
ACK_LABELS = {"fa": "✅ دریافت شد", "en": "✅ Acknowledge"}
MASK = redaction.MASK
_CHAT_ID = re.compile(r"-?[0-9]{1,20}")
_USERNAME = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")


def messenger_limits(
    messenger: Messenger, *, timeout_seconds: float = 15.0, concurrency: int = 8
) -> ChannelLimits:
    """The limits of one messenger: Telegram's 4096 units, its configured send rates."""
    return ChannelLimits(
        max_length=MAX_LENGTH,
        rate_per_second=messenger.rate.global_per_second,
        per_destination_per_second=messenger.rate.per_chat_per_second,
        concurrency=concurrency,
        timeout_seconds=timeout_seconds,
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
        self._token = token
        timeout = self.limits.timeout_seconds
        self._requests = tuple(
            HTTPXRequest(
                connection_pool_size=size,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
                pool_timeout=timeout,
            )
            for size in (self.limits.concurrency, 1)  # sends; getUpdates (unused, but owned)
        )
        self.bot = Bot(
            token,
            base_url=base_url or messenger.base_url,
            request=self._requests[0],
            get_updates_request=self._requests[1],
        )

    async def send(self, msg: OutboundMessage) -> SendResult:
        """sendMessage as HTML; every outcome is classified, nothing is raised."""
        chat_id = chat_id_of(msg.address)
        if chat_id is None:
            return Failed(f"'{msg.address}' is not a chat id or @username", scope="recipient")
        markup = ack_markup(msg) if msg.ack_button else None
        try:
            async with asyncio.timeout(self.limits.timeout_seconds):
                sent = await self.bot.send_message(
                    chat_id=chat_id,
                    text=msg.text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                    reply_markup=markup,
                )
        except Exception as exc:  # noqa: BLE001 - a channel reports failures, it never raises them
            result = self._scrubbed(classify(exc))
            _log.info(
                "chat.send.retry" if isinstance(result, Retry) else "chat.send.failed",
                channel=self.name,
                key=msg.key,
                incident_id=msg.incident_id,
                error=type(exc).__name__,
                reason=result.reason,
            )
            return result
        return Sent(provider_id=f"{sent.chat.id}:{sent.message_id}")

    async def aclose(self) -> None:
        """Close the HTTP connection pools."""
        await asyncio.gather(*(request.shutdown() for request in self._requests))

    def scrub(self, text: str) -> str:
        """``text`` without this channel's token (raw or URL-encoded) or any known secret."""
        for secret in (self._token, quote(self._token, safe="")):
            text = text.replace(secret, MASK)
        return redaction.redact(text)

    def _scrubbed(self, result: Retry | Failed) -> Retry | Failed:
        if isinstance(result, Retry):
            return Retry(after=result.after, reason=self.scrub(result.reason))
        return Failed(reason=self.scrub(result.reason), scope=result.scope)


def chat_id_of(address: str) -> int | str | None:
    """A Bot API chat_id: an integer id, or an ``@username`` of a public channel."""
    address = address.strip()
    if _USERNAME.fullmatch(address):
        return address
    return int(address) if _CHAT_ID.fullmatch(address) else None  # "+98…" is a phone, not an id


def ack_markup(msg: OutboundMessage) -> InlineKeyboardMarkup:
    """One "Acknowledge" button in the message's language."""
    label = ACK_LABELS.get(msg.lang, ACK_LABELS["en"])
    data = ACK_CALLBACK_PREFIX + ack_code(msg.key)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def classify(exc: Exception) -> Retry | Failed:
    """What a failed sendMessage means for delivery. Reasons may still hold the token."""
    # Order matters: BadRequest and TimedOut are NetworkError subclasses.
    if isinstance(exc, RetryAfter):
        after = retry_after_seconds(exc)
        return Retry(after=after, reason=f"flood control: retry after {after:g} s")
    if isinstance(exc, ChatMigrated):
        return Failed(f"group moved to supergroup {exc.new_chat_id}: update the address")
    if isinstance(exc, Forbidden):
        return Failed(f"forbidden: {exc.message}")
    if isinstance(exc, InvalidToken | EndPointNotFound):
        return Failed(
            f"the Bot API rejected the token or URL ({exc.message}): check token and base_url",
            scope="channel",
        )
    if isinstance(exc, BadRequest):
        return Failed(f"bad request: {exc.message}")
    if isinstance(exc, TimedOut | TimeoutError):
        return Retry(after=RETRY_TRANSIENT, reason="timed out waiting for the Bot API")
    if isinstance(exc, NetworkError):
        return Retry(after=RETRY_TRANSIENT, reason=f"network or server error: {exc.message}")
    if isinstance(exc, TelegramError):  # e.g. a reply that is not JSON; 409 Conflict
        return Retry(
            after=RETRY_TRANSIENT, reason=f"unusable reply from the Bot API: {exc.message}"
        )
    return Retry(after=RETRY_TRANSIENT, reason=f"unexpected {type(exc).__name__}: {exc}")


def retry_after_seconds(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds, without touching PTB's deprecated int property."""
    raw = getattr(exc, "_retry_after", None)
    if isinstance(raw, timedelta):
        return raw.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
