"""The fake gateways' receive APIs: SMS that "phones" send to the factory's line.

A test, the demo or the training page puts a reply in with the control API::

    POST /_control/inbound/{provider}   {"from": "0912 111 4455", "text": "۱"}
    GET  /_control/inbound              what is queued, per provider, and what was read

and crisisd's poller reads it back through the provider's documented receive API, as it
would from the real one (see crisisd/channels/sms/inbound.py for the sources):

- Kavenegar ``/v1/{API-KEY}/sms/receive.json?linenumber=&isread=0``: unread entries, at most
  100 a call, marked read as they are returned;
- SMS.ir ``/v1/receive/live?pageNumber=&pageSize=`` with ``X-API-KEY``: every message of the
  day (it has no "unread"), ``mobile`` as ``912…``;
- Ghasedak ``/rest/api/v1/WebService/GetReceivedSmses?LineNumber=&IsRead=false`` with
  ``ApiKey``: unread items, marked read.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from aiohttp import web

from crisisd.formats.timefmt import ascii_digits
from crisisd.sandbox.smsgw_state import SMSGW_STATE, iran_mobile, json_response

PAGE = 100


@dataclass(slots=True)
class Incoming:
    id: int
    provider: str
    sender: str  # E.164
    text: str
    at: int  # Unix seconds
    read: bool = False


@dataclass(slots=True)
class InboundState:
    items: list[Incoming] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(77_000_001))

    def unread(self, provider: str, limit: int) -> list[Incoming]:
        found = [i for i in self.items if i.provider == provider and not i.read][:limit]
        for i in found:
            i.read = True
        return found


INBOUND = web.AppKey("inbound", InboundState)


def _national(e164: str) -> str:
    return "0" + e164.removeprefix("+98")


async def put(request: web.Request) -> web.StreamResponse:
    provider = request.match_info["provider"]
    if provider not in ("kavenegar", "smsir", "ghasedak"):
        return json_response({"error": f"no receive API for {provider!r}"}, 404)
    body = await request.json()
    sender = iran_mobile(ascii_digits(str(body.get("from", ""))).replace(" ", ""))
    if sender is None or not isinstance(body.get("text"), str):
        return json_response({"error": "give 'from' (an Iranian mobile) and 'text'"}, 400)
    state = request.app[INBOUND]
    item = Incoming(next(state.ids), provider, sender, body["text"], int(time.time()))
    state.items.append(item)
    return json_response({"id": item.id, "from": sender}, 201)


async def listing(request: web.Request) -> web.StreamResponse:
    items = request.app[INBOUND].items
    return json_response(
        [{"id": i.id, "provider": i.provider, "from": i.sender, "read": i.read} for i in items]
    )


async def kavenegar(request: web.Request) -> web.StreamResponse:
    if not request.app[SMSGW_STATE].key_ok("kavenegar", request.match_info["apikey"]):
        return json_response({"return": {"status": 403, "message": "API-Key invalid"}}, 403)
    if "linenumber" not in request.query or "isread" not in request.query:
        return json_response({"return": {"status": 400, "message": "parameters"}}, 400)
    found = request.app[INBOUND].unread("kavenegar", PAGE)
    entries = [
        {
            "messageid": i.id,
            "message": i.text,
            "sender": _national(i.sender),
            "receptor": request.query["linenumber"],
            "date": i.at,
        }
        for i in found
    ]
    return json_response({"return": {"status": 200, "message": "تایید شد"}, "entries": entries})


async def smsir(request: web.Request) -> web.StreamResponse:
    if not request.app[SMSGW_STATE].key_ok("smsir", request.headers.get("X-API-KEY")):
        return json_response({"status": 10, "message": "کلید API نامعتبر", "data": None}, 401)
    size = min(int(request.query.get("pageSize", PAGE)), PAGE)
    today = [i for i in request.app[INBOUND].items if i.provider == "smsir"][-size:]
    data = [
        {
            "messageText": i.text,
            "number": 30004505000017,
            "mobile": int(i.sender.removeprefix("+98")),
            "receivedDateTime": i.at,
        }
        for i in today
    ]
    return json_response({"status": 1, "message": "موفق", "data": data})


async def ghasedak(request: web.Request) -> web.StreamResponse:
    if not request.app[SMSGW_STATE].key_ok("ghasedak", request.headers.get("ApiKey")):
        return json_response({"IsSuccess": False, "StatusCode": 401, "Message": "ApiKey"}, 401)
    found = request.app[INBOUND].unread("ghasedak", PAGE)
    items = [
        {
            "Id": i.id,
            "Message": i.text,
            "Sender": _national(i.sender),
            "LineNumber": request.query.get("LineNumber", ""),
            "ReceiveDate": None,
        }
        for i in found
    ]
    return json_response(
        {"IsSuccess": True, "StatusCode": 200, "Message": "success", "Data": {"Items": items}}
    )


def add_routes(app: web.Application) -> None:
    app[INBOUND] = InboundState()
    app.router.add_post("/_control/inbound/{provider}", put)
    app.router.add_get("/_control/inbound", listing)
    app.router.add_route("*", "/v1/{apikey}/sms/receive.json", kavenegar)
    app.router.add_get("/v1/receive/live", smsir)
    app.router.add_get("/rest/api/v1/WebService/GetReceivedSmses", ghasedak)
