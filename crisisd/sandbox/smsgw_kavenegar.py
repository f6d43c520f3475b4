"""Fake Kavenegar, written from https://kavenegar.com/rest.html.

::

    GET|POST /v1/{API-KEY}/sms/send.json     form (or query) receptor, message, sender, localid
    GET|POST /v1/{API-KEY}/sms/sendarray.json  form (or query) receptor, sender, message and
                                             localmessageids (optional): JSON arrays of one
                                             length (419 otherwise), at most 200 (414)
    GET|POST /v1/{API-KEY}/sms/status.json   form (or query) messageid=1,2,… (at most 500)

Every answer is ``{"return": {"status", "message"}, "entries": …}`` with the HTTP status
equal to ``return.status``. Parameters are read from the query and a urlencoded (or
multipart) form, as UTF-8: bytes that are not UTF-8 are refused with 422, and a JSON body
carries no parameters at all (400). A Persian text longer than 268 characters (Latin: 612)
is refused with 413, as the error table says. A number that is not a mobile refuses the
whole call (411), in send and in sendarray alike; the documentation gives no per-number
error inside an answer.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from aiohttp import web

from crisisd.formats.textfit import sms_info
from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.smsgw_state import (
    SMSGW_STATE,
    Headers,
    SentSms,
    faulted,
    iran_mobile,
    json_response,
)

DEFAULT_LINE = "10004346"
MAX_RECEPTORS = 200
MAX_STATUS_IDS = 500
MAX_UCS2, MAX_GSM7 = 268, 612

# return.status -> message, as in the documentation's error table ("خطاها").
MESSAGES: dict[int, str] = {
    200: "تایید شد",
    400: "پارامترها ناقص هستند",
    401: "حساب کاربری غیرفعال شده است",
    402: "عملیات ناموفق بود",
    403: "کد شناسائی API-Key معتبر نمی‌باشد",
    404: "متدی با این نام پیدا نشده است",
    405: "متد فراخوانی Get یا Post اشتباه است",
    406: "پارامترهای اجباری خالی ارسال شده اند",
    407: "دسترسی به اطلاعات مورد نظر برای شما امکان پذیر نیست",
    409: "سرور قادر به پاسخگوئی نیست بعدا تلاش کنید",
    411: "دریافت کننده نامعتبر است",
    412: "ارسال کننده نامعتبر است",
    413: "پیام خالی است و یا طول پیام بیش از حد مجاز می‌باشد",
    414: "حجم درخواست بیشتر از حد مجاز است",
    415: "اندیس شروع بزرگ تر از کل تعداد شماره های مورد نظر است",
    416: "IP سرویس مبدا با تنظیمات مطابقت ندارد",
    417: "تاریخ ارسال اشتباه است",
    418: "اعتبار حساب شما کافی نیست",
    419: "طول آرایه متن و گیرنده و فرستنده هم اندازه نیست",
    420: "استفاده از لینک در متن پیام برای شما محدود شده است",
    422: "داده ها به دلیل وجود کاراکتر نامناسب قابل پردازش نیست",
    424: "الگوی مورد نظر پیدا نشد",
    426: "استفاده از این متد نیازمند سرویس پیشرفته می‌باشد",
    427: "استفاده از این خط نیازمند ایجاد سطح دسترسی می‌باشد",
    428: "ارسال کد از طریق تماس تلفنی امکان پذیر نیست",
    429: "دسترسی IP مورد نظر محدود شده است",
    431: "ساختار کد صحیح نمی‌باشد",
    432: "پارامتر کد در متن پیام پیدا نشد",
    451: "فراخوانی بیش از حد در بازه زمانی مشخص",
    501: "فقط امکان ارسال پیام تست به شماره صاحب حساب کاربری وجود دارد",
}
# Delivery states of sms/status.json ("وضعیت پیامک").
STATES = {1: "در صف ارسال", 4: "ارسال شده به مخابرات", 6: "خطا در ارسال پیام"}
STATES |= {10: "رسیده به گیرنده", 11: "نرسیده به گیرنده", 100: "شناسه پیامک نامعتبر است"}
OUTCOME_CODES = {"delivered": 10, "undelivered": 11, "expired": 11, "pending": 4}
_FORM = "application/x-www-form-urlencoded"
FAULT_CODES = {"error": 500, "rate_limit": 451, "permanent": 403, "no_credit": 418}


def envelope(status: int, entries: object = None, headers: Headers = None) -> web.Response:
    message = MESSAGES.get(status, "خطای داخلی سرور" if status >= 500 else "خطای نامشخص")
    body = {"return": {"status": status, "message": message}, "entries": entries}
    http = status if 200 <= status <= 599 else 400
    return json_response(body, http, headers)


def _fault(_: web.Request, mode: FaultMode, faults: Faults) -> web.Response:
    headers = {"Retry-After": str(faults.retry_after)} if mode == "rate_limit" else None
    return envelope(FAULT_CODES[mode], headers=headers)


def _forced(_: web.Request, code: int) -> web.Response:
    return envelope(code)


async def _params(request: web.Request) -> dict[str, str] | None:
    """Query and form parameters as Kavenegar reads them (None: bytes that are not UTF-8)."""
    try:
        params = dict(parse_qsl(request.query_string, True, encoding="utf-8", errors="strict"))
        if request.method == "POST" and request.content_type.startswith("multipart/"):
            params |= {k: str(v) for k, v in (await request.post()).items()}
        elif request.method == "POST" and request.content_type in ("", _FORM):
            body = (await request.read()).decode("utf-8")
            params |= dict(parse_qsl(body, True, encoding="utf-8", errors="strict"))
    except UnicodeDecodeError:
        return None
    return params


def _too_long(text: str) -> bool:
    info = sms_info(text)
    return info.units > (MAX_UCS2 if info.encoding == "ucs2" else MAX_GSM7)


def _entry(item: SentSms, receptor: str) -> dict[str, object]:
    entry: dict[str, object] = {"messageid": item.id, "message": item.text, "status": 1}
    entry |= {"statustext": STATES[1], "sender": item.sender, "receptor": receptor}
    return entry | {"date": int(item.at.timestamp()), "cost": item.cost}


async def _checked(request: web.Request) -> dict[str, str] | web.Response:
    """The parameters of a well-formed call, or the documented error answer."""
    if request.method not in ("GET", "POST"):
        return envelope(405)
    if not request.app[SMSGW_STATE].key_ok("kavenegar", request.match_info["apikey"]):
        return envelope(403)
    params = await _params(request)
    return envelope(422) if params is None else params


@faulted("kavenegar", _fault, _forced)
async def send(request: web.Request) -> web.StreamResponse:
    state, params = request.app[SMSGW_STATE], await _checked(request)
    if isinstance(params, web.Response):
        return params
    if "receptor" not in params or "message" not in params:
        return envelope(400)
    receptors = [r.strip() for r in params["receptor"].split(",") if r.strip()]
    message, localid = params["message"], params.get("localid", "")
    sender = params.get("sender") or DEFAULT_LINE
    if not receptors:
        return envelope(406)
    if len(receptors) > MAX_RECEPTORS:
        return envelope(414)
    phones = [iran_mobile(r) for r in receptors]
    if None in phones:
        return envelope(411)
    if not message.strip() or _too_long(message):
        return envelope(413)
    if not sender.isdigit():
        return envelope(412)
    if localid and not localid.isdigit():
        return envelope(400)
    entries = []
    for raw, phone in zip(receptors, phones, strict=True):
        assert phone is not None
        # Kavenegar sends nothing for a localid it has seen: it answers with the first send.
        item = state.seen("kavenegar", phone, localid) or state.accept(
            "kavenegar", phone, message, sender, localid
        )
        entries.append(_entry(item, raw))
    return envelope(200, entries)


def _json_array(params: dict[str, str], name: str) -> list[str] | None:
    """A sendarray parameter: a JSON array of strings (numbers read as text), else None."""
    try:
        value = json.loads(params[name])
    except (KeyError, ValueError):
        return None
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        return None
    return [str(v) for v in value]


def _arrays(params: dict[str, str]) -> tuple[list[list[str]], list[str]] | web.Response:
    """receptor, sender, message (and localmessageids) as documented, or the error answer."""
    arrays = [_json_array(params, n) for n in ("receptor", "sender", "message")]
    if any(a is None for a in arrays):
        return envelope(400)
    receptors, senders, messages = (a or [] for a in arrays)
    local = _json_array(params, "localmessageids") if "localmessageids" in params else []
    if not receptors:
        return envelope(406)
    if local is None or len({len(receptors), len(senders), len(messages)}) != 1:
        return envelope(419)
    if local and len(local) != len(receptors):
        return envelope(419)
    return [receptors, senders, messages], local


@faulted("kavenegar", _fault, _forced)
async def sendarray(request: web.Request) -> web.StreamResponse:
    state, params = request.app[SMSGW_STATE], await _checked(request)
    if isinstance(params, web.Response):
        return params
    parsed = _arrays(params)
    if isinstance(parsed, web.Response):
        return parsed
    (receptors, senders, messages), local = parsed
    state.batches.append(("kavenegar", len(receptors)))
    if len(receptors) > MAX_RECEPTORS:
        return envelope(414)
    phones = [iran_mobile(r) for r in receptors]
    if None in phones:
        return envelope(411)
    if any(not m.strip() or _too_long(m) for m in messages):
        return envelope(413)
    if any(not s.isdigit() for s in senders) or any(i and not i.isdigit() for i in local):
        return envelope(412 if any(not s.isdigit() for s in senders) else 400)
    entries = []
    for n, (raw, phone) in enumerate(zip(receptors, phones, strict=True)):
        assert phone is not None
        localid = local[n] if local else ""
        item = state.seen("kavenegar", phone, localid) or state.accept(
            "kavenegar", phone, messages[n], senders[n], localid
        )
        entries.append(_entry(item, raw))
    return envelope(200, entries)


async def status(request: web.Request) -> web.StreamResponse:
    state, params = request.app[SMSGW_STATE], await _checked(request)
    state.requests["kavenegar.status"] += 1
    if isinstance(params, web.Response):
        return params
    ids = [i.strip() for i in params.get("messageid", "").split(",") if i.strip()]
    if not ids:
        return envelope(400)
    if len(ids) > MAX_STATUS_IDS:
        return envelope(414)
    entries = []
    for message_id in ids:
        item = state.find("kavenegar", message_id)
        code = 100 if item is None else item.code or OUTCOME_CODES[item.outcome]
        number: object = int(message_id) if message_id.isdigit() else message_id
        entries.append({"messageid": number, "status": code, "statustext": STATES.get(code, "")})
    return envelope(200, entries)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/v1/{apikey}/sms/send.json", send)
    app.router.add_route("*", "/v1/{apikey}/sms/sendarray.json", sendarray)
    app.router.add_route("*", "/v1/{apikey}/sms/status.json", status)
