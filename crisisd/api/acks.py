"""Routes for people: the page an email or SMS ack link opens, and its button."""

from __future__ import annotations

import structlog
from aiohttp import web

from crisisd.api.acklinks import AckLinkError, AckPage, ExpiredAckLinkError, ack_page
from crisisd.api.state import STATE
from crisisd.errors import UnknownIncidentError

log = structlog.get_logger("crisisd.api.acks")


async def ack_confirm(request: web.Request) -> web.Response:
    """Opening the link checks it and asks for one press; it records nothing."""
    state = request.app[STATE]
    try:
        code = state.signer.verify(request.match_info["token"])
    except AckLinkError as exc:
        log.info("ack.link_refused", reason=type(exc).__name__)
        return _page(ack_page("expired" if isinstance(exc, ExpiredAckLinkError) else "invalid"))
    msg = await state.ctx.store.message_by_ack_code(code)
    if msg is None:
        return _page(ack_page("unknown"))
    if msg.acked_at is not None:
        return _page(ack_page("already", msg.incident_id, msg.acked_at))
    return _page(ack_page("confirm", msg.incident_id))


async def ack_link(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        code = state.signer.verify(request.match_info["token"])
    except AckLinkError as exc:
        log.info("ack.link_refused", reason=type(exc).__name__)
        return _page(ack_page("expired" if isinstance(exc, ExpiredAckLinkError) else "invalid"))
    try:
        result = await state.ctx.service.acknowledge_code(code, via="link")
    except UnknownIncidentError:
        return _page(ack_page("unknown"))
    return _page(ack_page("acked" if result.new else "already", result.incident_id, result.at))


def _page(page: AckPage) -> web.Response:
    return web.Response(
        text=page.html,
        status=page.status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )
