"""Routes for integrations: report an incident, read it, update, resolve, hand over."""

from __future__ import annotations

from aiohttp import web

from crisisd.api.requests import authenticate, body, idempotency_key
from crisisd.api.schema import (
    ActionDone,
    IncidentCreated,
    OpenIncident,
    PostUpdate,
    Reject,
    Resolve,
    Takeover,
    Unreachable,
    incident_view,
)
from crisisd.api.scopes import allow
from crisisd.api.state import STATE, json_answer
from crisisd.context import DaemonContext
from crisisd.domain import Casualties, IncidentReport


async def open_incident(request: web.Request) -> web.Response:
    caller = authenticate(request)
    key = idempotency_key(request, caller)
    got = await body(request, OpenIncident)
    await allow(request, "open", got.factory)
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
    else:
        await same_request(ctx, opened.incident_id, report)
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
    await allow(request, "read", row.factory, row.id)
    return json_answer(incident_view(row, await ctx.store.messages_of(row.id)))


async def post_update(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, PostUpdate)
    ctx, incident_id = request.app[STATE].ctx, await _in_scope(request, "update")
    planned = await ctx.service.update(incident_id, got.details, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def resolve(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, Resolve)
    ctx, incident_id = request.app[STATE].ctx, await _in_scope(request, "resolve")
    planned = await ctx.service.resolve(incident_id, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned))


async def takeover(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, Takeover)
    ctx, incident_id = request.app[STATE].ctx, await _in_scope(request, "takeover")
    planned, cancelled = await ctx.service.takeover(incident_id, got.actor or f"api:{caller}")
    return _done(ctx, ActionDone(id=incident_id, messages=planned, cancelled=cancelled))


def _done(ctx: DaemonContext, result: ActionDone) -> web.Response:
    if result.messages:
        ctx.kick()
    return json_answer(result, exclude_none=True)


async def _in_scope(request: web.Request, action: str) -> str:
    """The incident's id, once the caller's token may ``action`` at its factory."""
    row = await request.app[STATE].ctx.service.get(request.match_info["id"])
    await allow(request, action, row.factory, row.id)
    return row.id


async def same_request(ctx: DaemonContext, incident_id: str, report: IncidentReport) -> None:
    """An Idempotency-Key used again must come with the same report: the stored incident
    and its opening audit entry are compared with this one (422 when they differ)."""
    row = await ctx.service.get(incident_id)
    sent = ctx.service.check_report(report)  # cleaned as the first one was
    opened = next(
        (e for e in await ctx.store.audit_of(row.id) if e.action == "incident.opened"), None
    )
    first = opened.detail if opened and opened.detail else {}
    theirs = (
        row.factory,
        row.incident_type,
        row.severity,
        row.reporter,
        row.drill,
        first.get("details"),
        first.get("location"),
        first.get("casualties"),
        first.get("casualties_count"),
    )
    ours = (
        sent.factory,
        sent.incident_type,
        sent.severity,
        sent.reporter,
        sent.drill,
        sent.details,
        sent.location,
        sent.casualties.value,
        sent.casualties_count,
    )
    if theirs != ours:
        raise Reject(
            422,
            "idempotency_key_reused",
            f"this Idempotency-Key already opened {row.id} with a different report; "
            "send a new key for a new incident, or the same body to repeat the request",
        )
