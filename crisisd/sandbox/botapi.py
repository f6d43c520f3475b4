"""A fake Bot API over real HTTP, in Telegram's mode or Bale's, with fault injection.

Speaks the real wire format: ``/bot<token>/<method>`` by GET or POST (query string,
JSON, form or multipart), answers ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": "…", "parameters"?: {…}}``.

``mode="telegram"`` checks what Telegram checks: HTML entities as tdlib parses them,
4096 UTF-16 units, known chat, blocked bot, a user who never started the bot, a group
upgraded to a supergroup (``migrate_to_chat_id``), inline keyboards, webhook
``secret_token``; with ``enforce_limits``, Telegram's flood control (1 msg/s per chat,
20 msg/min per group, 30 msg/s per bot), counting every 429 it returns as a *violation*.
``mode="bale"`` answers as Bale does where Bale differs (no ``parse_mode``, stub edit
answers, no ``editMessageReplyMarkup`` on older servers, no webhook secret, Bale's error
descriptions): see :mod:`crisisd.sandbox.botapi_dialect`; ``bale_strict=False`` turns
those differences off.

Start it in-process::

    app = create_botapi_app("bale", inbox, mode="bale", tokens=["123:ABC"])
    runner = web.AppRunner(app); await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state = app[BOTAPI_STATE]           # add users, inject messages, read stats

and point a bot at ``http://127.0.0.1:<port>/bot``. The same state is reachable over
HTTP under ``/_control/`` (:mod:`crisisd.sandbox.botapi_control`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Iterable

from aiohttp import web

from crisisd.sandbox.botapi_control import add_control_routes
from crisisd.sandbox.botapi_dialect import Dialect, EditResult, Mode
from crisisd.sandbox.botapi_methods import METHODS, Method
from crisisd.sandbox.botapi_state import BOTAPI_STATE, BotApiState, FakeBot
from crisisd.sandbox.botapi_wire import JSON, BotApiError, bad_request
from crisisd.sandbox.inbox import Inbox

__all__ = ["BOTAPI_STATE", "BotApiState", "Dialect", "create_botapi_app"]

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def create_botapi_app(
    name: str,
    inbox: Inbox,
    *,
    mode: Mode = "telegram",
    bale_strict: bool = True,
    bale_lacks_edit_reply_markup: bool = True,
    bale_edit_result: EditResult = "true",
    enforce_limits: bool = True,
    per_chat_per_second: float = 1.0,
    group_per_minute: int = 20,
    global_per_second: float = 30.0,
    tokens: Iterable[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> web.Application:
    """A fake Bot API named ``name`` recording sends into ``inbox``.

    ``mode``: answer as Telegram or as Bale. For Bale, ``bale_strict=False`` answers as
    Telegram does; ``bale_lacks_edit_reply_markup``: an older server without that method;
    ``bale_edit_result``: what editMessageText answers ("true", "partial": a Message without
    ``date``, or "message"). ``clock``: monotonic seconds for flood control (tests step it).
    """
    dialect = Dialect(mode, bale_strict, bale_lacks_edit_reply_markup, bale_edit_result)
    state = BotApiState(
        name,
        inbox,
        dialect=dialect,
        enforce_limits=enforce_limits,
        per_chat_per_second=per_chat_per_second,
        group_per_minute=group_per_minute,
        global_per_second=global_per_second,
        clock=clock,
    )
    for token in tokens:
        state.add_bot(token)
    app = web.Application()
    app[BOTAPI_STATE] = state
    app.router.add_route("*", "/bot{token}/{method}", _api)
    add_control_routes(app)
    app.on_shutdown.append(_release)
    app.on_cleanup.append(_close)
    return app


async def _release(app: web.Application) -> None:
    app[BOTAPI_STATE].release()


async def _close(app: web.Application) -> None:
    await app[BOTAPI_STATE].webhooks.aclose()


# -- the Bot API --------------------------------------------------------------------
async def _api(request: web.Request) -> web.StreamResponse:
    state = request.app[BOTAPI_STATE]
    method = request.match_info["method"]
    try:
        bot = _bot(state, request.match_info["token"])
        state.stats.requests[method] += 1
        faulted = await _fault(request, state, method)
        if faulted is not None:
            return faulted
        result = await _method(state, method)(state, bot, await _params(request))
    except BotApiError as exc:
        state.stats.errors[exc.code] += 1
        return web.json_response(exc.body(), status=exc.code, dumps=_dumps)
    return web.json_response({"ok": True, "result": result}, dumps=_dumps)


def _bot(state: BotApiState, token: str) -> FakeBot:
    bot = state.bots.get(token)
    if bot is None:
        raise state.dialect.unauthorized()
    return bot


def _method(state: BotApiState, name: str) -> Method:
    handler = METHODS.get(name.lower())  # method names are case-insensitive
    if handler is None or not state.dialect.has_method(name.lower()):
        raise BotApiError(404, "Not Found")
    return handler


async def _fault(
    request: web.Request, state: BotApiState, method: str
) -> web.StreamResponse | None:
    """Apply the configured fault to this request: a response, an error, or None."""
    faults = state.faults
    if state.fault_methods is not None and method.lower() not in state.fault_methods:
        return None
    if faults.latency_ms:
        await _pause(state, faults.latency_ms / 1000)
    mode = faults.take()
    if mode == "none":
        return None
    state.stats.faults[mode] += 1
    if mode == "error":
        raise BotApiError(500, "Internal Server Error")
    if mode == "rate_limit":
        raise state.dialect.flood(faults.retry_after)
    if mode == "hang":
        await state.released.wait()  # until the server shuts down; the client gives up first
        raise BotApiError(502, "Bad Gateway")
    if mode == "drop":
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)  # never written: the connection is gone
    if mode == "garbage":
        return web.Response(text="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")
    # "permanent" / "no_credit" have no Bot API meaning but a revoked token.
    raise state.dialect.unauthorized()


async def _pause(state: BotApiState, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await state.released.wait()
    except TimeoutError:
        pass


async def _params(request: web.Request) -> JSON:
    """Parameters from the query string and the body, whatever its encoding."""
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params
