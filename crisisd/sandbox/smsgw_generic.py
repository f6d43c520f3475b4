"""Fake generic HTTP gateway: what ``generic_http`` in config.yaml is pointed at in the sandbox.

::

    GET|POST /generic/send   JSON, form or query with receptor/message/localid/sender;
                             auth ``X-Api-Key`` or ``Authorization: Bearer``;
                             answers {"status": "ok", "id": "g-…"}
"""

from __future__ import annotations

from aiohttp import web

from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.smsgw_state import (
    SMSGW_STATE,
    Headers,
    faulted,
    iran_mobile,
    json_object,
    json_response,
)

FAULTS = {"error": (500, "internal error"), "rate_limit": (429, "rate limited")}
FAULTS |= {"permanent": (401, "unauthorized"), "no_credit": (402, "insufficient credit")}


def refused(http: int, error: str, headers: Headers = None) -> web.Response:
    return json_response({"status": "error", "error": error}, http, headers)


def _fault(_: web.Request, mode: FaultMode, faults: Faults) -> web.Response:
    headers = {"Retry-After": str(faults.retry_after)} if mode == "rate_limit" else None
    return refused(*FAULTS[mode], headers)


def _forced(_: web.Request, code: int) -> web.Response:
    return refused(code if 400 <= code <= 599 else 500, f"forced status {code}")


async def _fields(request: web.Request) -> dict[str, str]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        body, _ = await json_object(request)
        return {k: str(v) for k, v in (body or {}).items() if v is not None}
    return {k: str(v) for k, v in (await request.post()).items()}


@faulted("generic", _fault, _forced)
async def send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    auth = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not state.key_ok("generic", request.headers.get("X-Api-Key") or auth or None):
        return refused(401, "unauthorized")
    fields = await _fields(request)
    phone, message = iran_mobile(fields.get("receptor", "")), fields.get("message", "")
    if phone is None:
        return refused(400, "invalid receptor")
    if not message:
        return refused(400, "empty message")
    sender, localid = fields.get("sender", ""), fields.get("localid", "")
    item = state.accept("generic", phone, message, sender, localid)
    return json_response({"status": "ok", "id": f"g-{item.id}"})


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/generic/send", send)
