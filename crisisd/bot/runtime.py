"""What every handler of one messenger's bot shares: settings, the daemon, replies.

One :class:`BotRuntime` per messenger; handlers are methods of small classes that hold it,
so nothing travels through PTB's untyped ``bot_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackContext, ExtBot

from crisisd.bot.texts import norm
from crisisd.context import DaemonContext
from crisisd.formats.textfit import fit_telegram_html
from crisisd.library.model import Library
from crisisd.redaction import redact
from crisisd.templates import RLM

log = structlog.get_logger("crisisd.bot")

Bot = ExtBot[Any]
Ctx = CallbackContext[Bot, dict[Any, Any], dict[Any, Any], dict[Any, Any]]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


@dataclass(frozen=True, slots=True)
class BotSettings:
    """Tunables of the officers' bot; the defaults are what Telegram and people tolerate."""

    progress_every: float = 3.0  # seconds between edits of a progress message (≥ 3 s)
    progress_for: float = 1800.0  # stop following an incident's delivery after 30 minutes
    conversation_timeout: float = 600.0  # an abandoned /report is cancelled after 10 minutes
    flood_per_minute: int = 20  # updates one person may send per minute; more are ignored
    poll_timeout: float = 10.0  # getUpdates long-poll seconds
    start_retry: float = 30.0  # a messenger that is down at start is tried again this often
    webhook_url: str | None = None  # public base URL: webhook mode instead of long polling


class BotRuntime:
    """One messenger's bot as its handlers see it."""

    def __init__(
        self,
        ctx: DaemonContext,
        messenger: str,
        settings: BotSettings,
    ) -> None:
        self.ctx = ctx
        self.messenger = messenger
        self.settings = settings

    @property
    def lib(self) -> Library:
        return self.ctx.library()

    @property
    def source(self) -> str:
        return f"bot:{self.messenger}"

    def now(self) -> datetime:
        return self.ctx.service.clock()


def prepare(html: str, lang: str) -> str:
    """Final form of a reply: within Telegram's 4096, Persian opened right-to-left."""
    text = fit_telegram_html(html)
    if norm(lang) == "fa" and not text.startswith(RLM):
        text = RLM + text
    return text


async def send(
    bot: Bot,
    chat_id: int,
    html: str,
    lang: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send a reply as HTML without link previews."""
    return await bot.send_message(
        chat_id,
        prepare(html, lang),
        parse_mode=ParseMode.HTML,
        link_preview_options=NO_PREVIEW,
        reply_markup=markup,
    )


async def edit(
    bot: Bot,
    chat_id: int,
    message_id: int,
    html: str,
    lang: str,
    markup: InlineKeyboardMarkup | None = None,
) -> bool:
    """Edit a message in place; False when Telegram refused (gone, unchanged, too old)."""
    try:
        await bot.edit_message_text(
            prepare(html, lang),
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_markup=markup,
        )
    except BadRequest as exc:
        if "not modified" not in exc.message:
            log.info("bot.edit_refused", chat_id=chat_id, reason=redact(exc.message))
        return False
    return True
