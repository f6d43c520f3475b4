"""Webhook deliveries: the fake POSTs each pending update to a bot's webhook, as Telegram
does (https://core.telegram.org/bots/api#setwebhook), oldest first, one at a time.

An update leaves the queue once the webhook answers 2xx; any other answer or a connection
failure is kept as ``last_error_message`` (getWebhookInfo) and retried after a pause.
Telegram sends the ``secret_token`` given to setWebhook in the
``X-Telegram-Bot-Api-Secret-Token`` header; Bale takes no secret, so its deliveries carry
none (:mod:`crisisd.sandbox.botapi_dialect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

import aiohttp

from crisisd.sandbox.botapi_model import JSON, UPDATE_KINDS, FakeBot, Stats

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


class WebhookHost(Protocol):
    """What the sender needs of the fake's state."""

    stats: Stats
    released: asyncio.Event


class WebhookSender:
    """One delivery task per bot with a webhook; ended by deleteWebhook or shutdown."""

    def __init__(
        self, host: WebhookHost, *, retry_seconds: float = 1.0, timeout_seconds: float = 10.0
    ) -> None:
        self._host = host
        self.retry_seconds = retry_seconds
        self.timeout_seconds = timeout_seconds
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    def watch(self, bot: FakeBot) -> None:
        """Deliver ``bot``'s updates while it has a webhook (call after setWebhook)."""
        task = self._tasks.get(bot.id)
        if task is None or task.done():
            self._tasks[bot.id] = asyncio.get_running_loop().create_task(self._run(bot))
        bot.wake()

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, bot: FakeBot) -> None:
        released = self._host.released
        while bot.webhook_url and not released.is_set():
            signal = bot.signal
            kinds = bot.allowed_updates or list(UPDATE_KINDS)
            bot.updates = [u for u in bot.updates if any(k in u for k in kinds)]
            if not bot.updates:
                await _either(signal, released)
                continue
            update = bot.updates[0]
            if await self._deliver(bot, update):
                self._host.stats.webhook_deliveries += 1
                if bot.updates and bot.updates[0] is update:
                    bot.updates.pop(0)
            else:
                self._host.stats.webhook_failures += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.retry_seconds):
                        await released.wait()

    async def _deliver(self, bot: FakeBot, update: JSON) -> bool:
        headers = {SECRET_HEADER: bot.webhook_secret} if bot.webhook_secret else {}
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)
        try:
            async with self._session.post(
                bot.webhook_url, json=update, headers=headers, timeout=timeout
            ) as response:
                if 200 <= response.status < 300:
                    bot.webhook_error = None
                    return True
                problem = f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            problem = f"Connection failed: {type(exc).__name__}"
        bot.webhook_error = (int(time.time()), problem)
        return False


async def _either(signal: asyncio.Event, released: asyncio.Event) -> None:
    """Wait until the bot has news or the server shuts down."""
    waits = [asyncio.ensure_future(signal.wait()), asyncio.ensure_future(released.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
