"""Fake SMS.ir REST API v1, written from https://app.sms.ir/developer/help (apidocs.sms.ir).

::

    POST /v1/send/bulk          JSON {lineNumber, messageText, mobiles, sendDateTime},
                                header X-API-KEY; at most 100 mobiles
    GET  /v1/send/{messageId}   the report: deliveryState, deliveryDateTime (Unix, UTC)

Envelope ``{"status", "message", "data"}`` with HTTP 200 (done), 400 (a logical error),
401 (key and account problems), 429 (too many requests) or 500. ``messageIds`` holds ``0``
for a number on the blacklist and ``null`` for a refused one. The body binds as ASP.NET's
web defaults do (names case-insensitive, numbers also from strings); one that does not bind
gets the RFC 7807 problem answer instead of the envelope.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiohttp import web

from crisisd.sandbox.faults import FaultMode, Faults
from crisisd.sandbox.smsgw_state import (
    SMSGW_STATE,
    Headers,
    bad_field,
    faulted,
    iran_mobile,
    json_object,
    json_response,
)

MAX_MOBILES = 100
MESSAGES: dict[int, str] = {
    0: "مشکلی در سامانه رخ داده است، لطفا با پشتیبانی در تماس باشید",
    1: "موفق",
    10: "کلید وب سرویس نامعتبر است",
    11: "کلید وب سرویس غیرفعال است",
    12: "کلید وب‌سرویس محدود به IP‌های تعریف شده می‌باشد",
    13: "حساب کاربری غیر فعال است",
    14: "حساب کاربری در حالت تعلیق قرار دارد",
    15: "به منظور استفاده از وب سرویس پلن خود را ارتقا دهید",
    16: "مقدار ارسالی پارامتر نادرست میباشد",
    20: "تعداد درخواست بیشتر از حد مجاز است",
    101: "شماره خط نامعتبر میباشد",
    102: "اعتبار کافی نمیباشد",
    103: "درخواست شما دارای متن (های) خالی است",
    104: "درخواست شما دارای موبایل (های) نادرست است",
    105: "تعداد موبایل ها بیشتر از حد مجاز (100 عدد) میباشد",
    106: "تعداد متن ها بیشتر از حد مجاز (100 عدد) میباشد",
    107: "لیست موبایل ها خالی میباشد",
    108: "لیست متن ها خالی میباشد",
    109: "زمان ارسال نامعتبر میباشد",
    110: "تعداد شماره موبایل ها و تعداد متن ها برابر نیستند",
    111: "با این شناسه ارسالی ثبت نشده است",
    112: "رکوردی برای حذف یافت نشد",
    113: "قالب یافت نشد",
    114: "طول رشته مقدار پارامتر، بیش از حد مجاز (25 کاراکتر) میباشد",
    115: "شماره موبایل(ها) در لیست سیاه سامانه میباشند",
    116: "نام یک یا چند پارامتر مقداردهی نشده‌است",
    117: "متن ارسال شده مورد تایید نمیباشد",
    118: "تعداد پیام ها بیش از حد مجاز میباشد",
    119: "به منظور استفاده از قالب‌ شخصی سازی شده پلن خود را ارتقا دهید",
    123: "خط ارسال کننده نیاز به فعال سازی دارد",
    124: "حساب شما فقط امکان ارسال پیامک‌های اعتبارسنجی (OTP) را دارد",
}
# deliveryState of the report: 1 reached the phone, 2 did not, 3 processing at the
# operator, 4 did not reach the operator, 5 reached the operator, 6 error, 7 blacklist.
OUTCOME_CODES = {"delivered": 1, "undelivered": 2, "expired": 2, "pending": 3}
FAULT_CODES = {"error": 0, "rate_limit": 20, "permanent": 10, "no_credit": 102}


def envelope(status: int, data: object = None, headers: Headers = None) -> web.Response:
    text = MESSAGES.get(status, "خطای نامشخص")
    http = 200 if status == 1 else 500 if status == 0 else 401 if 10 <= status <= 14 else 400
    http = 429 if status == 20 else http
    return json_response({"status": status, "message": text, "data": data}, http, headers)


def _fault(_: web.Request, mode: FaultMode, faults: Faults) -> web.Response:
    headers = {"Retry-After": str(faults.retry_after)} if mode == "rate_limit" else None
    return envelope(FAULT_CODES[mode], headers=headers)


def _forced(_: web.Request, code: int) -> web.Response:
    return envelope(code)


def _number(value: object) -> int | None:
    """A JSON number, or a string of digits (ASP.NET's web defaults read both)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _bind(body: dict[str, object]) -> web.Response | None:
    """ASP.NET's model binding: the problem answer when a field has the wrong JSON type."""
    if body.get("linenumber") is not None and _number(body["linenumber"]) is None:
        return bad_field("lineNumber", "The JSON value could not be converted to System.Int64.")
    if body.get("messagetext") is not None and not isinstance(body["messagetext"], str):
        return bad_field("messageText", "The JSON value could not be converted to System.String.")
    mobiles = body.get("mobiles")
    if mobiles is not None and not (
        isinstance(mobiles, list) and all(isinstance(m, str) for m in mobiles)
    ):
        return bad_field("mobiles", "The JSON value could not be converted to List<String>.")
    when = body.get("senddatetime")
    if when is not None and _number(when) is None:
        return bad_field("sendDateTime", "The JSON value could not be converted to Int64.")
    return None


def _bad_time(when: object) -> bool:
    """Documented window for a scheduled send: one hour to 365 days from now."""
    at = _number(when)
    if at is None:
        return False
    now = datetime.now(UTC)
    return not now + timedelta(hours=1) <= datetime.fromtimestamp(at, UTC) <= now + timedelta(365)


@faulted("smsir", _fault, _forced)
async def send_bulk(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    if not state.key_ok("smsir", request.headers.get("X-API-KEY")):
        return envelope(10)
    body, problem = await json_object(request)
    if body is None:
        assert problem is not None
        return problem
    refused = _bind(body)
    if refused is not None:
        return refused
    line, text = _number(body.get("linenumber")) or 0, str(body.get("messagetext") or "")
    raw = body.get("mobiles")
    mobiles = [str(m) for m in raw] if isinstance(raw, list) else []
    if line <= 0:
        return envelope(101)
    if not text.strip():
        return envelope(103)
    if not mobiles:
        return envelope(107)
    state.batches.append(("smsir", len(mobiles)))
    if len(mobiles) > MAX_MOBILES:
        return envelope(105)
    if _bad_time(body.get("senddatetime")):
        return envelope(109)
    phones = [iran_mobile(m) for m in mobiles]
    if all(p is None for p in phones):
        return envelope(104)
    ids: list[int | None] = []
    for phone in phones:
        if phone is None or phone in state.blacklist:
            ids.append(None if phone is None else 0)
            continue
        ids.append(state.accept("smsir", phone, text, str(line), "").id)
    sent = [state.find("smsir", i) for i in ids if i]
    cost = float(sum(s.cost for s in sent if s is not None))
    return envelope(1, {"packId": str(uuid.uuid4()), "messageIds": ids, "cost": cost})


async def report(request: web.Request) -> web.StreamResponse:
    state = request.app[SMSGW_STATE]
    state.requests["smsir.status"] += 1
    if not state.key_ok("smsir", request.headers.get("X-API-KEY")):
        return envelope(10)
    item = state.find("smsir", request.match_info["message_id"])
    if item is None:
        return envelope(111)
    code = item.code if item.code is not None else OUTCOME_CODES[item.outcome]
    data: dict[str, object] = {"messageId": item.id, "mobile": item.to.removeprefix("+98")}
    data |= {"messageText": item.text, "sendDateTime": int(item.at.timestamp())}
    data |= {"lineNumber": int(item.sender), "cost": float(item.cost), "deliveryState": code}
    at = item.outcome_at
    return envelope(1, data | {"deliveryDateTime": int(at.timestamp()) if at else None})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/send/bulk", send_bulk)
    app.router.add_get("/v1/send/{message_id:[^/]+}", report)
