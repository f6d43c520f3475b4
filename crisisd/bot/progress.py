"""One progress message per accepted action, edited in place as delivery and acks come in.

A background task per followed message reads the store every ``progress_every`` seconds
(never faster than 3 s: Telegram allows about one edit per second per chat, and the
officer's chat also receives alerts), edits only when the text changed, and stops when
every message is settled or ``progress_for`` has passed. Tasks are cancelled at close.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import structlog
from sqlalchemy.exc import SQLAlchemyError
from telegram.error import RetryAfter, TelegramError

from crisisd.bot.runtime import Bot, BotRuntime, edit, send
from crisisd.bot.status import progress_text, selected, settled
from crisisd.channels.telegram import retry_after_seconds
from crisisd.redaction import redact

log = structlog.get_logger("crisisd.bot")

MIN_EVERY = 3.0
MAX_FOLLOWED = 200  # followed messages at once per bot; the oldest stop first


class ProgressBoard:
    """The progress messages one bot keeps up to date."""

    def __init__(self, rt: BotRuntime) -> None:
        self.rt = rt
        self._tasks: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._closed = False

    @property
    def every(self) -> float:
        return max(MIN_EVERY, self.rt.settings.progress_every)

    async def start(
        self, bot: Bot, chat_id: int, incident_id: str, prefixes: Sequence[str], lang: str
    ) -> None:
        """Send the progress message for the plan named by ``prefixes`` and follow it."""
        row = await self.rt.ctx.store.get_incident(incident_id)
        if row is None or self._closed:
            return
        msgs = selected(await self.rt.ctx.store.messages_of(incident_id), prefixes)
        text = progress_text(self.rt.lib, row, msgs, lang)
        message = await send(bot, chat_id, text, lang)
        if settled(msgs):
            return
        key = (chat_id, message.message_id)
        if len(self._tasks) >= MAX_FOLLOWED:
            oldest = next(iter(self._tasks))
            self._tasks.pop(oldest).cancel()
        task = asyncio.create_task(
            self._follow(bot, key, incident_id, tuple(prefixes), lang, text),
            name=f"progress-{incident_id}",
        )
        self._tasks[key] = task
        task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _follow(
        self,
        bot: Bot,
        key: tuple[int, int],
        incident_id: str,
        prefixes: tuple[str, ...],
        lang: str,
        shown: str,
    ) -> None:
        chat_id, message_id = key
        deadline = time.monotonic() + self.rt.settings.progress_for
        while True:
            await asyncio.sleep(self.every)
            stale = time.monotonic() >= deadline
            try:
                row = await self.rt.ctx.store.get_incident(incident_id)
                if row is None:
                    return
                msgs = selected(await self.rt.ctx.store.messages_of(incident_id), prefixes)
                text = progress_text(self.rt.lib, row, msgs, lang, stale=stale)
                if text != shown:
                    await edit(bot, chat_id, message_id, text, lang)
                    shown = text
                if stale or settled(msgs):
                    return
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
            except (TelegramError, SQLAlchemyError, OSError) as exc:
                # A failed look or edit is tried again at the next tick; delivery is unaffected.
                log.info(
                    "bot.progress_failed", incident_id=incident_id, error=redact(str(exc))[:200]
                )
                if stale:
                    return

    async def aclose(self) -> None:
        """Stop following everything (the messages stay as last edited)."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
