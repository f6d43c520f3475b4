"""Lifecycle: webhook mode instead of polling; a messenger that is down at start does not
stop the others and comes up when it answers again."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from crisisd.bot import BotSettings
from crisisd.bot.webhook import SECRET_HEADER
from tests.botworld import PTB_RETRY_AFTER, World, buttons, wait_for

pytestmark = PTB_RETRY_AFTER


async def test_webhook_mode_receives_updates_posted_by_the_messenger(tmp_path: Path) -> None:
    async with World.open(tmp_path, dispatch=False, bots=False) as w:
        # The daemon's HTTP server, mounting the bots' webhook routes once they exist.
        async def route(request: web.Request) -> web.Response:
            assert w.bots is not None
            handlers = dict(w.bots.webhook_routes())
            return await handlers[request.path](request)

        server = web.Application()
        server.router.add_post("/telegram-webhook/{name}", route)
        runner = web.AppRunner(server)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            await w.start_bots(BotSettings(webhook_url=base), only=("bale",))
            assert w.bots is not None
            state = w.sb.botapi["bale"]
            assert state.bot().webhook_url == f"{base}/telegram-webhook/bale"
            secret = w.bots["bale"].webhook_secret

            # What Telegram would POST: the Update the fake queued for this message.
            update = state.inject_message(1001, "/report")
            url = f"{base}/telegram-webhook/bale"
            async with aiohttp.ClientSession() as http:
                async with http.post(url, json=update) as forged:
                    assert forged.status == 403  # no secret: refused, nothing queued
                headers = {SECRET_HEADER: secret}
                async with http.post(url, json=update, headers=headers) as posted:
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
