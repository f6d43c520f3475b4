"""The dashboard as aiohttp sub-applications, mounted on the API's application by the
daemon shell (service.py): ``/dashboard/`` (pages, sign-in, actions, live updates) and
``/cap/`` (the CAP 1.2 feed)."""

from __future__ import annotations

from aiohttp import web

from crisisd.context import DaemonContext
from crisisd.dashboard.capfeed import cap_app
from crisisd.dashboard.state import STATE, BoardState, make_env
from crisisd.store.board import BoardReads
from crisisd.store.signin import SignInBook

__all__ = ["create_dashboard", "mount_dashboard"]


def create_dashboard(ctx: DaemonContext, *, secret: bytes, public_url: str) -> web.Application:
    """The ``/dashboard`` application (its routes are added by :mod:`.routes`)."""
    from crisisd.dashboard.routes import add_routes

    app = web.Application()
    app[STATE] = BoardState(
        ctx,
        secret,
        public_url.rstrip("/"),
        BoardReads(ctx.store),
        SignInBook(ctx.store),
        make_env(),
    )
    add_routes(app)
    return app


def mount_dashboard(
    api: web.Application, ctx: DaemonContext, *, secret: bytes, public_url: str
) -> BoardState:
    """Serve the dashboard at /dashboard/ and the CAP feed at /cap/ on the API's port."""
    board = create_dashboard(ctx, secret=secret, public_url=public_url)
    api.add_subapp("/cap", cap_app(board))
    api.add_subapp("/dashboard", board)
    return board[STATE]
