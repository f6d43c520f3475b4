"""Webhook mode: Telegram (or Bale) POSTs updates to the daemon instead of being polled.

Chosen with ``BotSettings(webhook_url="https://crisis.example.org")`` (the public base URL
of the daemon's HTTP server). At start each bot calls ``setWebhook`` with a fresh secret:

* Telegram: ``<webhook_url>/telegram-webhook/<messenger>`` with ``secret_token``; Telegram
  sends it back in the ``X-Telegram-Bot-Api-Secret-Token`` header
  (https://core.telegram.org/bots/api#setwebhook).
* Bale: its ``setWebhook`` takes only ``url`` (https://docs.bale.ai, setWebhook), so the
  secret is the URL's last segment: ``<webhook_url>/telegram-webhook/<messenger>/<secret>``.

The daemon's aiohttp server serves both shapes and hands each request to
:meth:`Bots.webhook_handlers` by messenger; the handler compares the secret in constant
time (``hmac.compare_digest``), refuses with 403 otherwise, and queues the update for the
Application. The secret is registered with :mod:`crisisd.redaction`, so a logged path
shows ``***``. Updates that arrive while the daemon is down are kept by the messenger and
delivered later (``drop_pending_updates=False``); switching back to polling deletes the
webhook.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from telegram import Update

log = structlog.get_logger("crisisd.bot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret
Handler = Callable[[web.Request], Awaitable[web.Response]]


def webhook_path(messenger: str) -> str:
    return f"/telegram-webhook/{messenger}"


def new_secret() -> str:
    """A secret as Telegram allows it (1-256 of A-Z a-z 0-9 _ -), also safe in a URL path."""
    return secrets.token_urlsafe(32)


def webhook_handler(app: Any, secret: str, messenger: str, *, in_path: bool = False) -> Handler:
    """The aiohttp handler that feeds one messenger's Application from its webhook.

    ``in_path``: the secret is the ``{secret}`` segment of the route (Bale); otherwise the
    header Telegram sends."""

    async def handle(request: web.Request) -> web.Response:
        if in_path:
            given = request.match_info.get("secret", "")
        else:
            given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("bot.webhook_refused", messenger=messenger, remote=request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(data, dict):
            return web.Response(status=400, text="not an Update")
        update = Update.de_json(data, app.bot)
        await app.update_queue.put(update)
        return web.Response(text="ok")

    return handle
