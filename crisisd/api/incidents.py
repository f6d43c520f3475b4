"""Routes for integrations: report an incident, read it, update, resolve, hand over."""

from __future__ import annotations

from aiohttp import web

from crisisd.api.requests import authenticate, body, idempotency_key
from crisisd.api.schema import (
    ActionDone,
    IncidentCreated,
    OpenIncident,
    PostUpdate,
    Resolve,
    Takeover,
    Unreachable,
    incident_view,
)
from crisisd.api.state import STATE, json_answer
from crisisd.context import DaemonContext
from crisisd.domain import Casualties, IncidentReport


async def open_incident(request: web.Request) -> web.Response:
    caller = authenticate(request)
    key = idempotency_key(request, caller)
    got = await body(request, OpenIncident)
    ctx = request.app[STATE].ctx
    report = IncidentReport(
        factory=got.factory,
        incident_type=got.type,
        severity=got.severity,
        reporter=got.reporter,
        details=got.details,
        location=got.location,
        casualties=Casualties(got.casualties),
        casualties_count=got.casualties_count,
        drill=got.drill,
        source=f"api:{caller}",
        idempotency_key=key,
    )
    opened = await ctx.service.open(report)
    if opened.created:
        ctx.kick()
    result = IncidentCreated(
        id=opened.incident_id,
        created=opened.created,
        messages=opened.messages,
        unreachable=[Unreachable(audience=a, contact=c) for a, c in opened.unreachable],
    )
    return json_answer(result, 201 if opened.created else 200)


async def get_incident(request: web.Request) -> web.Response:
    authenticate(request)
    ctx = request.app[STATE].ctx
    row = await ctx.service.get(request.match_info["id"])
    return json_answer(incident_view(row, await ctx.store.messages_of(row.id)))


async def post_update(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, PostUpdate)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned = await ctx.service.update(incident_id, got.details, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def resolve(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, Resolve)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned = await ctx.service.resolve(incident_id, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def takeover(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, Takeover)
    ctx, incident_id = request.app[STATE].ctx, _incident_id(request)
    planned, cancelled = await ctx.service.takeover(incident_id, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned, cancelled=cancelled))


def _done(ctx: DaemonContext, result: ActionDone) -> web.Response:
    if result.messages:
        ctx.kick()
    return json_answer(result, exclude_none=True)


def _incident_id(request: web.Request) -> str:
    return request.match_info["id"].strip().upper()
