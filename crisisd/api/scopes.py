"""A token's scope: the factories it sees and what its role may do there. A request
outside it answers 403 ``forbidden`` and leaves an ``access.refused`` entry in the audit
trail (actor ``api:<name>``), so a token probing other factories is seen."""

from __future__ import annotations

from aiohttp import web

from crisisd.api.schema import Reject
from crisisd.api.state import STATE, TOKEN
from crisisd.store import AuditEntry


async def allow(
    request: web.Request, action: str, factory: str, incident_id: str | None = None
) -> None:
    """Go on when the caller's token may do ``action`` at ``factory``; 403 (audited) if not."""
    token = request[TOKEN]
    if token.may(action) and token.sees(factory):
        return
    ctx = request.app[STATE].ctx
    reason = (
        f"the token '{token.name}' does not cover factory '{factory}'"
        if not token.sees(factory)
        else f"the token '{token.name}' (role {token.role}) may not {action}"
    )
    detail = {"what": action, "factory": factory, "path": request.path}
    entry = AuditEntry(
        incident_id, ctx.service.clock(), f"api:{token.name}", "access.refused", None, detail
    )
    await ctx.store.add_audit(entry)
    raise Reject(403, "forbidden", reason)


def factories_of(request: web.Request) -> list[str] | None:
    """The factories the caller's token is limited to; None: every factory."""
    return request[TOKEN].factories
