"""How the bot's own requests respect Telegram's limits, and in which order updates run.

* :class:`ChatPacer` spaces messages to one chat (Telegram: about one per second), to one
  group (a negative chat id: 20 a minute) and all messages together (about 30 per second),
  and waits out a 429 ``retry_after`` for that one request only — PTB's AIORateLimiter
  would pause every request of the bot instead, and does not pace private chats at all.
  (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
* :class:`PerUserProcessor` runs updates of different people concurrently but one
  person's updates one after another, in order: the /report conversation needs its
  updates in sequence, and one slow officer must not hold up everyone's ack buttons.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog
from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

from crisisd.channels.base import ChannelLimits
from crisisd.channels.chaterrors import retry_after_seconds
from crisisd.config import Rate
from crisisd.delivery.pacing import SAFETY, Pacer

log = structlog.get_logger("crisisd.bot")

JSONish = bool | dict[str, Any] | list[dict[str, Any]]


class ChatPacer(BaseRateLimiter[int]):
    """Paces ``send*`` requests per chat and overall; retries a request told to wait."""

    def __init__(
        self,
        rate: Rate,
        pacer: Pacer | None = None,
        max_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``pacer``: the dispatcher's pacer of this messenger, when it is shared, so bot
        replies and alerts to the same chat (the officer's) take turns instead of colliding.
        Groups are also spaced here (``rate.per_group_per_minute``), whatever the pacer does."""
        self._pacer = pacer or Pacer(
            ChannelLimits(
                max_length=4096,
                rate_per_second=rate.global_per_second,
                per_destination_per_second=rate.per_chat_per_second,
            )
        )
        self._max_retries = max_retries
        self._group_gap = 60.0 / (rate.per_group_per_minute * SAFETY)
        self._group_next: dict[str, float] = {}
        self._clock = clock

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def group_delay(self, chat: str) -> float:
        """Seconds to wait before writing to ``chat`` again, if it is a group; the slot is
        taken at once (0 for a private chat)."""
        if not chat.startswith("-"):
            return 0.0
        now = self._clock()
        at = max(now, self._group_next.get(chat, 0.0))
        self._group_next[chat] = at + self._group_gap
        if len(self._group_next) > 10_000:
            self._group_next = {k: v for k, v in self._group_next.items() if v > now}
        return at - now

    async def _slot(self, chat: str) -> None:
        if (wait := self.group_delay(chat)) > 0:
            await asyncio.sleep(wait)
        while (delay := self._pacer.dest_delay(chat)) > 0:  # noqa: ASYNC110 - a time slot
            await asyncio.sleep(delay)
        wait = self._pacer.reserve(chat)
        if wait > 0:
            await asyncio.sleep(wait)
        # As the dispatcher's senders do (delivery/queueing.py ``in_slot``): the slot was
        # reserved ahead, and one of them that woke late for its own may have sent just now;
        # the request waits the rate's own gap after it, so that a server counting requests
        # in one-second windows (Bale's "bot limit exceed") never sees one too many.
        if (late := self._pacer.take_floor()) > 0:
            await asyncio.sleep(late)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONish]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONish:
        paced = endpoint.startswith("send") and data.get("chat_id") is not None
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        for attempt in range(retries + 1):
            if paced:
                await self._slot(str(data["chat_id"]))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                wait = retry_after_seconds(exc)
                log.info("bot.flood_wait", endpoint=endpoint, seconds=wait)
                await asyncio.sleep(wait + 0.05)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


class PerUserProcessor(BaseUpdateProcessor):
    """Concurrent across people, sequential (and in arrival order) for each person."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


def _key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None
