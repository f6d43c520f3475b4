"""What every handler of one messenger's bot shares: settings, the daemon, its bot.

One :class:`BotRuntime` per messenger; handlers are methods of small classes that hold it,
so nothing travels through PTB's untyped ``bot_data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram.ext import CallbackContext

from crisisd.bot.replies import MessengerBot
from crisisd.context import DaemonContext
from crisisd.domain import Dialect
from crisisd.library.model import Library

Bot = MessengerBot
Ctx = CallbackContext[MessengerBot, dict[Any, Any], dict[Any, Any], dict[Any, Any]]


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
        dialect: Dialect = "telegram_html",
    ) -> None:
        self.ctx = ctx
        self.messenger = messenger
        self.settings = settings
        self.dialect: Dialect = dialect  # how texts are written on this messenger

    @property
    def lib(self) -> Library:
        return self.ctx.library()

    @property
    def source(self) -> str:
        return f"bot:{self.messenger}"

    def now(self) -> datetime:
        return self.ctx.service.clock()
