"""Fake Ghasedak v1 web service, written from https://ghasedak.me/docs and its official SDKs.

::

    POST /rest/api/v1/WebService/SendSingleSMS   JSON, header ApiKey
    POST /rest/api/v1/WebService/SendBulkSMS     JSON with ``receptors`` (a list), as the
                                                 official SDKs send it; answers ``Data``
                                                 with ``Receptors: [{Receptor, MessageId}]``
    GET  /rest/api/v1/WebService/CheckSmsStatus  ?Ids=1,2&Type=1 (1 message ids,
                                                 2 client reference ids), at most 100 ids

Paths, JSON property names and query names are matched case-insensitively, as the ASP.NET
server behind it does; a body that does not bind (another media type, not JSON, a number
where a string belongs) gets ASP.NET's RFC 7807 problem answer, not Ghasedak's envelope.
Answers use the documented envelope ``IsSuccess``/``StatusCode``/``Message``/``Data``
(PascalCase as the documentation shows it; ``key_case: camel`` answers as the SDKs read).
"""

from __future__ import annotations

from aiohttp import web

from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.smsgw_state import (
    SMSGW_STATE,
    SentSms,
    bad_field,
    faulted,
    iran_mobile,
    json_object,
    json_response,
)

SEND = "rest/api/v1/webservice/sendsinglesms"
BULK = "rest/api/v1/webservice/sendbulksms"
STATUS = "rest/api/v1/webservice/checksmsstatus"
MAX_STATUS_IDS = 100

MESSAGES: dict[int, str] = {
    200: "با موفقیت انجام شد",
    400: "ورودی نامعتبر است",
    401: "کلید وب سرویس نامعتبر است یا حساب غیرفعال است",
    402: "عملیات ناموفق بود",
    404: "متد یافت نشد",
    406: "خط متعلق به شما نیست",
    412: "امکان استفاده از خط وجود ندارد",
    413: "طول پیام بیش از حد مجاز است",
    416: "IP شما مجاز نیست",
    418: "اعتبار کافی نیست",
    419: "تعرفه برای این خط تعریف نشده است",
    422: "کاراکتر نامعتبر در متن پیام",
    426: "نیاز به ارتقای پلن",
    429: "تعداد درخواست بیش از حد مجاز",
    500: "خطای نامشخص",
}
# CheckSmsStatus Status as documented: 3 handed to the operator, 4 did not reach the
# phone, 5 reached the phone (the rest: 0 none, 1 cancelled, 2 blacklist, 6 failed, …).
OUTCOME_CODES = {"delivered": 5, "undelivered": 4, "expired": 4, "pending": 3}
FAULT_CODES = {"error": 500, "permanent": 401, "no_credit": 418}


def _key(request: web.Request, name: str) -> str:
    if request.app[SMSGW_STATE].key_case == "camel":
        return name[0].lower() + name[1:]
    return name


def envelope(request: web.Request, status: int, data: object = None) -> web.Response:
    def keyed(value: object) -> object:
        if isinstance(value, dict):
            return {_key(request, k): keyed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [keyed(v) for v in value]
        return value

    text = MESSAGES.get(status, "خطای نامشخص")
    body = {"IsSuccess": status == 200, "StatusCode": status, "Message": text, "Data": data}
    http = status if 400 <= status <= 599 else 200
    return json_response(keyed(body), http)


def _fault(request: web.Request, mode: FaultMode, faults: Faults) -> web.Response:
    if mode == "rate_limit":  # the front proxy's 429, without the API's envelope
        retry = {"Retry-After": str(faults.retry_after)}
        return web.Response(status=429, text="Too Many Requests", headers=retry)
    return envelope(request, FAULT_CODES[mode])


def _national(item: SentSms) -> str:
    return "0" + item.to.removeprefix("+98")


def _send_data(item: SentSms) -> dict[str, object]:
    data: dict[str, object] = {"Receptor": _national(item), "LineNumber": item.sender}
    data |= {"Cost": item.cost, "MessageId": str(item.id), "ClientReferenceId": item.localid}
    return data | {"Message": item.text, "SendDate": item.at.isoformat()}


@faulted("ghasedak", _fault, envelope)
async def send(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    if not state.key_ok("ghasedak", request.headers.get("ApiKey")):
        return envelope(request, 401)
    body, problem = await json_object(request)
    if body is None:
        assert problem is not None
        return problem
    for name in ("linenumber", "receptor", "message", "clientreferenceid", "senddate"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return bad_field(name, "The JSON value could not be converted to System.String.")
    if body.get("udh") is not None and not isinstance(body["udh"], bool):
        return bad_field("udh", "The JSON value could not be converted to System.Boolean.")
    line, message = str(body.get("linenumber") or ""), str(body.get("message") or "")
    phone, ref = iran_mobile(body.get("receptor") or ""), str(body.get("clientreferenceid") or "")
    if not line.isdigit():
        return envelope(request, 412)
    if phone is None or not message.strip():
        return envelope(request, 400)
    item = state.accept("ghasedak", phone, message, line, ref)
    return envelope(request, 200, _send_data(item))


_STRING = "The JSON value could not be converted to System.String."


def _bulk_refused(body: dict[str, object]) -> web.Response | None:
    """ASP.NET's problem answer for a field of the wrong JSON type, else None."""
    for name in ("linenumber", "message", "clientreferenceid", "senddate"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return bad_field(name, _STRING)
    receptors = body.get("receptors")
    if receptors is not None and not (
        isinstance(receptors, list) and all(isinstance(r, str) for r in receptors)
    ):
        return bad_field("receptors", "The JSON value could not be converted to List<String>.")
    for name in ("isvoice", "udh"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            return bad_field(name, "The JSON value could not be converted to System.Boolean.")
    return None


@faulted("ghasedak", _fault, envelope)
async def send_bulk(request: web.Request) -> web.StreamResponse:
    """Invalid input (an invalid number among them, an empty text) refuses the request: 400."""
    state = request.app[SMSGW_STATE]
    if not state.key_ok("ghasedak", request.headers.get("ApiKey")):
        return envelope(request, 401)
    body, problem = await json_object(request)
    if body is None:
        assert problem is not None
        return problem
    refused = _bulk_refused(body)
    if refused is not None:
        return refused
    line, message = str(body.get("linenumber") or ""), str(body.get("message") or "")
    raw = body.get("receptors")
    receptors = [str(r) for r in raw] if isinstance(raw, list) else []
    state.batches.append(("ghasedak", len(receptors)))
    if not line.isdigit():
        return envelope(request, 412)
    phones = [iran_mobile(r) for r in receptors]
    if not phones or None in phones or not message.strip():
        return envelope(request, 400)
    ref = str(body.get("clientreferenceid") or "")
    items = [state.accept("ghasedak", p, message, line, ref) for p in phones if p is not None]
    listed = [{"Receptor": _national(i), "MessageId": str(i.id)} for i in items]
    data = {"LineNumber": line, "Receptors": listed, "Cost": sum(i.cost for i in items)}
    return envelope(request, 200, data | {"Message": message, "SendDate": items[0].at.isoformat()})


def _query(request: web.Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query.items():
        out.setdefault(key.lower(), []).append(value)
    return out


def _status_item(item: SentSms) -> dict[str, object]:
    code = item.code if item.code is not None else OUTCOME_CODES[item.outcome]
    data: dict[str, object] = {"MessageId": str(item.id), "ClientReferenceId": item.localid}
    data |= {"Message": item.text, "LineNumber": item.sender, "Receptor": _national(item)}
    return data | {"Status": code, "Price": item.cost, "SendDate": item.at.isoformat()}


async def status(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    state.requests["ghasedak.status"] += 1
    if not state.key_ok("ghasedak", request.headers.get("ApiKey")):
        return envelope(request, 401)
    query = _query(request)
    ids = [i.strip() for v in query.get("ids", []) for i in v.split(",") if i.strip()]
    kind = (query.get("type") or [""])[0]
    if kind not in ("1", "2") or not ids or len(ids) > MAX_STATUS_IDS:
        return envelope(request, 400)
    found = []
    for wanted in ids:
        for item in state.sent:
            key = str(item.id) if kind == "1" else item.localid
            if item.provider == "ghasedak" and key == wanted:
                found.append(_status_item(item))
    return envelope(request, 200, found)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/{path:(?i:" + SEND + ")}", send)
    app.router.add_post("/{path:(?i:" + BULK + ")}", send_bulk)
    app.router.add_get("/{path:(?i:" + STATUS + ")}", status)
