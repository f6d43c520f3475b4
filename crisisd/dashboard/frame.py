"""What every dashboard page passes through: the middleware (who is asking, errors as
pages, security headers), rendering, the static files and the language switch. Pages are
in :mod:`.pages`, actions in :mod:`.actions`, sign-in in :mod:`.signin`."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from crisisd import errors
from crisisd.dashboard.auth import who_is
from crisisd.dashboard.state import HERE, STATE, WHO, Who
from crisisd.dashboard.words import LANGS, filters, say
from crisisd.redaction import redact

log = structlog.get_logger("crisisd.dashboard")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BASE = "/dashboard"
LANG_COOKIE = "crisisd_lang"
CSRF_COOKIE = "crisisd_csrf"  # before sign-in: double-submit token of the sign-in forms
OPEN_PATHS = ("/signin", "/signin/code", "/static/", "/lang/")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STATUS = (
    (errors.UnknownFactoryError, 404),
    (errors.UnknownIncidentError, 404),
    (errors.NotFoundError, 404),
    (errors.PermissionDeniedError, 403),
    (errors.InvalidReportError, 422),
    (errors.StoreError, 503),
)


def lang_of(request: web.Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "fa")
    return lang if lang in LANGS else "fa"


def render(
    request: web.Request, template: str, http_status: int = 200, **context: Any
) -> web.Response:
    state = request.app[STATE]
    lang = lang_of(request)
    page = state.env.get_template(template).render(
        **filters(lang, state.lib.config.zone),
        base=BASE,
        who=request.get(WHO),
        here=quote(request.path_qs, safe=""),
        **context,
    )
    return web.Response(text=page, status=http_status, content_type="text/html", charset="utf-8")


def see_other(location: str) -> web.Response:
    """303 to ``location`` (after a form), returned rather than raised."""
    return web.Response(status=303, headers={"Location": location})


def need(request: web.Request) -> Who:
    """The signed-in caller (the middleware has made sure there is one)."""
    return request[WHO]


@web.middleware
async def board_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rel = request.path[len(BASE) :] or "/"
    try:
        who = await who_is(request)
        if who is not None:
            request[WHO] = who
        elif not rel.startswith(OPEN_PATHS):
            if request.method == "GET" and not request.headers.get("X-Live"):
                raise web.HTTPFound(f"{BASE}/signin")
            raise web.HTTPUnauthorized(text=say("signin", lang_of(request)))
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(request, exc.status, exc.text or exc.reason)
    except errors.CrisisError as exc:
        status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 500)
        if status >= 500:
            log.error("dashboard.failed", error=redact(repr(exc)), path=request.path)
        response = _error(request, status, redact(str(exc)))
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _error(request: web.Request, status: int, message: str) -> web.Response:
    if request.headers.get("X-Live"):
        return web.Response(text=message, status=status)
    return render(request, "error.html", status, status=status, message=message)


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("board.css", "live.js"):
        raise web.HTTPNotFound(text="no such file")
    kind = "text/css" if name.endswith(".css") else "text/javascript"
    body = (HERE / "static" / name).read_bytes()
    return web.Response(body=body, content_type=kind, charset="utf-8")


async def set_lang(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGS:
        raise web.HTTPNotFound(text="fa or en")
    target = request.query.get("next", f"{BASE}/")
    if not target.startswith(f"{BASE}/") or target.startswith("//"):
        target = f"{BASE}/"
    response = web.Response(status=302, headers={"Location": target})
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="Lax")
    return response


def csrf_cookie(request: web.Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
