"""Routes for monitoring: /healthz, /metrics and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from crisisd.api.requests import authenticate, has_valid_token
from crisisd.api.state import STATE, dumps
from crisisd.domain import MessageStatus
from crisisd.redaction import redact, redact_value

log = structlog.get_logger("crisisd.api.health")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def _checked(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    try:
        return await check()
    except Exception as exc:  # noqa: BLE001 - a failing check is itself the answer: unhealthy
        log.warning("api.health_failed", error=redact(repr(exc)))
        error = f"health check failed: {type(exc).__name__}"
        return {"ok": False, "down": {"health": error}, "error": error}


async def healthz(request: web.Request) -> web.Response:
    """503 while anything is down: the store takes no write, a channel's server stopped
    answering, a dispatcher part is dead, the outbox is stuck. Anyone gets ``ok`` and the
    names of what is down (for load balancers and systemd); integrations with a token get
    the detail (each cause, each channel, the workers, the oldest due message's age)."""
    detailed = has_valid_token(request)
    report = await _checked(request.app[STATE].ctx.health)
    ok = bool(report.get("ok"))
    if detailed:
        shown = redact_value(report)
    else:
        shown = {"ok": ok} if ok else {"ok": ok, "down": sorted(report.get("down") or {})}
    return web.json_response(shown, status=200 if ok else 503, dumps=dumps)


async def metrics(request: web.Request) -> web.Response:
    """Needs a token: the API listens where recipients' phones reach the ack links, and the
    counters would tell anyone that a factory just had an incident."""
    authenticate(request)
    ctx = request.app[STATE].ctx
    try:
        depth = await ctx.store.queue_depth()
    except Exception as exc:  # noqa: BLE001 - the other metrics are still worth scraping
        log.warning("api.queue_depth_failed", error=redact(repr(exc)))
    else:
        for status in {s.value for s in MessageStatus} | set(depth):
            ctx.metrics.queue_depth.labels(status).set(depth.get(status, 0))
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].openapi, dumps=dumps)
