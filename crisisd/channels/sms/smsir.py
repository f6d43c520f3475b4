"""SMS.ir (REST API v1): ``POST {base}/v1/send/bulk`` with header ``X-API-KEY``, JSON.

Reference: https://app.sms.ir/developer/help and https://apidocs.sms.ir (v1 REST: headers
``X-API-KEY`` and ``Accept``; HTTP 200/400/401/429/500; the envelope ``{"status", "message",
"data"}``; "ارسال گروهی" send/bulk; "گزارش" send/{messageId}; the "کدهای وضعیت" and delivery
state tables). Shapes cross-checked with public clients: github.com/YouKnow-sys/smsir
(``src/smsir/models/status.py``), github.com/fstarlike/smsir-agent-skill
(``references/errors.md``, ``sending.md``, ``reports.md``) and github.com/movahhedi/sms-ir-node.

Body ``{"lineNumber": 3000…, "messageText": …, "mobiles": ["9121234567"], "sendDateTime":
null}``: ``lineNumber`` is a number, mobiles go in the short form ``9121234567``.

Answer: ``{"status": 1, "message": "موفق", "data": {"packId": "…", "messageIds": [...],
"cost": …}}``. A ``messageIds`` element is documented as ``0`` for a number on the
blacklist and ``null`` for a refused number or text: neither is a sent message.

Bulk: the same request with up to 100 ``mobiles`` (status 105: "تعداد موبایل ها بیشتر از حد
مجاز (100 عدد)"); ``messageIds`` holds one element per mobile, in the order sent, so each
number's id, ``0`` or ``null`` is its own verdict. 104 ("درخواست شما دارای موبایل (های)
نادرست است") and 115 (blacklist) refuse the list for some number in it: the batch is halved
until that number is sent alone. The rate limit (20, HTTP 429) counts requests
("تعداد درخواست بیشتر از حد مجاز"), so a bulk request is one.

Status: ``GET {base}/v1/send/{messageId}``, one id a call; ``data.deliveryState`` and
``data.deliveryDateTime`` (Unix seconds, UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import quote

from crisisd.channels.base import Failed, SendResult
from crisisd.channels.sms.codes import (
    Delivery,
    Receipt,
    Receipts,
    SendStatusTable,
    code_of,
    delivery_of,
    down,
    field,
    id_of,
    recipient,
    retry,
    sent,
    unix_time,
)
from crisisd.channels.sms.gateway import BulkAnswer, HttpGateway, Reply, Split, short_mobile
from crisisd.channels.sms.gateway import sent as sent_as

SEND_PATH = "/v1/send/bulk"
REPORT_PATH = "/v1/send/{message_id}"
SUCCESS = 1
MAX_MOBILES = 100  # per send/bulk request (status 105)
SPLIT_ON = frozenset({104, 115})  # some mobile in the list is invalid / blacklisted

# The status table of the v1 REST API ("کدهای وضعیت"). Key, account, plan, line and credit
# problems are DOWN; so is 16 (a parameter value refused: crisisd's request is the same for
# every message) and 123 (line not activated), which issue 11 found treated as a bad number.
SEND_STATUS: SendStatusTable = {
    0: retry("server error, try again"),  # مشکلی در سامانه رخ داده است
    1: sent("done"),  # موفق
    10: down("API key invalid"),  # کلید وب سرویس نامعتبر است
    11: down("API key disabled"),  # کلید وب سرویس غیرفعال است
    12: down("API key restricted to other IPs"),  # کلید وب‌سرویس محدود به IPهای تعریف شده
    13: down("account inactive"),  # حساب کاربری غیر فعال است
    14: down("account suspended"),  # حساب کاربری در حالت تعلیق قرار دارد
    15: down("plan upgrade needed for the web service"),  # نیاز به ارتقای پلن
    16: down("a parameter value is invalid"),  # مقدار ارسالی پارامتر نادرست میباشد
    20: retry("too many requests", rate_limit=True),  # تعداد درخواست بیشتر از حد مجاز است
    101: down("sender line invalid"),  # شماره خط نامعتبر میباشد
    102: down("out of credit"),  # اعتبار کافی نمیباشد
    103: recipient("message text empty"),  # درخواست شما دارای متن (های) خالی است
    104: recipient("mobile number invalid"),  # درخواست شما دارای موبایل (های) نادرست است
    105: recipient("more than 100 mobiles"),  # تعداد موبایل ها بیشتر از حد مجاز (100)
    106: recipient("more than 100 texts"),  # تعداد متن ها بیشتر از حد مجاز (100)
    107: recipient("mobile list empty"),  # لیست موبایل ها خالی میباشد
    108: recipient("text list empty"),  # لیست متن ها خالی میباشد
    109: recipient("send time invalid"),  # زمان ارسال نامعتبر میباشد
    110: recipient("mobiles and texts differ in number"),  # تعداد شماره موبایل ها و …
    111: recipient("no send with this id"),  # با این شناسه ارسالی ثبت نشده است
    112: recipient("no record to delete"),  # رکوردی برای حذف یافت نشد
    113: recipient("template not found"),  # قالب یافت نشد
    114: recipient("parameter value longer than 25 characters"),
    115: recipient("mobile number on the blacklist"),  # شماره موبایل(ها) در لیست سیاه
    116: recipient("parameter name empty"),
    117: recipient("text not approved"),  # متن ارسال شده مورد تایید نمیباشد
    118: down("message count over the account's limit"),  # تعداد پیام ها بیش از حد مجاز
    119: down("custom templates need a plan upgrade"),
    123: down("sender line needs activation"),  # خط ارسال کننده نیاز به فعال سازی دارد
    124: down("account may send OTP templates only"),
}

# deliveryState of send/{messageId} (the report's state table; models/status.py).
DELIVERY: Mapping[int, Delivery] = {
    1: Delivery.DELIVERED,  # رسیده به گوشی
    2: Delivery.UNDELIVERED,  # نرسیده به گوشی
    3: Delivery.PENDING,  # پردازش در مخابرات
    4: Delivery.UNDELIVERED,  # نرسیده به مخابرات
    5: Delivery.PENDING,  # رسیده به مخابرات (not yet to the phone)
    6: Delivery.UNDELIVERED,  # خطا
    7: Delivery.UNDELIVERED,  # لیست سیاه
    8: Delivery.UNKNOWN,  # نامشخص
}


class SmsIrGateway(HttpGateway):
    provider = "smsir"
    default_base_url = "https://api.sms.ir"
    receipts_batch = 1  # the report is one message per request

    bulk_max = MAX_MOBILES

    async def _send(self, phone_e164: str, text: str, localid: str) -> SendResult:
        answer = await self._send_bulk([phone_e164], text, [localid])
        if isinstance(answer, Split):  # one number: the list is that number
            return Failed(answer.reason, "recipient")
        return answer[0] if isinstance(answer, Sequence) else answer

    async def _send_bulk(
        self, phones: Sequence[str], text: str, localids: Sequence[str]
    ) -> BulkAnswer:
        key = self.api_key()
        if not key:
            return self.no_key()
        line = self.cfg.sender or ""
        if not line.isdigit():
            return Failed(f"{self.name}: sender must be the numeric SMS.ir line number", "channel")
        body = {
            "lineNumber": int(line),
            "messageText": text,
            "mobiles": [short_mobile(p) for p in phones],
            "sendDateTime": None,
        }
        headers = {"X-API-KEY": key}
        reply = await self.request("POST", self.base_url + SEND_PATH, json=body, headers=headers)
        return self._classify(reply, len(phones))

    def _classify(self, reply: Reply, count: int) -> BulkAnswer:
        data = reply.json_object()
        code = code_of(field(data, "status"))
        if code is None:
            return self.without_envelope(reply)
        ids = field(data, "data", "messageIds")
        if code == SUCCESS and isinstance(ids, list) and len(ids) == count:
            return [self._one(value) for value in ids]
        return self.bulk_verdict(SEND_STATUS, code, field(data, "message"), reply, SPLIT_ON)

    def _one(self, value: object) -> SendResult:
        message_id = id_of(value)
        if message_id is not None:
            return sent_as(self.name, message_id)
        why = "on the blacklist" if value == 0 else "refused"
        return Failed(f"{self.name}: number {why} (no message id)", "recipient")

    async def _receipts(self, message_ids: Sequence[str]) -> Receipts:
        key = self.api_key()
        if not key:
            return Receipts({}, self.no_key().reason)
        [message_id] = message_ids
        url = self.base_url + REPORT_PATH.format(message_id=quote(message_id, safe=""))
        reply = await self.request("GET", url, headers={"X-API-KEY": key})
        data = reply.json_object()
        code = code_of(field(data, "status"))
        report = field(data, "data")
        if code == SUCCESS and isinstance(report, Mapping):
            state = code_of(field(report, "deliveryState"))
            at = unix_time(field(report, "deliveryDateTime"))
            receipt = Receipt(message_id, delivery_of(DELIVERY, state), at, str(state))
            return Receipts({message_id: receipt})
        if code == 111:  # documented: no send with this id
            return Receipts({message_id: Receipt(message_id, Delivery.UNKNOWN, None, "111")})
        why = f"{code} {field(data, 'message') or ''}" if code is not None else "unreadable"
        return Receipts({}, f"{self.name}: report refused ({why.strip()}, HTTP {reply.status})")
