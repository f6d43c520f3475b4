"""The dashboard as aiohttp sub-applications, mounted on the API's application by the
daemon shell (service.py): ``/dashboard/`` (pages, sign-in, actions, live updates) and
``/cap/`` (the CAP 1.2 feed)."""

from __future__ import annotations

import structlog
from aiohttp import web

from crisisd import redaction
from crisisd.context import DaemonContext
from crisisd.dashboard import actions, pages, signin
from crisisd.dashboard.capfeed import cap_app
from crisisd.dashboard.frame import board_middleware, set_lang, static
from crisisd.dashboard.state import STATE, BoardState, make_env
from crisisd.store.board import BoardReads
from crisisd.store.signin import SignInBook

__all__ = ["create_dashboard", "mount_dashboard"]

log = structlog.get_logger("crisisd.dashboard")


def create_dashboard(ctx: DaemonContext, *, secret: bytes, public_url: str) -> web.Application:
    """The ``/dashboard`` application."""
    app = web.Application(middlewares=[board_middleware])
    app[STATE] = BoardState(
        ctx,
        secret,
        public_url.rstrip("/"),
        BoardReads(ctx.store),
        SignInBook(ctx.store),
        make_env(),
    )
    r = app.router
    r.add_get("/static/{name}", static)
    r.add_get("/lang/{lang}", set_lang)
    signin.add_routes(r)
    pages.add_routes(r)
    actions.add_routes(r)
    return app


async def mount_dashboard(
    api: web.Application, ctx: DaemonContext, *, secret: bytes | None = None, public_url: str = ""
) -> BoardState | None:
    """Serve the dashboard at /dashboard/ and the CAP feed at /cap/ on the API's port;
    None when ``dashboard.enabled`` is false. The signing key: ``secret``, else
    ``dashboard.secret``, else one generated once and kept in the store."""
    lib = ctx.library()
    board = lib.config.dashboard
    if not board.enabled:
        return None
    for where, ids in (("province", board.province), ("viewers", board.viewers)):
        for cid in ids:
            if cid not in lib.directory.contacts:
                log.warning(
                    "dashboard.unknown_contact",
                    where=f"dashboard.{where}",
                    contact=cid,
                    hint="not in playbooks/directory.yaml: they cannot sign in",
                )
    if secret is None:
        key = board.secret.get_secret_value() if board.secret else None
        key = key or await ctx.store.setting("dashboard_secret")
        redaction.register(key)
        secret = key.encode()
    app = create_dashboard(ctx, secret=secret, public_url=public_url)
    api.add_subapp("/cap", cap_app(app))
    api.add_subapp("/dashboard", app)
    return app[STATE]
