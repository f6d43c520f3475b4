"""Lifecycle: webhook mode instead of polling; a messenger that is down at start does not
stop the others and comes up when it answers again."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from structlog.testing import capture_logs

from crisisd.bot import BotSettings
from crisisd.bot.webhook import SECRET_HEADER
from tests.botworld import PTB_RETRY_AFTER, World, buttons, wait_for

pytestmark = PTB_RETRY_AFTER


async def _daemon_routes(w: World) -> tuple[web.AppRunner, str]:
    """The daemon's HTTP server, serving the bots' webhook handlers once they exist."""

    async def route(request: web.Request) -> web.Response:
        assert w.bots is not None
        return await w.bots.webhook_handlers()[request.match_info["name"]](request)

    server = web.Application()
    server.router.add_post("/telegram-webhook/{name}", route)
    server.router.add_post("/telegram-webhook/{name}/{secret}", route)
    runner = web.AppRunner(server)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_telegram_webhook_is_checked_by_its_secret_header(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False, bots=False) as w:
        runner, base = await _daemon_routes(w)
        try:
            await w.start_bots(BotSettings(webhook_url=base), only=("telegram",))
            assert w.bots is not None
            state = w.sb.botapi["telegram"]
            url = f"{base}/telegram-webhook/telegram"
            assert state.bot().webhook_url == url
            secret = w.bots["telegram"].webhook_secret

            # What Telegram would POST: the Update the fake queued for this message.
            update = state.inject_message(2001, "/report")
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json=update) as forged:
                    assert forged.status == 403  # no secret: refused, nothing queued
                async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as ok:
                    assert ok.status == 200
            officer = w.chat("telegram", 2001)
            keyboard, _ = await officer.button("t:0", "the /report keyboard via the webhook")
            assert len(buttons(keyboard)) >= 2
        finally:
            await runner.cleanup()


async def test_bale_webhook_carries_its_secret_in_the_path(tmp_path: Path) -> None:
    """Bale's setWebhook has no secret_token: the secret is the URL's last segment."""
    async with World.open(tmp_path, dispatch=False, bots=False) as w:
        runner, base = await _daemon_routes(w)
        try:
            with capture_logs() as logs:
                await w.start_bots(BotSettings(webhook_url=base), only=("bale",))
            assert w.bots is not None
            state = w.sb.botapi["bale"]
            secret = w.bots["bale"].webhook_secret
            url = f"{base}/telegram-webhook/bale/{secret}"
            assert state.bot().webhook_url == url
            assert secret not in repr(logs)

            update = state.inject_message(1001, "/report")
            async with aiohttp.ClientSession() as http:
                wrong = f"{base}/telegram-webhook/bale/{'A' * len(secret)}"
                for forged in (f"{base}/telegram-webhook/bale", wrong):
                    async with http.post(forged, json=update) as refused:
                        assert refused.status == 403
                async with http.post(
                    f"{base}/telegram-webhook/bale", json=update, headers={SECRET_HEADER: secret}
                ) as header_only:
                    assert header_only.status == 403  # Bale sends no header: not accepted
                async with http.post(url, json=update) as posted:
                    assert posted.status == 200
            officer = w.chat("bale", 1001)
            keyboard, _ = await officer.button("t:0", "the /report keyboard via the webhook")
            assert len(buttons(keyboard)) >= 2
        finally:
            await runner.cleanup()


async def test_a_messenger_down_at_start_comes_up_later(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False, bots=False) as w:
        bale = w.sb.botapi["bale"]
        bale.faults.update({"mode": "error"})  # every Bale request fails with 500
        await w.start_bots(BotSettings(start_retry=0.2))
        assert w.bots is not None
        assert not w.bots["bale"].running and w.bots["telegram"].running  # the other is up
        bale.faults.update({"mode": "none"})
        await wait_for(lambda: w.bots is not None and w.bots["bale"].running, "Bale up again")
        officer = w.chat("bale", 1001)
        officer.write("/help")
        await officer.said("/report")
