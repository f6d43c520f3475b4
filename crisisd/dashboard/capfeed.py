"""The CAP routes: ``/cap/index.atom`` (newest first, 100 a page) and ``/cap/<id>.xml``.

Readable with an API token (a scoped token sees its factories only) or a dashboard
session. A drill answers 404 like an unknown id: drills never appear in the feed.
"""

from __future__ import annotations

from aiohttp import web

from crisisd.dashboard.auth import who_is
from crisisd.dashboard.cap import CAP_TYPE, atom_index, cap_alert
from crisisd.dashboard.state import STATE, Who
from crisisd.store.board import RECORD_TYPE

PER_PAGE = 100
ATOM_TYPE = "application/atom+xml"


def sender(public_url: str, configured: str | None) -> str:
    if configured:
        return configured
    host = public_url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return f"crisisd@{host or 'localhost'}"


async def _reader(request: web.Request) -> Who:
    who = await who_is(request)
    if who is None:
        raise web.HTTPUnauthorized(
            text="the CAP feed needs 'Authorization: Bearer <API token>' or a dashboard session",
            headers={"WWW-Authenticate": 'Bearer realm="crisisd"'},
        )
    return who


async def cap_index(request: web.Request) -> web.Response:
    who = await _reader(request)
    state = request.app[STATE]
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        raise web.HTTPBadRequest(text="page is a number from 1") from None
    got = await state.reads.page(
        factories=who.factories,
        drill=False,
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
        order="updated",
    )
    base = state.public_url
    feed = f"{base}/cap/index.atom" + (f"?page={page}" if page > 1 else "")
    more = page * PER_PAGE < got.total
    body = atom_index(
        got.rows,
        state.lib,
        base=base,
        feed_url=feed,
        updated=got.rows[0].updated_at if got.rows else state.now(),
        zone=state.lib.config.zone,
        next_url=f"{base}/cap/index.atom?page={page + 1}" if more else None,
    )
    return web.Response(body=body, content_type=ATOM_TYPE, charset="utf-8")


async def cap_one(request: web.Request) -> web.Response:
    who = await _reader(request)
    state = request.app[STATE]
    incident_id = request.match_info["id"].strip().upper()
    row = await state.ctx.store.get_incident(incident_id)
    if row is None or row.drill or row.incident_type == RECORD_TYPE:
        raise web.HTTPNotFound(text=f"no CAP alert for '{incident_id}'")
    if not who.sees(row.factory):
        await state.refuse(who, "cap.read", row.id, factory=row.factory)
        raise web.HTTPForbidden(text=f"this token or account does not cover {row.factory}")
    lib = state.lib
    body = cap_alert(
        row,
        lib,
        sender=sender(state.public_url, state.settings.cap_sender),
        web=f"{state.public_url}/dashboard/incidents/{row.id}",
        zone=lib.config.zone,
    )
    return web.Response(body=body, content_type=CAP_TYPE, charset="utf-8")


def cap_app(state_app: web.Application) -> web.Application:
    """The ``/cap`` sub-application, sharing the dashboard's state."""
    app = web.Application()
    app[STATE] = state_app[STATE]
    app.router.add_get("/index.atom", cap_index)
    app.router.add_get(r"/{id:[A-Za-z0-9-]{1,16}}.xml", cap_one)
    return app
