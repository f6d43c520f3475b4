"""Routes about people rather than incidents: invite staff to the bot, read who is reachable
where, close a follow-up task. Each goes through the same functions as the CLI and the bot."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import Field

from crisisd.api.requests import authenticate, body
from crisisd.api.schema import Reject, _Request
from crisisd.api.scopes import allow, factories_of
from crisisd.api.state import JSON, STATE
from crisisd.enrolment.invites import send_invites, who_to_invite
from crisisd.enrolment.reach import people, reach_report
from crisisd.errors import InvalidReportError


class InviteRequest(_Request):
    """Whom to invite: one contact, an audience (of a factory), or a whole factory."""

    contact: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    audience: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    factory: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    via: Literal["sms", "email"] | None = None
    days: Annotated[int, Field(ge=1, le=365)] = 14


def _json(data: Any, status: int = 200) -> web.Response:
    text = json.dumps(data, ensure_ascii=False, default=str)
    return web.Response(text=text, status=status, content_type=JSON, charset="utf-8")


async def post_invites(request: web.Request) -> web.Response:
    caller = authenticate(request)
    got = await body(request, InviteRequest)
    if not (got.contact or got.audience or got.factory):
        raise InvalidReportError("name a contact, an audience or a factory to invite")
    ctx = request.app[STATE].ctx
    lib = ctx.library()  # bound: people already connected are not invited again
    scope = factories_of(request)
    if scope is not None and got.factory is None:
        raise Reject(403, "forbidden", f"this token covers {', '.join(scope)}: name the factory")
    await allow(request, "invite", got.factory or "*")
    who = who_to_invite(lib, got.contact, got.audience, got.factory)
    batch = await send_invites(
        ctx.store,
        lib,
        who,
        now=ctx.service.clock(),
        actor=f"api:{caller}",
        via=got.via,
        days=got.days,
        factory=got.factory,
    )
    ctx.kick()
    return _json(batch.as_dict(), 201)


async def get_contacts(request: web.Request) -> web.Response:
    authenticate(request)
    ctx = request.app[STATE].ctx
    lib = ctx.library()
    factory = request.query.get("factory") or None
    audience = request.query.get("audience") or None
    if factory is not None:
        lib.playbook(factory)  # an unknown factory is a clear 404, not an empty list
        await allow(request, "read", factory)
    scope = factories_of(request)
    if factory is None and scope is not None:
        whom = list(
            dict.fromkeys(p for f in scope if f in lib.playbooks for p in people(lib, f, audience))
        )
    else:
        whom = people(lib, factory, audience)
    rows = await reach_report(ctx.store, lib, whom, ctx.service.clock())
    return _json([r.as_dict() for r in rows])


async def post_task_done(request: web.Request) -> web.Response:
    caller = authenticate(request)
    try:
        task_id = int(request.match_info["id"])
    except ValueError:
        raise InvalidReportError("a task id is a number, as /tasks and the report show") from None
    ctx = request.app[STATE].ctx
    task = await ctx.store.task(task_id)
    if task is not None:
        row = await ctx.service.get(task.incident_id)
        await allow(request, "task", row.factory, row.id)
    done = await ctx.service.complete_task(task_id, f"api:{caller}")
    t = done.task
    return _json(
        {
            "id": t.id,
            "incident_id": t.incident_id,
            "title": {"fa": t.title_fa, "en": t.title_en},
            "due_at": t.due_at.isoformat(),
            "done_at": t.done_at.isoformat() if t.done_at else None,
            "already_done": not done.new,
        }
    )


def with_people_routes(doc: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with this module's routes added."""
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    obj = {"type": "object"}

    def answer(what: str) -> dict[str, Any]:
        return {"description": what, "content": {JSON: {"schema": obj}}}

    ref = {"$ref": "#/components/schemas/InviteRequest"}
    doc["components"]["schemas"]["InviteRequest"] = InviteRequest.model_json_schema()
    task_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    doc["paths"].update(
        {
            "/v1/invites": {
                "post": {
                    "summary": "Send signed invite links to people not yet on the bot",
                    "security": bearer,
                    "requestBody": {"required": True, "content": {JSON: {"schema": ref}}},
                    "responses": {"201": answer("Invites queued"), "422": answer("Refused")},
                }
            },
            "/v1/contacts": {
                "get": {
                    "summary": "Who is reachable where (phones masked)",
                    "security": bearer,
                    "parameters": [
                        {"name": n, "in": "query", "schema": {"type": "string"}}
                        for n in ("factory", "audience")
                    ],
                    "responses": {"200": answer("One row per person"), "404": answer("Unknown")},
                }
            },
            "/v1/tasks/{id}/done": {
                "post": {
                    "summary": "Mark a follow-up task done (its reminders stop)",
                    "security": bearer,
                    "parameters": [task_id],
                    "responses": {"200": answer("Done"), "404": answer("No such task")},
                }
            },
        }
    )
    return doc
