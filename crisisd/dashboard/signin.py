"""Sign-in pages: ask for a code, enter it, sign out. See :mod:`.auth` for the rules."""

from __future__ import annotations

import hmac

from aiohttp import web

from crisisd.dashboard.auth import (
    PENDING_COOKIE,
    SESSION_COOKIE,
    check_code,
    csrf_ok,
    send_code,
    set_cookie,
    sign,
    unsign,
)
from crisisd.dashboard.frame import BASE, CSRF_COOKIE, csrf_cookie, need, render, see_other
from crisisd.dashboard.state import STATE


def _form_csrf_ok(request: web.Request, sent: object) -> bool:
    """Before sign-in: the form's token must equal the cookie's (double submit)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return isinstance(sent, str) and bool(cookie) and hmac.compare_digest(sent, cookie)


def _page(request: web.Request, step: str, status: int = 200, bad: bool = False) -> web.Response:
    token = csrf_cookie(request)
    response = render(request, "signin.html", status, step=step, csrf=token, bad=bad)
    set_cookie(request, response, CSRF_COOKIE, token, 3600)
    return response


async def signin_form(request: web.Request) -> web.Response:
    return _page(request, "who")


async def signin_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not _form_csrf_ok(request, form.get("csrf")):
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong; reload the page")
    state = request.app[STATE]
    given = str(form.get("who", ""))[:128]
    code_id = await send_code(state, given)
    # The same answer whether or not a code went out: the form does not tell who exists.
    response = see_other(f"{BASE}/signin/code")
    pending = sign(state.secret, "pending", str(code_id if code_id is not None else 0))
    set_cookie(request, response, PENDING_COOKIE, pending, state.settings.code_minutes * 60)
    return response


async def code_form(request: web.Request) -> web.Response:
    return _page(request, "code")


async def code_post(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if not _form_csrf_ok(request, form.get("csrf")):
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong; reload the page")
    state = request.app[STATE]
    pending = unsign(state.secret, "pending", request.cookies.get(PENDING_COOKIE))
    code_id = int(pending) if pending and pending.isdigit() else 0
    _, session = await check_code(state, code_id, str(form.get("code", ""))[:12])
    if session is None:
        return _page(request, "code", 401, bad=True)
    response = see_other(f"{BASE}/")
    lasts = state.settings.session_hours * 3600
    set_cookie(request, response, SESSION_COOKIE, sign(state.secret, "session", session.id), lasts)
    response.del_cookie(PENDING_COOKIE, path="/")
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    who = need(request)
    form = await request.post()
    if not csrf_ok(who, form.get("csrf")):
        raise web.HTTPForbidden(text="the form's CSRF token is missing or wrong; reload the page")
    state = request.app[STATE]
    if who.session_id:
        await state.book.revoke(who.session_id, state.now())
    response = see_other(f"{BASE}/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/signin", signin_form)
    r.add_post("/signin", signin_post)
    r.add_get("/signin/code", code_form)
    r.add_post("/signin/code", code_post)
    r.add_post("/signout", signout)
